"""The Processing algorithm `flair:landcover`: the whole prediction from the toolbox, in batch mode, in
graphical models and through `qgis_process`."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBand,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QIcon

from .. import settings
from ..paths import resource

DEVICES = ("auto", "gpu", "cpu")
DEVICE_LABELS = ("Automatic (GPU when available)", "GPU", "CPU")


class LandCoverAlgorithm(QgsProcessingAlgorithm):
    """Land cover (FLAIR U-T&T): a class raster, optional confidence and probabilities, statistics."""

    AERIAL = "AERIAL"
    RED_BAND = "RED_BAND"
    GREEN_BAND = "GREEN_BAND"
    BLUE_BAND = "BLUE_BAND"
    NIR_LAYER = "NIR_LAYER"
    NIR_BAND = "NIR_BAND"
    ELEVATION_LAYER = "ELEVATION_LAYER"
    ELEVATION_BAND = "ELEVATION_BAND"
    SENTINEL2 = "SENTINEL2"
    BUNDLE = "BUNDLE"
    EXTENT = "EXTENT"
    AREA = "AREA"
    DEVICE = "DEVICE"
    OVERLAP = "OVERLAP"
    BATCH_SIZE = "BATCH_SIZE"
    OUTPUT = "OUTPUT"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    STATISTICS = "STATISTICS"

    def __init__(self) -> None:
        super().__init__()
        self._aerial: list[tuple[Any, int]] = []
        self._area = None
        self._spec = None

    def name(self) -> str:
        return "landcover"

    def displayName(self) -> str:
        return "Land cover (FLAIR U-T&T)"

    def shortHelpString(self) -> str:
        return (
            "Maps land cover (FLAIR #2 classes) from an aerial image (R, G, B, NIR, elevation) and a folder "
            "of Sentinel-2 acquisitions with a model bundle (.onnx) run by ONNX Runtime.<br>"
            "Bands: R, G, B come from the aerial layer; NIR and elevation from their own layers when given "
            "(band 1 unless set), else from bands 4 and 5 of the aerial layer.<br>"
            "Area: the extent, else the polygons of the area layer (selected ones when 'selected features "
            "only' is ticked), else the whole aerial layer."
        )

    def icon(self) -> QIcon:
        return QIcon(str(resource("icon.svg")))

    def createInstance(self) -> LandCoverAlgorithm:
        return LandCoverAlgorithm()

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.AERIAL, "Aerial image"))
        for key, label, default in (
            (self.RED_BAND, "Red band", 1),
            (self.GREEN_BAND, "Green band", 2),
            (self.BLUE_BAND, "Blue band", 3),
        ):
            # Optional so that callers (qgis_process, models) may leave out the usual 1, 2, 3.
            self.addParameter(QgsProcessingParameterBand(key, label, default, self.AERIAL, optional=True))
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.NIR_LAYER, "Near-infrared layer (default: band 4 of the aerial image)", optional=True
            )
        )
        self.addParameter(_band_number(self.NIR_BAND, "Near-infrared band (0: automatic)"))
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.ELEVATION_LAYER, "Elevation layer (default: band 5 of the aerial image)", optional=True
            )
        )
        self.addParameter(_band_number(self.ELEVATION_BAND, "Elevation band (0: automatic)"))
        self.addParameter(
            QgsProcessingParameterFile(
                self.SENTINEL2,
                "Sentinel-2 folder (not needed by aerial-only models)",
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.BUNDLE, "Model bundle (.onnx)", extension="onnx", defaultValue=settings.bundle() or None
            )
        )
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Extent", optional=True))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.AREA, "Area polygons", [QgsProcessing.TypeVectorPolygon], optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(self.DEVICE, "Device", options=list(DEVICE_LABELS), defaultValue=0)
        )
        overlap = QgsProcessingParameterNumber(
            self.OVERLAP,
            "Overlap between tiles (px; empty: an eighth of a tile)",
            QgsProcessingParameterNumber.Integer,
            optional=True,
            minValue=0,
        )
        batch = QgsProcessingParameterNumber(
            self.BATCH_SIZE, "Batch size (tiles)", QgsProcessingParameterNumber.Integer, 4, minValue=1
        )
        for parameter in (overlap, batch):
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Land cover"))
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.CONFIDENCE, "Confidence", optional=True, createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.PROBABILITIES, "Class probabilities", optional=True, createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.STATISTICS, "Statistics", "CSV files (*.csv)", optional=True, createByDefault=False
            )
        )

    def prepareAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> bool:
        """In the main thread: read the bundle and turn the chosen layers into sources the worker can read
        (file paths, or cloned providers)."""
        _require_dependencies()
        from ..core.bundle import load_bundle
        from ..core.errors import FlairError

        try:
            self._spec = load_bundle(self.parameterAsFile(parameters, self.BUNDLE, context)).spec
            self._area = self._area_of_interest(parameters, context)
        except FlairError as exc:
            raise QgsProcessingException(str(exc)) from exc
        self._aerial = self._band_sources(parameters, context)
        return True

    def _band_sources(
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> list[tuple[Any, int]]:
        from ..bands import engine_bands
        from ..sources import band_count, layer_sources

        spec = self._spec.aerial
        aerial = self.parameterAsRasterLayer(parameters, self.AERIAL, context)
        if aerial is None:
            raise QgsProcessingException("The aerial image is missing or cannot be opened")
        layers = {aerial.id(): aerial}
        mapping = {
            "red": (aerial.id(), self.parameterAsInt(parameters, self.RED_BAND, context)),
            "green": (aerial.id(), self.parameterAsInt(parameters, self.GREEN_BAND, context)),
            "blue": (aerial.id(), self.parameterAsInt(parameters, self.BLUE_BAND, context)),
        }
        for name, layer_key, band_key, fallback in (
            ("nir", self.NIR_LAYER, self.NIR_BAND, 4),
            ("elevation", self.ELEVATION_LAYER, self.ELEVATION_BAND, 5),
        ):
            layer = self.parameterAsRasterLayer(parameters, layer_key, context)
            band = self.parameterAsInt(parameters, band_key, context)
            if layer is not None:
                layers[layer.id()] = layer
                mapping[name] = (layer.id(), band or 1)
            else:
                mapping[name] = (aerial.id(), band or fallback)
        for name in spec.bands:
            layer_id, band = mapping[name]
            layer: QgsRasterLayer = layers[layer_id]
            if not 1 <= band <= band_count(layer):
                raise QgsProcessingException(
                    f"The model needs a {name} band: band {band} of '{layer.name()}' does not exist "
                    f"(it has {band_count(layer)}). Give the {name} layer or band."
                )
        used = {mapping[name][0]: layers[mapping[name][0]] for name in spec.bands}
        project_crs = context.project().crs() if context.project() is not None else None
        try:
            sources = layer_sources(used, spec.gsd, self._area, project_crs)
        except ValueError as exc:
            raise QgsProcessingException(f"{exc} (EXTENT or AREA)") from exc
        return engine_bands(mapping, spec.bands, sources)

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..core.errors import FlairError
        from ..core.predict import PredictionRequest, predict
        from ..report import statistics_text
        from ..styling import post_processor, qgis_language

        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        confidence = self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context)
        probabilities = self.parameterAsOutputLayer(parameters, self.PROBABILITIES, context)
        statistics = self.parameterAsFileOutput(parameters, self.STATISTICS, context)
        overlap = parameters.get(self.OVERLAP)
        request = PredictionRequest(
            aerial=self._aerial,
            bundle=self.parameterAsFile(parameters, self.BUNDLE, context),
            output=output,
            sentinel2=self.parameterAsFile(parameters, self.SENTINEL2, context) or None,
            area=self._area,
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            overlap=None if overlap in (None, "") else self.parameterAsInt(parameters, self.OVERLAP, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            confidence=bool(confidence),
            probabilities=bool(probabilities),
            # Each output is written at the path chosen for it. Processing's dialog asked before a chosen
            # path is replaced; the files written beside the map (style, statistics) are replaced only
            # when this program wrote them (OutputOptions.replace_named_only).
            destinations={
                "confidence": confidence,
                "probabilities": probabilities,
                "statistics_csv": statistics,
            },
            language=qgis_language(),
        )
        try:
            with _termination_cancels(feedback):
                result = predict(request, progress=_progress(feedback), is_cancelled=feedback.isCanceled)
        except FlairError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for warning in result.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            f"ONNX Runtime ran on {result.provider}: {result.tiles} tiles in {result.seconds:.1f} s"
        )
        feedback.pushInfo(statistics_text(result.statistics))

        outputs = {self.OUTPUT: str(result.class_raster)}
        nomenclature = self._spec.nomenclature
        title = Path(result.class_raster).stem  # layer names tell runs apart
        _style_on_load(context, outputs[self.OUTPUT], post_processor(nomenclature, f"{title} - classes"))
        if confidence and result.confidence is not None:
            outputs[self.CONFIDENCE] = str(result.confidence)
            _style_on_load(context, outputs[self.CONFIDENCE], post_processor(None, f"{title} - confidence"))
        if probabilities and result.probabilities is not None:
            outputs[self.PROBABILITIES] = str(result.probabilities)
        if statistics and result.statistics_csv is not None:
            outputs[self.STATISTICS] = str(result.statistics_csv)
        return outputs

    def _area_of_interest(self, parameters: dict[str, Any], context: QgsProcessingContext):
        """The area of interest: the extent if given, else the area layer's polygons, else None."""
        from ..core.aerial import AreaOfInterest

        if parameters.get(self.EXTENT):
            extent = self.parameterAsExtent(parameters, self.EXTENT, context)
            if not extent.isNull():  # an empty (zero-width) extent is refused by from_bounds
                crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
                bounds = (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
                return AreaOfInterest.from_bounds(bounds, crs.toWkt())
        source = self.parameterAsSource(parameters, self.AREA, context)
        if source is None:
            return None
        request = QgsFeatureRequest().setNoAttributes()
        geometries = [f.geometry() for f in source.getFeatures(request) if f.hasGeometry()]
        polygons = [g for g in geometries if g.type() == QgsWkbTypes.PolygonGeometry]
        if not polygons:
            raise QgsProcessingException("The area layer has no polygon (or none is selected)")
        union = QgsGeometry.unaryUnion(polygons)
        return AreaOfInterest.from_wkt(union.asWkt(), source.sourceCrs().toWkt())


@contextlib.contextmanager
def _termination_cancels(feedback: QgsProcessingFeedback) -> Iterator[None]:
    """In `qgis_process` (the algorithm on its main thread, in a process of its own), SIGTERM and SIGHUP
    cancel the run as the Cancel button does: nothing is left at the outputs. Elsewhere (QGIS desktop,
    a worker thread) the signals are left alone."""
    if (
        QgsApplication.platform() != "qgis_process"
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def cancel(number: int, frame: object) -> None:
        feedback.cancel()

    numbers = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {number: signal.signal(number, cancel) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _band_number(key: str, label: str) -> QgsProcessingParameterNumber:
    return QgsProcessingParameterNumber(
        key, label, QgsProcessingParameterNumber.Integer, 0, optional=True, minValue=0
    )


def _require_dependencies() -> None:
    from ..dependencies import (
        default_target,
        manual_steps,
        missing_dependencies,
        python_interpreter,
        requirements,
    )

    missing = missing_dependencies()
    if missing:
        packages = requirements(missing, gpu=False)
        raise QgsProcessingException(
            f"Python packages missing from QGIS: {', '.join(packages)}.\n"
            + manual_steps(packages, python_interpreter(), default_target())
        )


def _progress(feedback: QgsProcessingFeedback):
    last = {"message": None}

    def report(fraction: float, message: str) -> None:
        feedback.setProgress(100.0 * fraction)
        if message and message != last["message"]:
            last["message"] = message
            feedback.setProgressText(message)

    return report


def _style_on_load(context: QgsProcessingContext, path: str, styler) -> None:
    if context.willLoadLayerOnCompletion(path):
        context.layerToLoadOnCompletionDetails(path).setPostProcessor(styler)
