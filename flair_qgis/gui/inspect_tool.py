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
from qgis.PyQt.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..adapters.styling import qgis_language
from ..core.errors import FlairError
from ..core.result import FlairResult, PixelInfo
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
        row = QHBoxLayout()
        self.class_combo = QComboBox()
        self.class_combo.setToolTip(tr("The right class of the clicked region"))
        self.reclassify_button = QPushButton(tr("Reclassify region"))
        self.reclassify_button.setToolTip(
            tr(
                "Copy the land-cover polygon under the clicked pixel into the map's corrections, with this class"
            )
        )
        row.addWidget(self.class_combo, 1)
        row.addWidget(self.reclassify_button)
        layout.addLayout(row)
        self.correction_label = QLabel()
        self.correction_label.setWordWrap(True)
        layout.addWidget(self.correction_label)
        layout.addStretch(1)
        self.setWidget(body)
        self.set_correctable(False)

    def show_text(self, text: str) -> None:
        self.label.setText(text)

    def set_correctable(self, correctable: bool) -> None:
        self.class_combo.setEnabled(correctable)
        self.reclassify_button.setEnabled(correctable)


class InspectTool(QgsMapToolEmitPoint):
    """Map tool: a click reads the FLAIR result under the cursor (the current layer when it is a FLAIR
    class layer, else the topmost visible one) and shows it in `panel`."""

    def __init__(self, canvas: QgsMapCanvas, panel: InspectPanel, current_layer=None) -> None:
        super().__init__(canvas)
        self.panel = panel
        #: returns the layer selected in the Layers panel (iface.activeLayer), or None
        self.current_layer = current_layer or (lambda: None)
        self.last: PixelInfo | None = None
        #: The class raster and the point (in its CRS) of the last pixel read, for "Reclassify region".
        self.last_map: tuple[str, QgsPointXY] | None = None
        self.marker: QgsVertexMarker | None = None
        panel.reclassify_button.clicked.connect(lambda: self.reclassify())

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
        self.last_map = None
        self.panel.correction_label.setText("")
        if result is None:
            self.last = None
            self.panel.show_text(tr("No FLAIR land-cover layer is shown here."))
            self.panel.set_correctable(False)
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
        if self.last is not None and self.last.code is not None:
            from .corrections import fill_class_combo

            self.last_map = (str(result.classes), local)
            fill_class_combo(self.panel.class_combo, result.nomenclature, qgis_language())
        self.panel.set_correctable(self.last_map is not None)
        self.panel.show()
        return self.last

    def reclassify(self, code: int | None = None) -> int | None:
        """Copy the land-cover polygon under the last clicked pixel into the map's corrections with class
        `code` (the panel's choice when None); returns the correction's fid, None when nothing was added
        (the panel says why)."""
        from pathlib import Path

        from ..review import schema
        from ..review.geopackage import GeoPackageError
        from ..review.result import ResultError
        from .corrections import add_correction, corrections_layer, polygon_at

        if self.last_map is None:
            return None
        classes, point = Path(self.last_map[0]), self.last_map[1]
        code = self.panel.class_combo.currentData() if code is None else code
        label = self.panel.correction_label
        region = polygon_at(classes, point)
        if region is None:
            label.setText(
                tr(
                    "No land-cover polygon here: make the map's polygons first (tick 'Land-cover polygons' in "
                    "the dialog, or run the polygonize algorithm) and click again."
                )
            )
            return None
        try:
            layer = corrections_layer(classes)
            fid = add_correction(layer, region, code, schema.ORIGIN_POLYGON)
        except (ResultError, GeoPackageError, OSError) as exc:
            label.setText(tr("The correction was not saved: {error}").format(error=exc))
            return None
        name = self.panel.class_combo.itemText(self.panel.class_combo.findData(code))
        label.setText(
            tr("Region reclassified as {name} (correction {fid} in {file}).").format(
                name=name, fid=fid, file=layer.name()
            )
        )
        return fid

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
