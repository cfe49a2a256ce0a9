"""The device and advanced settings panel (folded by default): where the model runs (the GPU when there
is one, or the CPU), the overlap between tiles and the tiles per inference."""

from __future__ import annotations

from typing import Any

from qgis.gui import QgsCollapsibleGroupBox
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QLabel, QSpinBox, QWidget

from ...adapters import settings
from ..tr import tr
from . import Panel, select

DEVICES = (("auto", tr("Automatic (GPU when available)")), ("gpu", tr("GPU")), ("cpu", tr("CPU")))


class AdvancedPanel(Panel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QgsCollapsibleGroupBox(tr("Device and advanced settings"))
        form = QFormLayout(box)
        self.device_combo = QComboBox()
        for key, label in DEVICES:
            self.device_combo.addItem(label, key)
        self.device_info = QLabel(devices_text())
        self.device_info.setWordWrap(True)
        self.overlap_spin = QSpinBox()
        self.overlap_spin.setRange(-1, 4096)
        self.overlap_spin.setSpecialValueText(tr("automatic (1/8 of a tile)"))
        self.overlap_spin.setSuffix(" px")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 256)
        form.addRow(tr("Device"), self.device_combo)
        form.addRow(self.device_info)
        form.addRow(tr("Tile overlap"), self.overlap_spin)
        form.addRow(tr("Batch size"), self.batch_spin)
        self.column.addWidget(box)

    def restore(self) -> None:
        select(self.device_combo, settings.value("device", "auto"))
        self.overlap_spin.setValue(settings.value("overlap", -1, int))
        self.batch_spin.setValue(settings.value("batch_size", 4, int))

    def remember(self) -> None:
        settings.set_value("device", self.device_combo.currentData())
        settings.set_value("overlap", self.overlap_spin.value())
        settings.set_value("batch_size", self.batch_spin.value())

    def fill(self, builder: Any) -> None:
        overlap = self.overlap_spin.value()
        builder.set(
            device=self.device_combo.currentData(),
            overlap=None if overlap < 0 else overlap,  # -1 shows as "automatic"
            batch_size=self.batch_spin.value(),
        )


def devices_text() -> str:
    """The ONNX Runtime providers found, or that ONNX Runtime is missing."""
    try:
        from ...core.runtime import available_devices

        found = available_devices()
    except ImportError:
        return tr("ONNX Runtime is not installed.")
    return tr("ONNX Runtime found: {providers}").format(
        providers=", ".join(p.replace("ExecutionProvider", "") for p in found)
    )
