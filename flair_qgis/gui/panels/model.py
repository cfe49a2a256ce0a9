"""The model panel: the bundle file (or one installed from a catalogue), loaded once when chosen and
handed to the run, and a few lines on what it is (model, precision, inputs, classes, provenance)."""

from __future__ import annotations

from typing import Any

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from ...adapters import settings
from ...adapters.styling import qgis_language
from ...core.bundle_spec import AERIAL_BANDS
from ..tr import precision_text, tr
from . import Panel


class ModelPanel(Panel):
    """`bundle`: the loaded Bundle, None while none can be used (then `error` says why)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bundle: Any = None
        self.error: str | None = tr("Choose a model bundle (.onnx).")
        box = QGroupBox(tr("Model bundle"))
        form = QFormLayout(box)
        self.file_widget = QgsFileWidget()
        self.file_widget.setFilter("ONNX model bundles (*.onnx)")
        self.info = QLabel(self.error)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(tr("File"), self.file_widget)
        form.addRow(self.info)
        from .catalogue import ModelsPanel

        self.catalogue = ModelsPanel(box)
        self.catalogue.installed.connect(self.file_widget.setFilePath)
        form.addRow(tr("Catalogue"), self.catalogue)
        self.column.addWidget(box)
        self.file_widget.fileChanged.connect(self.load)

    @property
    def spec(self) -> Any:
        """The loaded bundle's BundleSpec, None while there is none."""
        return self.bundle.spec if self.bundle is not None else None

    def aerial_bands(self) -> tuple[str, ...]:
        """The aerial bands the model reads (all of them while no bundle is loaded)."""
        return self.spec.aerial.bands if self.spec is not None else AERIAL_BANDS

    def needs_sentinel2(self) -> bool:
        """Whether the Sentinel-2 folder is asked for (also while no bundle is loaded)."""
        return self.spec is None or self.spec.needs_sentinel2

    def load(self, *_: Any) -> None:
        """Load the chosen bundle (once: the run is given it) and describe it, or say why it cannot be used."""
        path = self.file_widget.filePath()
        self.bundle, self.error = None, None
        if not path:
            self.error = tr("Choose a model bundle (.onnx).")
        else:
            try:
                from ...core.bundle import load_bundle
                from ...core.errors import FlairError

                try:
                    self.bundle = load_bundle(path)
                except FlairError as exc:
                    self.error = tr("The model bundle cannot be used: {error}").format(error=exc)
            except ImportError as exc:
                self.error = tr("The plugin's dependencies are missing: {error}").format(error=exc)
        self.info.setText(self.error or bundle_summary(self.bundle.spec))
        self.changed.emit()

    def restore(self) -> None:
        self.show_path(self.file_widget, settings.bundle(), self.load)

    def remember(self) -> None:
        settings.set_value("bundle", self.file_widget.filePath())

    def problems(self) -> list[str]:
        return [self.error] if self.error else []


def bundle_summary(spec: Any) -> str:
    """A few lines on a bundle: model, precision, inputs, classes, provenance."""
    inputs = tr("aerial {bands} at {gsd:g} m, tiles of {tile} px").format(
        bands=", ".join(spec.aerial.bands), gsd=spec.aerial.gsd, tile=spec.aerial.tile_size
    )
    if spec.sentinel2 is not None:
        inputs += "; " + tr("Sentinel-2 {bands} bands, {window} px windows").format(
            bands=len(spec.sentinel2.bands), window=spec.sentinel2.window_size
        )
    else:
        inputs += "; " + tr("aerial only (no Sentinel-2)")
    language = qgis_language()
    classes = ", ".join(c.label(language) for c in spec.nomenclature.classes)
    from ...core.models.provenance import provenance_rows

    provenance = "".join(f"\n{name}: {text}" for name, text in provenance_rows(spec.provenance))
    return (
        f"{spec.model_name} {spec.model_version} ({spec.architecture})\n"
        + tr("Precision: {precision}").format(precision=precision_text(spec.precision))
        + "\n"
        + tr("Inputs: {inputs}").format(inputs=inputs)
        + "\n"
        + tr("Classes ({count}): {classes}").format(count=len(spec.nomenclature.classes), classes=classes)
        + provenance
    )
