"""The area panel: what to map. The whole aerial image, the current map view, a rectangle drawn on the map
(the dialog hides while the user drags it) or the selected polygons of a layer."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsMapLayerProxyModel, QgsRectangle
from qgis.gui import QgsMapLayerComboBox, QgsMapToolExtent
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton, QWidget

from ...adapters import settings
from ..tr import tr
from . import Panel, select
from .bands import BandsPanel

AREA_MODES = (
    ("layer", tr("Whole aerial image")),
    ("canvas", tr("Current map view")),
    ("drawn", tr("Rectangle drawn on the map")),
    ("polygons", tr("Selected polygons of a layer")),
)


class AreaPanel(Panel):
    """`mode` is one of AREA_MODES' keys; `drawn` the rectangle drawn last and its CRS (WKT)."""

    def __init__(self, iface: Any, bands: BandsPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.iface = iface
        #: The bands panel, whose layers give the whole image's extent.
        self.bands = bands
        self.drawn: tuple[QgsRectangle, str] | None = None
        self._map_tool = None
        self._previous_tool = None
        box = QGroupBox(tr("Area"))
        form = QFormLayout(box)
        self.mode = QComboBox()
        for key, label in AREA_MODES:
            self.mode.addItem(label, key)
        self.draw_button = QPushButton(tr("Draw a rectangle on the map"))
        self.drawn_label = QLabel(tr("No rectangle drawn yet."))
        self.polygon_layer = QgsMapLayerComboBox()
        self.polygon_layer.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        form.addRow(tr("Map"), self.mode)
        form.addRow(self.draw_button, self.drawn_label)
        form.addRow(tr("Polygons"), self.polygon_layer)
        self.column.addWidget(box)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.polygon_layer.layerChanged.connect(self.emit_changed)
        self.draw_button.clicked.connect(self.start_drawing)
        self._mode_changed()

    def _mode_changed(self, *_: Any) -> None:
        mode = self.mode.currentData()
        self.draw_button.setEnabled(mode == "drawn")
        self.polygon_layer.setEnabled(mode == "polygons")
        self.changed.emit()

    def restore(self) -> None:
        select(self.mode, settings.value("area", "layer"))

    def remember(self) -> None:
        settings.set_value("area", self.mode.currentData())

    # ------------------------------------------------------------------ drawing
    def start_drawing(self) -> None:
        """Let the user drag a rectangle on the map canvas; the dialog hides meanwhile."""
        canvas = self.iface.mapCanvas()
        self._previous_tool = canvas.mapTool()
        self._map_tool = QgsMapToolExtent(canvas)
        self._map_tool.extentChanged.connect(self._rectangle_drawn)
        canvas.setMapTool(self._map_tool)
        self.window().hide()

    def _rectangle_drawn(self, rectangle: QgsRectangle) -> None:
        canvas = self.iface.mapCanvas()
        self.set_drawn_rectangle(rectangle, canvas.mapSettings().destinationCrs().toWkt())
        if self._previous_tool is not None:
            canvas.setMapTool(self._previous_tool)
        else:
            canvas.unsetMapTool(self._map_tool)
        self.window().show()
        self.window().raise_()

    def set_drawn_rectangle(self, rectangle: QgsRectangle, crs_wkt: str) -> None:
        self.drawn = (QgsRectangle(rectangle), crs_wkt)
        self.drawn_label.setText(
            tr("{width:.1f} x {height:.1f} map units at ({x:.1f}, {y:.1f})").format(
                width=rectangle.width(),
                height=rectangle.height(),
                x=rectangle.xMinimum(),
                y=rectangle.yMinimum(),
            )
        )
        select(self.mode, "drawn")
        self.changed.emit()

    # ------------------------------------------------------------------ the area
    def problems(self) -> list[str]:
        from ...adapters.sources import has_pixel_grid, layer_file

        mode = self.mode.currentData()
        if mode == "layer":
            for layer in self.bands.chosen_layers():
                if not layer_file(layer) and not has_pixel_grid(layer):
                    return [
                        tr(
                            "'{layer}' is a web service with no extent of its own: map the current view, a "
                            "drawn rectangle or polygons."
                        ).format(layer=layer.name())
                    ]
        if mode == "drawn" and self.drawn is None:
            return [tr("Draw the rectangle to map, or choose another area.")]
        if mode == "polygons":
            layer = self.polygon_layer.currentLayer()
            if layer is None:
                return [tr("Choose a polygon layer for the area.")]
            if layer.selectedFeatureCount() == 0:
                return [tr("Select the polygons to map in '{layer}'.").format(layer=layer.name())]
        return []

    def fill(self, builder: Any) -> None:
        """The area of the chosen mode (none for the whole aerial image). ValueError when the selected
        features hold no polygon."""
        mode = self.mode.currentData()
        if mode == "canvas":
            canvas = self.iface.mapCanvas()
            builder.rectangle(canvas.extent(), canvas.mapSettings().destinationCrs().toWkt())
        elif mode == "drawn" and self.drawn is not None:
            builder.rectangle(*self.drawn)
        elif mode == "polygons":
            layer = self.polygon_layer.currentLayer()
            geometries = [f.geometry() for f in layer.selectedFeatures() if f.hasGeometry()]
            if not builder.polygons(geometries, layer.crs().toWkt()):
                raise ValueError(tr("Select the polygons to map in '{layer}'.").format(layer=layer.name()))
