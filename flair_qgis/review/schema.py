"""The review-zones GeoPackage layer's field names and status values: one definition shared by the
`flair:review_zones` algorithm that writes the layer and the review dock that reads and updates it."""

from __future__ import annotations

#: Layer name of the review zones inside their GeoPackage.
REVIEW_LAYER_NAME = "review_zones"

#: 1 = the most urgent zone (largest area x (1 - mean confidence)).
FIELD_RANK = "rank"
#: Zone area in square metres.
FIELD_AREA = "area_m2"
#: Mean confidence of the zone's pixels, 0..1.
FIELD_MEAN_CONFIDENCE = "mean_confidence"
#: Majority predicted class code in the zone.
FIELD_CLASS_CODE = "class_code"
#: Name of that class, in the language QGIS runs in.
FIELD_CLASS_NAME = "class_name"
#: Runner-up class code (second highest mean probability, or second most frequent prediction); NULL if none.
FIELD_RUNNER_UP_CODE = "runner_up_code"
#: Name of the runner-up class; NULL if none.
FIELD_RUNNER_UP_NAME = "runner_up_name"
#: Review status, one of STATUSES.
FIELD_STATUS = "status"
#: ISO 8601 date and time of the last review verdict, NULL while the zone is still to review.
FIELD_REVIEWED_AT = "reviewed_at"
#: Free text left by the reviewer.
FIELD_NOTE = "note"

#: The fields in the order the layer holds them.
REVIEW_FIELDS = (
    FIELD_RANK,
    FIELD_AREA,
    FIELD_MEAN_CONFIDENCE,
    FIELD_CLASS_CODE,
    FIELD_CLASS_NAME,
    FIELD_RUNNER_UP_CODE,
    FIELD_RUNNER_UP_NAME,
    FIELD_STATUS,
    FIELD_REVIEWED_AT,
    FIELD_NOTE,
)

STATUS_TO_REVIEW = "to review"
STATUS_CONFIRMED = "confirmed"
STATUS_CORRECTED = "corrected"
#: Every status a zone can have; new zones start as STATUS_TO_REVIEW.
STATUSES = (STATUS_TO_REVIEW, STATUS_CONFIRMED, STATUS_CORRECTED)
#: The statuses that count as reviewed in the dock's progress.
REVIEWED_STATUSES = (STATUS_CONFIRMED, STATUS_CORRECTED)

#: Layer name of the land-cover polygons written by `flair:polygonize`.
POLYGON_LAYER_NAME = "land_cover"
#: Polygon fields: official class code, English and French class names, area (m²), mean confidence (0..1).
FIELD_CODE = "code"
FIELD_CLASS_EN = "class_en"
FIELD_CLASS_FR = "class_fr"
POLYGON_FIELDS = (FIELD_CODE, FIELD_CLASS_EN, FIELD_CLASS_FR, FIELD_AREA, FIELD_MEAN_CONFIDENCE)

#: Layer name of a reviewer's corrections inside `<map>.corrections.gpkg`.
CORRECTIONS_LAYER_NAME = "corrections"
#: Correction fields: the right class code (FIELD_CODE, 1..255 of the map's nomenclature), who drew it and
#: when (ISO 8601), a note, and where the polygon came from (one of ORIGINS).
FIELD_AUTHOR = "author"
FIELD_DATE = "date"
FIELD_ORIGIN = "origin"
CORRECTION_FIELDS = (FIELD_CODE, FIELD_AUTHOR, FIELD_DATE, FIELD_NOTE, FIELD_ORIGIN)
ORIGIN_DRAWN = "drawn"
ORIGIN_POLYGON = "land-cover polygon"
ORIGIN_ZONE = "review zone"
ORIGINS = (ORIGIN_DRAWN, ORIGIN_POLYGON, ORIGIN_ZONE)
#: Review-zone field (added when first needed) holding the fid of the correction a zone was corrected by.
FIELD_CORRECTION = "correction_fid"
