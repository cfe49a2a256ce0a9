"""The Sentinel-2 panel: the folder of acquisitions, scanned once in a background task when chosen (its
catalog is what the run reads), and the cloud cover of each date over the area, on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsTask
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QFormLayout, QGroupBox, QLabel, QPushButton, QWidget

from ...adapters import settings
from ..tr import tr
from . import Panel


class Sentinel2Panel(Panel):
    """`catalog`: the scanned folder's Sentinel2Catalog, None until a scan succeeds (then `error` says
    why). `scan_task` and `cloud_task` are the background tasks under way, None when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog: Any = None
        self.error: str | None = None
        self.scan_task: QgsTask | None = None
        self.cloud_task: QgsTask | None = None
        self._scan = 0
        self._scans: dict[int, QgsTask] = {}
        self.box = QGroupBox(tr("Sentinel-2 acquisitions"))
        form = QFormLayout(self.box)
        self.folder_widget = QgsFileWidget()
        self.folder_widget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.summary = QLabel(tr("Choose the folder of Sentinel-2 products covering the area."))
        self.summary.setWordWrap(True)
        self.cloud_button = QPushButton(tr("Cloud cover over the area"))
        self.cloud_label = QLabel()
        self.cloud_label.setWordWrap(True)
        self.cloud_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cloud_label.setStyleSheet("font-family: monospace;")
        form.addRow(tr("Folder"), self.folder_widget)
        form.addRow(self.summary)
        form.addRow(self.cloud_button)
        form.addRow(self.cloud_label)
        self.column.addWidget(self.box)
        self.folder_widget.fileChanged.connect(self.scan)

    def restore(self) -> None:
        self.show_path(self.folder_widget, str(settings.value("sentinel2", "") or ""), self.scan)

    def remember(self) -> None:
        settings.set_value("sentinel2", self.folder_widget.filePath())

    def problems(self) -> list[str]:
        return [self.error] if self.error else []

    def fill(self, builder: Any) -> None:
        builder.set(sentinel2=self.catalog if builder.spec.needs_sentinel2 else None)

    # ------------------------------------------------------------------ the folder
    def scan(self, *_: Any) -> None:
        """Scan the chosen folder in a background task (products may be many, zipped, on a network
        drive); until it is done the folder counts as a problem."""
        folder = self.folder_widget.filePath()
        self._scan += 1
        self.scan_task = None
        if not folder:
            self._show(None, tr("Choose the Sentinel-2 folder."))
            return
        if not Path(folder).is_dir():
            self._show(None, tr("Sentinel-2: {folder} is not a folder.").format(folder=folder))
            return
        self._show(None, tr("Reading the Sentinel-2 folder…"))
        scan = self._scan

        def work(task: Any) -> tuple[Any, str | None]:
            return scan_sentinel2(folder)

        def done(exception: Exception | None, result: tuple[Any, str | None] | None = None) -> None:
            self._scans.pop(scan, None)
            if scan != self._scan:  # the folder changed meanwhile
                return
            self.scan_task = None
            if exception is not None or result is None:
                self._show(None, tr("Sentinel-2: {error}").format(error=exception))
            else:
                self._show(*result)

        self.scan_task = QgsTask.fromFunction(
            tr("FLAIR: reading the Sentinel-2 folder"), work, on_finished=done
        )
        self._scans[scan] = self.scan_task  # every running scan keeps a Python reference
        QgsApplication.taskManager().addTask(self.scan_task)

    def _show(self, catalog: Any, error: str | None) -> None:
        """Show the scan's outcome; its catalog (None until a scan succeeds) is what the run reads."""
        self.error, self.catalog = error, catalog
        self.summary.setText(error or (catalog.summary() if catalog is not None else ""))
        self.changed.emit()

    # ------------------------------------------------------------------ cloud cover
    def show_cloud_cover(self, spec: Any, request: Any) -> None:
        """Compute the cloud cover of each date over `request`'s area in a background task and show it
        under the folder."""
        from ...core.errors import FlairError

        self.cloud_label.setText(tr("Reading the Sentinel-2 series over the area…"))

        def work(task: QgsTask) -> str:
            try:
                return cloud_cover_report(spec, request)
            except FlairError as exc:
                return tr("Cloud cover: {error}").format(error=exc)

        def done(exception: Exception | None, text: str | None = None) -> None:
            self.cloud_task = None
            self.cloud_label.setText(
                text if exception is None else tr("Cloud cover: {error}").format(error=exception)
            )
            self.changed.emit()

        self.cloud_task = QgsTask.fromFunction(tr("FLAIR: Sentinel-2 cloud cover"), work, on_finished=done)
        QgsApplication.taskManager().addTask(self.cloud_task)
        self.changed.emit()


def scan_sentinel2(folder: str) -> tuple[Any, str | None]:
    """(the catalog of what a Sentinel-2 folder holds, None), or (None, the problem). May run in a task;
    the run is given the catalog, so the folder is scanned once."""
    try:
        from ...core.errors import FlairError
        from ...core.sentinel2 import discover
    except ImportError as exc:
        return None, tr("Sentinel-2 folders cannot be read by this installation: {error}").format(error=exc)
    try:
        return discover(folder), None
    except FlairError as exc:
        return None, tr("Sentinel-2: {error}").format(error=exc)


def cloud_cover_report(spec: Any, request: Any) -> str:
    """Read the Sentinel-2 series over the request's area and describe each date's cloud cover.
    Blocking (it reads every date over the area); touches no widget, so it may run in a task."""
    from ...core.aerial import open_aerial
    from ...core.sentinel2 import load_series, on_ground
    from ..cloud_cover import cloud_cover, cloud_cover_text

    with open_aerial(spec.aerial, request.aerial) as aerial:
        grid = aerial.grid_for(request.area)
    series = load_series(
        request.sentinel2, grid.crs, grid.bounds, on_ground(spec.sentinel2, grid.scale), allow_partial=True
    )
    threshold = spec.sentinel2.cloud_filter.probability_threshold
    covers = cloud_cover(series.dates, series.data, series.masks, threshold)
    return cloud_cover_text(covers, threshold, spec.sentinel2.cloud_filter.max_cloudy_fraction)
