"""The Processing algorithm `flair:polygonize`: a FLAIR class raster to land-cover polygons with a minimum
mapping unit, optional topology-keeping simplification, class names, area and mean confidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from .review_base import ReviewAlgorithm, raster_path, run_review, tr, with_help


class PolygonizeAlgorithm(ReviewAlgorithm):
    """Land-cover polygons (GeoPackage) from a FLAIR class raster."""

    CLASSES = "CLASSES"
    CONFIDENCE = "CONFIDENCE"
    MMU = "MMU"
    SIMPLIFY = "SIMPLIFY"
    OUTPUT = "OUTPUT"
    POLYGONS = "POLYGONS"
    anchor = "processing-flairpolygonize"

    def name(self) -> str:
        return "polygonize"

    def displayName(self) -> str:
        return tr("Land-cover polygons (minimum mapping unit)")

    def shortHelpString(self) -> str:
        return tr(
            "Turns a FLAIR class raster into a GeoPackage of land-cover polygons: one polygon per connected "
            "region of one class (pixels joined by their sides).<br>"
            "<b>Minimum mapping unit</b>: every region smaller than it is merged into its largest "
            "neighbouring region (GDAL's sieve filter), so the polygons cover the map without holes. "
            "0 keeps every region.<br>"
            "<b>Simplification</b>: boundaries are simplified edge by edge, each edge shared by two "
            "neighbours simplified once, so neighbours still meet without gap or overlap.<br>"
            "Fields: code, class_en, class_fr, area_m2 (m²), mean_confidence (0..1, when the confidence "
            "raster is given). Loaded with the official palette, which is also stored in the GeoPackage."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.add_class_raster_parameter(
            tr("The class raster written by the FLAIR algorithm (e.g. map.tif, with map.tif.aux.xml).")
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterRasterLayer(
                    self.CONFIDENCE, tr("Confidence raster (for the mean confidence)"), optional=True
                ),
                tr(
                    "The map's confidence raster (map.confidence.tif), on the same grid; gives mean_confidence."
                ),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterNumber(
                    self.MMU,
                    tr("Minimum mapping unit (m²)"),
                    QgsProcessingParameterNumber.Type.Double,
                    50.0,
                    minValue=0.0,
                ),
                tr(
                    "Regions smaller than this area (square metres) are merged into their largest neighbour. "
                    "0 keeps every region; otherwise it must be at least one pixel (0.04 m² at 0.2 m)."
                ),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterNumber(
                    self.SIMPLIFY,
                    tr("Boundary simplification tolerance (m, 0: pixel outlines)"),
                    QgsProcessingParameterNumber.Type.Double,
                    0.0,
                    minValue=0.0,
                ),
                tr(
                    "Douglas-Peucker tolerance in metres for the shared boundaries; 0 keeps the pixel "
                    "staircase outlines. Neighbours keep sharing their simplified edges."
                ),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterVectorDestination(
                    self.OUTPUT, tr("Land-cover polygons"), QgsProcessing.SourceType.TypeVectorPolygon
                ),
                tr("A GeoPackage (.gpkg) file; its layer is called land_cover."),
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.POLYGONS, tr("Number of polygons")))

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..adapters.styling import qgis_language
        from ..review.polygonize import polygonize_result
        from ..review.vector_style import polygon_renderer, vector_post_processor

        classes = raster_path(self, parameters, self.CLASSES, context)
        confidence = raster_path(self, parameters, self.CONFIDENCE, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        language = qgis_language()
        summary = run_review(
            feedback,
            polygonize_result,
            classes=classes,
            output=output,
            confidence=confidence,
            mmu_m2=self.parameterAsDouble(parameters, self.MMU, context),
            simplify_m=self.parameterAsDouble(parameters, self.SIMPLIFY, context),
            language=language,
        )
        if summary is None:
            return {}
        for warning in summary.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            tr("{count} polygons written to {path}").format(count=summary.polygons, path=output)
        )
        if context.willLoadLayerOnCompletion(output):
            from ..review.result import read_class_result

            nomenclature = read_class_result(classes).nomenclature
            name = tr("{name} polygons").format(name=Path(classes).stem)
            details = context.layerToLoadOnCompletionDetails(output)
            details.name = name
            details.setPostProcessor(
                vector_post_processor(lambda: polygon_renderer(nomenclature, language), name)
            )
        return {self.OUTPUT: output, self.POLYGONS: summary.polygons}
