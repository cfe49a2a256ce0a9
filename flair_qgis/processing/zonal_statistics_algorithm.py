"""The Processing algorithm `flair:zonal_statistics`: hectares and percent of each land-cover class inside
every polygon of a vector layer, as new columns of those polygons."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureSink,
    QgsFields,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
)

from ..adapters.compat import decimal_field
from .review_base import ReviewAlgorithm, raster_path, tr, with_help

CLASSIFIED_FIELD = "classified_ha"


class ZonalStatisticsAlgorithm(ReviewAlgorithm):
    """Per-class hectares and percent inside each polygon."""

    INPUT = "INPUT"
    CLASSES = "CLASSES"
    OUTPUT = "OUTPUT"
    anchor = "processing-flairzonal_statistics"

    def name(self) -> str:
        return "zonal_statistics"

    def displayName(self) -> str:
        return tr("Land-cover statistics per polygon")

    def shortHelpString(self) -> str:
        return tr(
            "Measures the land cover of a FLAIR class raster inside every polygon of a vector layer "
            "(parcels, communes, study areas). The output keeps the polygons and their attributes and "
            "adds one pair of columns per class of the map's nomenclature: ha_<class> (hectares) and "
            "pct_<class> (percent of the polygon's classified area), e.g. ha_building, pct_building; and "
            "classified_ha, the polygon's classified area in hectares. A pixel counts when its centre "
            "lies in the polygon; overlapping polygons are each measured in full."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.addParameter(
            with_help(
                QgsProcessingParameterFeatureSource(
                    self.INPUT, tr("Polygons"), [QgsProcessing.SourceType.TypeVectorPolygon]
                ),
                tr("The polygons to measure, in any CRS (reprojected to the map's)."),
            )
        )
        self.add_class_raster_parameter()
        self.addParameter(
            with_help(
                QgsProcessingParameterFeatureSink(
                    self.OUTPUT, tr("Land-cover statistics"), QgsProcessing.SourceType.TypeVectorPolygon
                ),
                tr("The polygons with ha_<class> (hectares) and pct_<class> (%) columns."),
            )
        )

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..review.raster_blocks import Cancelled, bounded_gdal_cache
        from ..review.result import ResultError, read_class_result
        from ..review.zonal import ZonalCounter, class_field_suffix

        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(tr("The polygon layer cannot be opened."))
        try:
            result = read_class_result(raster_path(self, parameters, self.CLASSES, context))
        except ResultError as exc:
            raise QgsProcessingException(str(exc)) from exc
        classes = result.nomenclature.classes
        fields = QgsFields(source.fields())
        taken = {field.name().lower() for field in fields}
        added = [CLASSIFIED_FIELD] + [
            f"{prefix}_{class_field_suffix(cls.name)}" for cls in classes for prefix in ("ha", "pct")
        ]
        clashes = sorted(name for name in added if name.lower() in taken)
        if clashes:
            raise QgsProcessingException(
                tr("The polygon layer already has the fields {names}: rename or drop them first.").format(
                    names=", ".join(clashes)
                )
            )
        for name in added:
            fields.append(decimal_field(name))
        sink, destination = self.parameterAsSink(
            parameters, self.OUTPUT, context, fields, source.wkbType(), source.sourceCrs()
        )
        if sink is None:
            raise QgsProcessingException(tr("The output layer cannot be created."))
        transform = QgsCoordinateTransform(
            source.sourceCrs(), QgsCoordinateReferenceSystem(result.grid.crs_wkt), context.transformContext()
        )
        hectares_per_pixel = result.grid.pixel_area_m2 / 10_000
        total = source.featureCount() or 1
        empty = 0
        with bounded_gdal_cache():
            counter = ZonalCounter(result)
            for number, feature in enumerate(source.getFeatures()):
                if feedback.isCanceled():
                    return {}
                geometry = feature.geometry()
                counts = None
                if not geometry.isNull():
                    geometry.transform(transform)
                    try:
                        counts = counter.counts(bytes(geometry.asWkb()), feedback.isCanceled)
                    except Cancelled:
                        return {}
                values = _class_values(counts, classes, hectares_per_pixel)
                if values[0] == 0:
                    empty += 1
                out = QgsFeature(fields)
                out.setGeometry(feature.geometry())
                out.setAttributes(list(feature.attributes()) + values)
                sink.addFeature(out, QgsFeatureSink.Flag.FastInsert)
                feedback.setProgress(100.0 * (number + 1) / total)
        if empty:
            feedback.pushWarning(
                tr(
                    "{count} polygon(s) hold no classified pixel of the map (outside it, or smaller than a pixel)."
                ).format(count=empty)
            )
        return {self.OUTPUT: destination}


def _class_values(counts, classes, hectares_per_pixel: float) -> list[float]:
    """[classified_ha, ha_<class 1>, pct_<class 1>, ...] from the pixel counts of one polygon."""
    if counts is None:
        return [0.0] + [0.0, 0.0] * len(classes)
    classified = int(sum(int(counts[cls.code]) for cls in classes))
    values = [classified * hectares_per_pixel]
    for cls in classes:
        pixels = int(counts[cls.code])
        values += [pixels * hectares_per_pixel, 100.0 * pixels / classified if classified else 0.0]
    return values
