"""The Processing algorithm `flair:apply_corrections`: a reviewer's correction polygons burnt into a copy of
a FLAIR class raster (see flair_qgis/review/corrections.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSource,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterRasterDestination,
)

from .review_base import ReviewAlgorithm, raster_path, run_review, tr, with_help


class ApplyCorrectionsAlgorithm(ReviewAlgorithm):
    """A corrected copy of a land-cover map."""

    CLASSES = "CLASSES"
    CORRECTIONS = "CORRECTIONS"
    OUTPUT = "OUTPUT"
    CHANGED = "CHANGED_PIXELS"
    anchor = "processing-flairapply_corrections"

    def name(self) -> str:
        return "apply_corrections"

    def displayName(self) -> str:
        return tr("Apply corrections to a land-cover map")

    def shortHelpString(self) -> str:
        return tr(
            "Burns a reviewer's correction polygons into a copy of a FLAIR class raster: every pixel whose "
            "centre lies in a correction takes the correction's class (its 'code' field); where corrections "
            "overlap, the latest (by its 'date' field, then by its order) wins; nothing outside them changes. "
            "The copy keeps the map's colours, class names and nodata; the original map is not modified. "
            "Corrections in another CRS are reprojected. A correction with a code outside the map's classes "
            "or a polygon that crosses itself stops the run with its id; empty ones and those outside the "
            "map are left out with a warning."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.add_class_raster_parameter()
        self.addParameter(
            with_help(
                QgsProcessingParameterFeatureSource(
                    self.CORRECTIONS, tr("Corrections"), [QgsProcessing.SourceType.TypeVectorPolygon]
                ),
                tr("Polygons with the right class in an integer 'code' field (e.g. map.corrections.gpkg)."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterRasterDestination(self.OUTPUT, tr("Corrected land-cover map")),
                tr("A new GeoTIFF (.tif); written under a temporary name and put in place once complete."),
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.CHANGED, tr("Pixels changed")))

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..adapters.styling import post_processor
        from ..core.errors import FlairError
        from ..review import schema
        from ..review.corrections import Correction, apply_corrections
        from ..review.result import read_class_result

        classes = raster_path(self, parameters, self.CLASSES, context)
        source = self.parameterAsSource(parameters, self.CORRECTIONS, context)
        if source is None:
            raise QgsProcessingException(tr("The corrections layer cannot be opened."))
        fields = source.fields()
        if fields.indexOf(schema.FIELD_CODE) < 0:
            raise QgsProcessingException(
                tr("The corrections have no 'code' field: it holds the right class of each polygon.")
            )
        try:
            result = read_class_result(classes)
        except FlairError as exc:  # not a FLAIR map: said before the corrections are read
            raise QgsProcessingException(str(exc)) from exc
        map_crs = QgsCoordinateReferenceSystem.fromWkt(result.grid.crs_wkt)
        transform = None
        if source.sourceCrs().isValid() and source.sourceCrs() != map_crs:
            transform = QgsCoordinateTransform(source.sourceCrs(), map_crs, context.transformContext())
            feedback.pushWarning(
                tr("The corrections are in {source}, the map in {target}: they are reprojected.").format(
                    source=source.sourceCrs().authid(), target=map_crs.authid()
                )
            )
        has_date = fields.indexOf(schema.FIELD_DATE) >= 0
        corrections = []
        # Invalid polygons are refused below with their ids and what to do, not by Processing's generic check.
        features = source.getFeatures(
            QgsFeatureRequest(), QgsProcessingFeatureSource.Flag.FlagSkipGeometryValidityChecks
        )
        for feature in features:
            geometry = feature.geometry()
            if transform is not None and not geometry.isEmpty():
                geometry.transform(transform)
            code = feature[schema.FIELD_CODE]
            date = feature[schema.FIELD_DATE] if has_date else ""
            corrections.append(
                Correction(
                    feature.id(),
                    int(code) if isinstance(code, int) or str(code).lstrip("-").isdigit() else -1,
                    bytes(geometry.asWkb()) if not geometry.isEmpty() else b"",
                    str(date) if date not in (None, "") and not _is_null(date) else "",
                )
            )
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        summary = run_review(
            feedback, apply_corrections, classes=classes, corrections=corrections, output=output
        )
        if summary is None:
            return {}
        for warning in summary.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            tr(
                "{count} corrections applied: {pixels} pixels ({area:.1f} m²) changed, written to {path}"
            ).format(
                count=summary.corrections, pixels=summary.changed_pixels, area=summary.changed_m2, path=output
            )
        )
        if context.willLoadLayerOnCompletion(output):
            name = tr("{name} corrected").format(name=Path(classes).stem)
            context.layerToLoadOnCompletionDetails(output).setPostProcessor(
                post_processor(result.nomenclature, name)
            )
        return {self.OUTPUT: output, self.CHANGED: summary.changed_pixels}


def _is_null(value: Any) -> bool:
    return hasattr(value, "isNull") and value.isNull()
