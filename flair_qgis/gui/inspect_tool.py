"""The inspect map tool: click a pixel of a FLAIR class layer and read its class (code and name),
the model's confidence and its three most probable classes, read from the result's files on disk."""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateTransform,
    QgsMapLayer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)
from qgis.gui import QgsDockWidget, QgsMapCanvas, QgsMapMouseEvent, QgsMapToolEmitPoint, QgsVertexMarker
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..core.errors import FlairError
from ..core.result import FlairResult, PixelInfo
from ..styling import qgis_language
from .tr import tr


def flair_result(layer: QgsMapLayer | None) -> FlairResult | None:
    """The FLAIR result whose class raster `layer` shows, None when it is not one."""
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return None
    path = layer.source().split("|")[0]
    try:
        return FlairResult(path)
    except FlairError:
        return None


def percent(value: float) -> str:
    """A probability 0..1 written as a percentage, the one way the inspect panel writes them."""
    return f"{100 * value:.0f} %"


def pixel_text(info: PixelInfo | None, layer_name: str = "") -> str:
    """The panel's text (rich text) for what a result says at one pixel."""
    title = f"<b>{layer_name}</b><br>" if layer_name else ""
    if info is None:
        return title + tr("Outside the map.")
    if info.code is None:
        return title + tr("No class here (outside the mapped area).")
    lines = [f"{tr('Class')}: <b>{info.name}</b> ({tr('code')} {info.code})"]
    if info.confidence is not None:
        lines.append(f"{tr('Confidence')}: <b>{percent(info.confidence)}</b>")
    else:
        lines.append(f"{tr('Confidence')}: {tr('no confidence raster')}")
    if info.top:
        lines.append(tr("Most probable classes:"))
        lines += [
            f"&nbsp;&nbsp;{i}. {c.name} ({c.code}): {percent(c.probability)}"
            for i, c in enumerate(info.top, 1)
        ]
    lines.append(f"<small>{tr('Pixel')} {tr('row')} {info.row}, {tr('column')} {info.col}</small>")
    return title + "<br>".join(lines)


class InspectPanel(QgsDockWidget):
    """The dock that shows what the inspect tool read at the last clicked pixel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(tr("FLAIR inspect"), parent)
        self.setObjectName("flair_qgis_inspect_panel")
        body = QWidget()
        layout = QVBoxLayout(body)
        self.label = QLabel(tr("Click a pixel of a FLAIR land-cover layer."))
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        layout.addStretch(1)
        self.setWidget(body)

    def show_text(self, text: str) -> None:
        self.label.setText(text)


class InspectTool(QgsMapToolEmitPoint):
    """Map tool: a click reads the FLAIR result under the cursor (the current layer when it is a FLAIR
    class layer, else the topmost visible one) and shows it in `panel`."""

    def __init__(self, canvas: QgsMapCanvas, panel: InspectPanel, current_layer=None) -> None:
        super().__init__(canvas)
        self.panel = panel
        #: returns the layer selected in the Layers panel (iface.activeLayer), or None
        self.current_layer = current_layer or (lambda: None)
        self.last: PixelInfo | None = None
        self.marker: QgsVertexMarker | None = None

    def deactivate(self) -> None:
        self._remove_marker()
        super().deactivate()

    def _remove_marker(self) -> None:
        if self.marker is not None:
            self.canvas().scene().removeItem(self.marker)
            self.marker = None

    def _mark(self, point: QgsPointXY) -> None:
        if self.marker is None:
            self.marker = QgsVertexMarker(self.canvas())
            self.marker.setIconType(QgsVertexMarker.IconType.ICON_CROSS)
            self.marker.setIconSize(14)
            self.marker.setPenWidth(3)
            self.marker.setColor(QColor("#00e5ff"))
        self.marker.setCenter(point)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:
        self.inspect(self.toMapCoordinates(event.pos()))

    def inspect(self, point: QgsPointXY) -> PixelInfo | None:
        """Read the result at `point` (map canvas CRS), show it and return it."""
        layer, result = self._result_layer()
        if result is None:
            self.last = None
            self.panel.show_text(tr("No FLAIR land-cover layer is shown here."))
            self.panel.show()
            return None
        transform = QgsCoordinateTransform(
            self.canvas().mapSettings().destinationCrs(), layer.crs(), QgsProject.instance()
        )
        local = transform.transform(point)
        self._mark(point)
        try:
            self.last = result.pixel(local.x(), local.y(), qgis_language())
            text = pixel_text(self.last, layer.name())
        except FlairError as exc:
            self.last = None
            text = str(exc)
        self.panel.show_text(text)
        self.panel.show()
        return self.last

    def _result_layer(self) -> tuple[QgsRasterLayer | None, FlairResult | None]:
        current = self.current_layer()
        result = flair_result(current)
        if result is not None:
            return current, result
        root = QgsProject.instance().layerTreeRoot()
        for node in root.findLayers():  # top of the layer tree first
            if node.isVisible():
                result = flair_result(node.layer())
                if result is not None:
                    return node.layer(), result
        return None, None
