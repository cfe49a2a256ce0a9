"""The Processing algorithm `flair:export_training_patches`: a reviewer's corrections as FLAIR #2 training
patches (see flair_qgis/review/training_patches.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from .aerial_parameters import SENTINEL2, add_aerial_parameters, add_sentinel2_parameter, aerial_band_sources
from .review_base import ReviewAlgorithm, raster_path, run_review, tr, with_help


class ExportTrainingPatchesAlgorithm(ReviewAlgorithm):
    """Corrections -> FLAIR #2 patches for fine-tuning."""

    CLASSES = "CLASSES"
    CORRECTIONS = "CORRECTIONS"
    SENTINEL2 = SENTINEL2
    BUNDLE = "BUNDLE"
    CONFIDENCE = "CONFIDENCE"
    CONFIDENT = "CONFIDENT"
    AERIAL_DATE = "AERIAL_DATE"
    OUTPUT = "OUTPUT"
    PATCHES = "PATCHES"
    anchor = "processing-flairexport_training_patches"

    def __init__(self) -> None:
        super().__init__()
        self._aerial: list[tuple[Any, int]] = []

    def name(self) -> str:
        return "export_training_patches"

    def displayName(self) -> str:
        return tr("Export training patches from corrections")

    def shortHelpString(self) -> str:
        return tr(
            "Turns a reviewer's corrections of a FLAIR map into training data in the FLAIR #2 layout the "
            "training package reads (flair-train fit): 5-band aerial patches of the model's tile size, "
            "labels from the corrections (the latest wins where they overlap), and, only when a confidence "
            "is given, the map's predictions at least that confident elsewhere; other pixels are labelled 0, "
            "which training ignores. Give the aerial layers, Sentinel-2 folder and model bundle the map was "
            "made with. Each zone's Sentinel-2 super-area is read as a run reads it; a manifest.json lists "
            "the sources and the labelled pixels per class. The output folder must be new or empty."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.add_class_raster_parameter(tr("The class raster the corrections correct (e.g. map.tif)."))
        self.addParameter(
            with_help(
                QgsProcessingParameterVectorLayer(
                    self.CORRECTIONS, tr("Corrections"), [QgsProcessing.SourceType.TypeVectorPolygon]
                ),
                tr("A file of polygons with the right class in a 'code' field (e.g. map.corrections.gpkg)."),
            )
        )
        add_aerial_parameters(self)
        add_sentinel2_parameter(
            self,
            tr("The folder of acquisitions the map was made with; each zone's super-area is read from it."),
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterFile(
                    self.BUNDLE, tr("Model bundle the map was made with (.onnx)"), extension="onnx"
                ),
                tr("Its bands, pixel size and tile size shape the patches, as they shaped the run."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterRasterLayer(
                    self.CONFIDENCE, tr("Confidence raster of the map"), optional=True
                ),
                tr("The map's .confidence.tif; needed only to label confident predictions too."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterNumber(
                    self.CONFIDENT,
                    tr("Also label predictions at least this confident (0..1; empty: corrections only)"),
                    QgsProcessingParameterNumber.Type.Double,
                    optional=True,
                    minValue=0.0,
                    maxValue=1.0,
                ),
                tr("e.g. 0.9: pixels the model got right with confidence keep the patch's context."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterString(
                    self.AERIAL_DATE, tr("Date of the aerial image (YYYY-MM-DD)"), optional=True
                ),
                tr("Written into each patch's aerial metadata, for models that use it."),
            )
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterFolderDestination(self.OUTPUT, tr("Training dataset folder")),
                tr("A new or empty folder; the dataset appears in it only once complete."),
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.PATCHES, tr("Patches written")))

    def prepareAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> bool:
        """In the main thread: the aerial layers as sources the worker can read."""
        from ..core.bundle import load_bundle
        from ..core.errors import FlairError

        try:
            spec = load_bundle(self.parameterAsFile(parameters, self.BUNDLE, context)).spec
        except FlairError as exc:
            raise QgsProcessingException(str(exc)) from exc
        self._aerial = aerial_band_sources(self, parameters, context, spec.aerial)
        return True

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from qgis.core import QgsExpressionContextUtils

        from ..review.training_patches import PatchExport, export_training_patches

        corrections = self.parameterAsVectorLayer(parameters, self.CORRECTIONS, context)
        if corrections is None or corrections.providerType() != "ogr":
            raise QgsProcessingException(
                tr(
                    "The corrections must be a file (e.g. map.corrections.gpkg): save the layer to a file first."
                )
            )
        path, _, options = corrections.source().partition("|")
        layer_name = dict(item.split("=", 1) for item in options.split("|") if "=" in item).get("layername")
        confident = parameters.get(self.CONFIDENT)
        sentinel2 = self.parameterAsFile(parameters, self.SENTINEL2, context)
        confidence = raster_path(self, parameters, self.CONFIDENCE, context)
        request = PatchExport(
            classes=Path(raster_path(self, parameters, self.CLASSES, context)),
            corrections=Path(path),
            corrections_layer=layer_name,
            aerial=self._aerial,
            bundle=Path(self.parameterAsFile(parameters, self.BUNDLE, context)),
            out=Path(self.parameterAsString(parameters, self.OUTPUT, context)),
            sentinel2=Path(sentinel2) if sentinel2 else None,
            confidence=Path(confidence) if confidence else None,
            confident=None
            if confident in (None, "")
            else self.parameterAsDouble(parameters, self.CONFIDENT, context),
            author=str(QgsExpressionContextUtils.globalScope().variable("user_full_name") or ""),
            aerial_date=self.parameterAsString(parameters, self.AERIAL_DATE, context).strip(),
        )
        summary = run_review(feedback, lambda **kw: export_training_patches(request, **kw))
        if summary is None:
            return {}
        for warning in summary.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            tr("{patches} training patches in {zones} zone(s) written to {out}").format(
                patches=summary.patches, zones=summary.zones, out=summary.out
            )
        )
        return {self.OUTPUT: str(summary.out), self.PATCHES: summary.patches}
