"""The Processing algorithm `flair:landcover`: the whole prediction from the toolbox, in batch mode, in
graphical models and through `qgis_process`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsApplication,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)
from qgis.PyQt.QtGui import QIcon

from ..adapters.paths import resource
from ..adapters.request_builder import RequestBuilder
from ..core.output_kinds import OutputKind, output_kinds
from ..core.termination import on_termination
from ..gui.tr import tr
from .aerial_parameters import (
    AREA,
    EXTENT,
    SENTINEL2,
    add_aerial_parameters,
    add_area_parameters,
    add_sentinel2_parameter,
    aerial_band_choices,
    area_of_interest,
)
from .review_base import with_help

DEVICES = ("auto", "gpu", "cpu")


class LandCoverAlgorithm(QgsProcessingAlgorithm):
    """Land cover (FLAIR U-T&T): a class raster, optional confidence and probabilities, statistics."""

    SENTINEL2 = SENTINEL2
    BUNDLE = "BUNDLE"
    EXTENT, AREA = EXTENT, AREA
    DEVICE = "DEVICE"
    OVERLAP = "OVERLAP"
    BATCH_SIZE = "BATCH_SIZE"
    OUTPUT = "OUTPUT"  # the class raster; every output's parameter is its kind's (core/output_kinds.py)

    def __init__(self) -> None:
        super().__init__()
        #: The run's request in the making: bundle, area and band sources from prepareAlgorithm.
        self._builder: RequestBuilder | None = None

    def name(self) -> str:
        return "landcover"

    def displayName(self) -> str:
        return tr("Land cover (FLAIR U-T&T)")

    def group(self) -> str:
        return tr("Land cover")

    def groupId(self) -> str:
        return "landcover"

    def shortDescription(self) -> str:
        return tr(
            "A FLAIR #2 land-cover map from an aerial image and a year of Sentinel-2, by a model bundle."
        )

    def shortHelpString(self) -> str:
        return tr(
            "Maps land cover (FLAIR #2 classes) from an aerial image (R, G, B, NIR, elevation) and a folder "
            "of Sentinel-2 acquisitions with a model bundle (.onnx) run by ONNX Runtime.<br>"
            "Bands: R, G, B come from the aerial layer; NIR and elevation from their own layers when given "
            "(band 1 unless set), else from bands 4 and 5 of the aerial layer.<br>"
            "Area: the extent, else the polygons of the area layer (selected ones when 'selected features "
            "only' is ticked), else the whole aerial layer.<br>"
            "Outputs: the class raster (class codes, styled with the official palette), optionally the "
            "confidence (percent) and the probability of every class, and the hectares and percent of each "
            "class (CSV)."
        )

    def helpUrl(self) -> str:
        from .review_base import DOCS_URL

        return f"{DOCS_URL}#processing-flairlandcover"

    def icon(self) -> QIcon:
        return QIcon(str(resource("icon.svg")))

    def createInstance(self) -> LandCoverAlgorithm:
        return LandCoverAlgorithm()

    def initAlgorithm(self, config: dict | None = None) -> None:
        add_aerial_parameters(self)
        add_sentinel2_parameter(
            self,
            tr("A folder of Level-2A acquisitions of the year (ESA SAFE folders or zips, Theia, GeoTIFFs)."),
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterFile(self.BUNDLE, tr("Model bundle (.onnx)"), extension="onnx"),
                tr("An ONNX model with its FLAIR description (python -m flair_qgis info BUNDLE shows it)."),
            )
        )
        add_area_parameters(
            self, tr("Polygons to map (their union), in any CRS; used when no extent is given.")
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterEnum(
                    self.DEVICE,
                    tr("Device"),
                    options=[tr("Automatic (GPU when available)"), tr("GPU"), tr("CPU")],
                    defaultValue=0,
                ),
                tr("0: the GPU when ONNX Runtime finds one, else the CPU; 1: GPU only; 2: CPU only."),
            )
        )
        overlap = QgsProcessingParameterNumber(
            self.OVERLAP,
            tr("Overlap between tiles (px; empty: an eighth of a tile)"),
            QgsProcessingParameterNumber.Type.Integer,
            optional=True,
            minValue=0,
        )
        batch = QgsProcessingParameterNumber(
            self.BATCH_SIZE,
            tr("Batch size (tiles)"),
            QgsProcessingParameterNumber.Type.Integer,
            4,
            minValue=1,
        )
        with_help(overlap, tr("Pixels shared by neighbouring tiles, blended so that tile edges do not show."))
        with_help(batch, tr("Tiles run together; more is faster on a GPU and needs more memory."))
        for parameter in (overlap, batch):
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
            self.addParameter(parameter)
        for kind in processing_outputs():
            self.addParameter(with_help(output_parameter(kind), tr(kind.help)))

    def prepareAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> bool:
        """In the main thread: read the bundle and turn the chosen layers into sources the worker can read
        (file paths, or cloned providers)."""
        _require_dependencies()
        from ..core.bundle import load_bundle
        from ..core.errors import FlairError

        try:
            bundle = load_bundle(self.parameterAsFile(parameters, self.BUNDLE, context))
            project = context.project()
            self._builder = RequestBuilder(bundle, project.crs() if project is not None else None)
            self._builder.area = area_of_interest(self, parameters, context, self.EXTENT, self.AREA)
        except FlairError as exc:
            raise QgsProcessingException(str(exc)) from exc
        self._builder.bands(*aerial_band_choices(self, parameters, context, bundle.spec.aerial))
        try:
            self._builder.sources()  # layers are read here, in the main thread
        except ValueError as exc:
            raise QgsProcessingException(f"{exc} (EXTENT or AREA)") from exc
        return True

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..adapters.styling import post_processor
        from ..core.errors import FlairError
        from ..core.predict import predict
        from ..core.statistics_table import statistics_text
        from ..gui.tr import device_text

        chosen = {kind.name: _destination(self, kind, parameters, context) for kind in processing_outputs()}
        overlap = parameters.get(self.OVERLAP)
        request = self._builder.build(
            output=chosen.pop("classes"),
            sentinel2=self.parameterAsFile(parameters, self.SENTINEL2, context) or None,
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            overlap=None if overlap in (None, "") else self.parameterAsInt(parameters, self.OVERLAP, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            # Each output is written at the path chosen for it (which asks for it). Processing's dialog
            # asked before a chosen path is replaced; the files written beside the map (style,
            # statistics) are replaced only when this program wrote them (OutputOptions.replace_named_only).
            destinations=chosen,
        )
        try:
            with _termination_cancels(feedback):
                result = predict(request, progress=_progress(feedback), is_cancelled=feedback.isCanceled)
        except FlairError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for warning in result.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            tr("The model ran on {device}: {tiles} tiles in {seconds:.1f} s").format(
                device=device_text(result.provider), tiles=result.tiles, seconds=result.seconds
            )
        )
        feedback.pushInfo(statistics_text(result.statistics))

        title = Path(result.class_raster).stem  # layer names tell runs apart
        outputs = {}
        for kind in processing_outputs():
            path = result.files.get(kind.name)
            if path is None or not (kind.name == "classes" or chosen.get(kind.name)):
                continue
            outputs[kind.parameter] = str(path)
            if kind.style in ("classes", "confidence"):  # the styles Processing applies on loading
                nomenclature = self._builder.spec.nomenclature if kind.style == "classes" else None
                _style_on_load(context, str(path), post_processor(nomenclature, f"{title} - {kind.layer}"))
        return outputs


def processing_outputs() -> list[OutputKind]:
    """The outputs with a Processing destination parameter, in the table's order (output_kinds)."""
    return [kind for kind in output_kinds() if kind.parameter]


def output_parameter(kind: OutputKind) -> QgsProcessingParameterDefinition:
    """The destination parameter of `kind`: the class raster's required, the others optional and not
    created unless asked."""
    optional = kind.name != "classes"
    if kind.destination == "file":
        return QgsProcessingParameterFileDestination(
            kind.parameter,
            tr(kind.description),
            tr(kind.file_filter),
            optional=optional,
            createByDefault=False,
        )
    return QgsProcessingParameterRasterDestination(
        kind.parameter, tr(kind.description), optional=optional, createByDefault=not optional
    )


def _destination(
    algorithm: QgsProcessingAlgorithm,
    kind: OutputKind,
    parameters: dict[str, Any],
    context: QgsProcessingContext,
) -> str:
    if kind.destination == "file":
        return algorithm.parameterAsFileOutput(parameters, kind.parameter, context)
    return algorithm.parameterAsOutputLayer(parameters, kind.parameter, context)


@contextlib.contextmanager
def _termination_cancels(feedback: QgsProcessingFeedback) -> Iterator[None]:
    """In `qgis_process` (the algorithm on its main thread, in a process of its own), SIGTERM and SIGHUP
    cancel the run as the Cancel button does: nothing is left at the outputs. Elsewhere (QGIS desktop,
    a worker thread) the signals are left alone."""
    if QgsApplication.platform() != "qgis_process":
        yield
        return
    with on_termination(lambda number: feedback.cancel()):
        yield


def _require_dependencies() -> None:
    from ..adapters.dependencies import (
        default_target,
        from_system,
        gdal_problem,
        manual_steps,
        missing_dependencies,
        python_interpreter,
        requirements,
    )

    missing = missing_dependencies()
    if missing:
        packages = requirements(missing, gpu=False)
        raise QgsProcessingException(
            f"Python packages missing from QGIS: {', '.join(dep.module for dep in missing)}.\n"
            + manual_steps(packages, python_interpreter(), default_target(), from_system(missing))
        )
    problem = gdal_problem()
    if problem is not None:
        raise QgsProcessingException(problem)


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
