"""The Processing algorithm `flair:review_zones`: the ranked queue of low-confidence zones of a FLAIR
result, as a GeoPackage the review dock steps through."""

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


class ReviewZonesAlgorithm(ReviewAlgorithm):
    """Zones to review (GeoPackage) from a FLAIR class raster and its confidence."""

    CLASSES = "CLASSES"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    THRESHOLD = "THRESHOLD"
    MIN_AREA = "MIN_AREA"
    OUTPUT = "OUTPUT"
    ZONES = "ZONES"
    AREA = "AREA"
    anchor = "processing-flairreview_zones"

    def name(self) -> str:
        return "review_zones"

    def displayName(self) -> str:
        return tr("Zones to review (low confidence)")

    def shortHelpString(self) -> str:
        return tr(
            "Builds the review queue of a FLAIR result: the connected regions (pixels joined by their "
            "sides) whose confidence is under the threshold, of at least the minimum area, ranked by "
            "area x (1 - mean confidence): rank 1 is the most urgent.<br>"
            "Fields: rank, area_m2 (m²), mean_confidence (0..1), class_code / class_name (the class "
            "predicted on most of the zone), runner_up_code / runner_up_name (with the probabilities "
            "raster: the other class of highest mean probability; without it: the second most "
            "predicted class, empty if none), status ('to review', 'confirmed', 'corrected'), "
            "reviewed_at (ISO date and time) and note, for the review dock."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.add_class_raster_parameter()
        self.addParameter(
            with_help(
                QgsProcessingParameterRasterLayer(self.CONFIDENCE, tr("Confidence raster")),
                tr("The map's confidence raster (map.confidence.tif), on the same grid."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterRasterLayer(
                    self.PROBABILITIES, tr("Class probabilities (for the runner-up class)"), optional=True
                ),
                tr("The map's probabilities raster (map.probabilities.tif), on the same grid."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterNumber(
                    self.THRESHOLD,
                    tr("Confidence threshold (0..1)"),
                    QgsProcessingParameterNumber.Type.Double,
                    0.5,
                    minValue=0.0,
                    maxValue=1.0,
                ),
                tr(
                    "Pixels whose confidence (probability of the mapped class) is under this value need a look."
                ),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterNumber(
                    self.MIN_AREA,
                    tr("Minimum zone area (m²)"),
                    QgsProcessingParameterNumber.Type.Double,
                    20.0,
                    minValue=0.0,
                ),
                tr(
                    "Low-confidence regions smaller than this (square metres) are left out; 0 keeps them all."
                ),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterVectorDestination(
                    self.OUTPUT, tr("Zones to review"), QgsProcessing.SourceType.TypeVectorPolygon
                ),
                tr("A GeoPackage (.gpkg) file; its layer is called review_zones."),
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.ZONES, tr("Number of zones")))
        self.addOutput(QgsProcessingOutputNumber(self.AREA, tr("Area of the zones (m²)")))

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..adapters.styling import qgis_language
        from ..review.vector_style import review_renderer, vector_post_processor
        from ..review.zones import review_zones

        classes = raster_path(self, parameters, self.CLASSES, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        summary = run_review(
            feedback,
            review_zones,
            classes=classes,
            confidence=raster_path(self, parameters, self.CONFIDENCE, context),
            output=output,
            probabilities=raster_path(self, parameters, self.PROBABILITIES, context),
            threshold=self.parameterAsDouble(parameters, self.THRESHOLD, context),
            min_area_m2=self.parameterAsDouble(parameters, self.MIN_AREA, context),
            language=qgis_language(),
        )
        if summary is None:
            return {}
        for warning in summary.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            tr("{count} zones to review ({area:.0f} m²) written to {path}").format(
                count=summary.zones, area=summary.area_m2, path=output
            )
        )
        if context.willLoadLayerOnCompletion(output):
            name = tr("{name} zones to review").format(name=Path(classes).stem)
            details = context.layerToLoadOnCompletionDetails(output)
            details.name = name
            details.setPostProcessor(vector_post_processor(review_renderer, name))
        return {self.OUTPUT: output, self.ZONES: summary.zones, self.AREA: summary.area_m2}
