"""What the review algorithms (polygonize, review zones, zonal statistics) share: translation, their
group and help address, the progress bridge and the turning of bad input into QgsProcessingException."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterRasterLayer,
)
from qgis.PyQt.QtGui import QIcon

from ..adapters.paths import resource
from ..gui.tr import tr

#: The parameter every review algorithm reads its FLAIR class raster from.
CLASSES = "CLASSES"
DOCS_URL = "https://github.com/flair-qgis/flair_qgis/blob/main/docs/plugin.md"


class ReviewAlgorithm(QgsProcessingAlgorithm):
    """Base of the review algorithms: one group, the plugin's icon, help in docs/plugin.md."""

    #: Anchor of the algorithm's section in docs/plugin.md.
    anchor = ""

    def group(self) -> str:
        return tr("Review")

    def groupId(self) -> str:
        return "review"

    def icon(self) -> QIcon:
        return QIcon(str(resource("icon.svg")))

    def helpUrl(self) -> str:
        return f"{DOCS_URL}#{self.anchor}"

    def shortDescription(self) -> str:
        """The first sentence of the help (shown in the toolbox's tooltip)."""
        text = self.shortHelpString().replace("<br>", " ")
        first = text.split(". ", 1)[0].split(": ", 1)[0].strip().rstrip(".")
        return first + "."

    def createInstance(self) -> QgsProcessingAlgorithm:
        return type(self)()

    def add_class_raster_parameter(self, help_text: str = "") -> None:
        """The FLAIR class raster the algorithm reads, as parameter CLASSES."""
        self.addParameter(
            with_help(
                QgsProcessingParameterRasterLayer(CLASSES, tr("Land-cover map (FLAIR class raster)")),
                help_text or tr("The class raster written by the FLAIR algorithm (e.g. map.tif)."),
            )
        )


def with_help(parameter: Any, text: str) -> Any:
    """`parameter` with its help text (shown as a tooltip and in `qgis_process help`)."""
    if hasattr(parameter, "setHelp"):
        parameter.setHelp(text)
    return parameter


def run_review(feedback: QgsProcessingFeedback, function: Callable[..., Any], **arguments: Any) -> Any:
    """Call a flair_qgis.review function with progress and cancel from `feedback`; returns None when the
    user cancelled, raises QgsProcessingException with the function's message for bad input."""
    from ..core.errors import FlairError
    from ..review.geopackage import GeoPackageError
    from ..review.raster_blocks import Cancelled

    def progress(fraction: float, message: str) -> None:
        feedback.setProgress(100.0 * fraction)
        feedback.setProgressText(message)

    try:
        return function(progress=progress, is_cancelled=feedback.isCanceled, **arguments)
    except Cancelled:
        feedback.reportError(tr("Cancelled: nothing was written."))
        return None
    except (FlairError, GeoPackageError, RuntimeError) as exc:  # ResultError is a FlairError
        raise QgsProcessingException(str(exc)) from exc


def raster_path(
    algorithm: QgsProcessingAlgorithm, parameters: dict, key: str, context: QgsProcessingContext
) -> str | None:
    """The file behind a raster layer parameter (None when not given)."""
    if not parameters.get(key):
        return None
    layer = algorithm.parameterAsRasterLayer(parameters, key, context)
    if layer is None:
        raise QgsProcessingException(tr("The raster given for {key} cannot be opened.").format(key=key))
    return layer.source().split("|")[0]
