"""The bands panel: for each band the model reads (red, green, blue, near infrared, elevation), the layer
and band it comes from, possibly a different layer per band; guessed from the project's raster layers."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsMapLayerProxyModel, QgsRasterLayer
from qgis.gui import QgsMapLayerComboBox, QgsRasterBandComboBox
from qgis.PyQt.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QWidget

from ...adapters.bands import LayerBands, default_mapping, missing_bands
from ...adapters.sources import COLOUR_BANDS, band_count, is_colour_service
from ...core.bundle_spec import AERIAL_BANDS
from ..tr import tr
from . import Panel


def band_label(name: str) -> str:
    """The name of a model band in the dialog, in QGIS's language."""
    labels = {"red": tr("Red"), "green": tr("Green"), "blue": tr("Blue"), "nir": tr("Near infrared"),
              "elevation": tr("Elevation")}  # fmt: skip
    return labels.get(name, name)


class BandsPanel(Panel):
    """A row per model band: `layers[name]` (the layer) and `numbers[name]` (its band). Only the rows of
    the bands the model reads are shown (`show_bands`)."""

    def __init__(self, project: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        #: The bands the chosen model reads (all of them while none is chosen).
        self.bands: tuple[str, ...] = AERIAL_BANDS
        box = QGroupBox(tr("Aerial image bands"))
        grid = QGridLayout(box)
        self.layers: dict[str, QgsMapLayerComboBox] = {}
        self.numbers: dict[str, QgsRasterBandComboBox] = {}
        self.labels: dict[str, QLabel] = {}
        for row, name in enumerate(AERIAL_BANDS):
            label = QLabel(band_label(name))
            layers = QgsMapLayerComboBox()
            layers.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
            layers.setAllowEmptyLayer(True)
            layers.setLayer(None)
            numbers = QgsRasterBandComboBox()
            layers.layerChanged.connect(numbers.setLayer)
            layers.layerChanged.connect(lambda _, name=name: self._layer_changed(name))
            layers.layerChanged.connect(self.emit_changed)
            numbers.bandChanged.connect(self.emit_changed)
            grid.addWidget(label, row, 0)
            grid.addWidget(layers, row, 1)
            grid.addWidget(numbers, row, 2)
            self.labels[name], self.layers[name], self.numbers[name] = label, layers, numbers
        self.guess_button = QPushButton(tr("Guess from the project's layers"))
        self.guess_button.clicked.connect(self.guess)
        grid.addWidget(self.guess_button, len(AERIAL_BANDS), 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.column.addWidget(box)

    def show_bands(self, bands: tuple[str, ...]) -> None:
        """Show the rows of `bands` (the model's) only."""
        self.bands = bands
        for name in AERIAL_BANDS:
            for widget in (self.labels[name], self.layers[name], self.numbers[name]):
                widget.setVisible(name in bands)
        self.changed.emit()

    def guess(self) -> None:
        """Fill the band rows from the project's raster layers (band counts and names)."""
        layers = [layer for layer in self.project.mapLayers().values() if isinstance(layer, QgsRasterLayer)]
        described = [LayerBands(layer.id(), layer.name(), band_count(layer)) for layer in layers]
        mapping = default_mapping(described)
        for name in AERIAL_BANDS:
            choice = mapping.get(name)
            layer = self.project.mapLayer(choice[0]) if choice else None
            self.layers[name].setLayer(layer)
            self.numbers[name].setLayer(layer)
            if choice and not is_colour_service(layer):
                self.numbers[name].setBand(choice[1])

    def mapping(self) -> dict[str, tuple[str, int] | None]:
        """The chosen (layer id, band) per model band, None where no layer is chosen. A colour service
        (WMS, XYZ...) gives its red, green and blue as bands 1, 2, 3 and nothing else."""
        mapping: dict[str, tuple[str, int] | None] = {}
        for name in AERIAL_BANDS:
            layer = self.layers[name].currentLayer()
            if layer is not None and is_colour_service(layer):
                mapping[name] = (layer.id(), COLOUR_BANDS.index(name) + 1) if name in COLOUR_BANDS else None
                continue
            band = self.numbers[name].currentBand()
            mapping[name] = (layer.id(), band) if layer is not None and band > 0 else None
        return mapping

    def chosen_layers(self) -> list[Any]:
        """The layers chosen for the model's bands (each once, in band order)."""
        found: dict[str, Any] = {}
        for name in self.bands:
            layer = self.layers[name].currentLayer()
            if layer is not None:
                found.setdefault(layer.id(), layer)
        return list(found.values())

    def _layer_changed(self, name: str) -> None:
        """A colour service's band is implied by the row (red, green, blue): its band list is disabled."""
        layer = self.layers[name].currentLayer()
        self.numbers[name].setEnabled(layer is None or not is_colour_service(layer))

    def problems(self) -> list[str]:
        for name in self.bands:
            layer = self.layers[name].currentLayer()
            if layer is not None and is_colour_service(layer) and name not in COLOUR_BANDS:
                return [
                    tr(
                        "'{layer}' is a colour image service (red, green, blue only): choose another layer "
                        "for {band}."
                    ).format(layer=layer.name(), band=band_label(name))
                ]
        missing = missing_bands(self.mapping(), self.bands)
        if missing:
            names = ", ".join(band_label(name) for name in missing)
            return [tr("Choose a layer for the model's band(s): {names}.").format(names=names)]
        return []

    def fill(self, builder: Any) -> None:
        mapping = self.mapping()
        used = {mapping[name][0] for name in builder.spec.aerial.bands}
        builder.bands(mapping, {layer_id: self.project.mapLayer(layer_id) for layer_id in used})
