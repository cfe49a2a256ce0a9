"""The dialog's panels, one per part of a run: the model (panels/model.py), the aerial bands (bands.py),
the area (area.py), the Sentinel-2 folder (sentinel2.py), the outputs (outputs.py) and the device and
advanced settings (advanced.py). Each panel owns its widgets and its remembered settings, says what is
wrong with its choices (`problems`) and gives its part of the run to the one RequestBuilder
(adapters/request_builder.py) that the Processing algorithms use too (`fill`). The dialog (gui/dialog.py)
lays them out, gathers their problems and runs the request."""

from __future__ import annotations

from typing import Any

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QVBoxLayout, QWidget


class Panel(QWidget):
    """One part of the dialog: its group boxes go in `column`. `changed` is emitted whenever a choice that
    may change the problems does."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)

    def restore(self) -> None:
        """Show the choices remembered from the last run (adapters/settings.py)."""

    def remember(self) -> None:
        """Remember the current choices for the next run."""

    def problems(self) -> list[str]:
        """What in this panel's choices would make the run fail, in words the user can act on."""
        return []

    def fill(self, builder: Any) -> None:
        """Give this panel's part of the run to `builder` (a RequestBuilder)."""

    def emit_changed(self, *_: Any) -> None:
        self.changed.emit()

    @staticmethod
    def show_path(widget: Any, path: str, reload: Any) -> None:
        """Show `path` in a QgsFileWidget and run `reload` once: fileChanged runs it when the path
        differs, else it is called here."""
        if path == widget.filePath():
            reload()
        else:
            widget.setFilePath(path)


def select(combo: QComboBox, key: Any) -> None:
    """Choose the item of `combo` whose data is `key` (nothing changes when there is none)."""
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)
