"""The plugin's dialog: its panels (gui/panels/: model, bands, area, Sentinel-2, outputs, advanced) side by
side, the problems they find shown before the run, the background run followed (progress, cancel) and
the statistics of its result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qgis.core import QgsProject
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QGuiApplication, QIcon
from qgis.PyQt.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..adapters.paths import resource
from ..adapters.request_builder import RequestBuilder
from .panels.advanced import AdvancedPanel
from .panels.area import AreaPanel
from .panels.bands import BandsPanel
from .panels.model import ModelPanel
from .panels.outputs import OutputsPanel
from .panels.sentinel2 import Sentinel2Panel
from .tr import tr


class FlairDialog(QDialog):
    """Non-modal dialog; the run happens in a QgsTask fed a plain PredictionRequest (never widgets), which
    the panels build through one RequestBuilder."""

    def __init__(
        self,
        iface: Any,
        parent: QWidget | None = None,
        project: QgsProject | None = None,
        open_review: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.iface = iface
        self.project = project or QgsProject.instance()
        #: Called with the review-zones layer a run added (the plugin opens its review dock on it).
        self.open_review = open_review
        self.task = None
        self.last_task = None
        self.setWindowTitle(tr("FLAIR land cover"))
        self.setWindowIcon(QIcon(str(resource("icon.svg"))))
        self.model = ModelPanel()
        self.bands = BandsPanel(self.project)
        self.area = AreaPanel(iface, self.bands)
        self.sentinel2 = Sentinel2Panel()
        self.outputs = OutputsPanel(self.project)
        self.advanced = AdvancedPanel()
        #: Every panel; each gives its part of the request (fill) and its problems, in this order.
        self.panels = (self.model, self.bands, self.area, self.sentinel2, self.outputs, self.advanced)
        self._build()
        for panel in self.panels:
            panel.restore()
        self.bands.guess()
        self.model.changed.connect(self._bundle_changed)
        for panel in self.panels[1:]:
            panel.changed.connect(self.check)
        self.sentinel2.cloud_button.clicked.connect(self.show_cloud_cover)
        self._bundle_changed()

    def _build(self) -> None:
        content = QWidget()
        columns = QHBoxLayout(content)
        inputs, outputs = QVBoxLayout(), QVBoxLayout()
        columns.addLayout(inputs, 1)
        columns.addLayout(outputs, 1)
        for column, panels in (
            (inputs, (self.model, self.bands, self.area)),
            (outputs, (self.sentinel2, self.outputs, self.advanced)),
        ):
            for panel in panels:
                column.addWidget(panel)
            column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)

        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #b00020;")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.progress_bar.setVisible(False)
        self.progress_label.setVisible(False)
        self.statistics_table = QTableWidget(0, 4)
        self.statistics_table.setHorizontalHeaderLabels([tr("Code"), tr("Class"), tr("Hectares"), "%"])
        self.statistics_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.statistics_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.statistics_table.verticalHeader().setVisible(False)
        self.statistics_table.setMaximumHeight(170)
        self.statistics_table.setVisible(False)
        self.copy_button = QPushButton(tr("Copy statistics"))
        self.copy_button.setVisible(False)
        self.copy_button.clicked.connect(self.copy_statistics)
        self.run_button = QPushButton(tr("Run"))
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton(tr("Cancel run"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton(tr("Close"))
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        for button in (self.run_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.statistics_table)
        layout.addLayout(buttons)
        self.resize(1100, 820)

    def _bundle_changed(self) -> None:
        """Show the band rows and the Sentinel-2 panel the chosen model reads."""
        self.sentinel2.setVisible(self.model.needs_sentinel2())
        self.bands.show_bands(self.model.aerial_bands())  # checks (changed)

    def remember(self) -> None:
        for panel in self.panels:
            panel.remember()

    # ------------------------------------------------------------------ checks
    def problems(self) -> list[str]:
        """Everything that would make the run fail, in words the user can act on."""
        from ..adapters.dependencies import gdal_problem, missing_dependencies

        missing = missing_dependencies()
        if missing:
            return [
                tr(
                    "Python packages missing from QGIS: {packages} (use the plugin's installer or see its "
                    "manual steps)."
                ).format(packages=", ".join(dep.module for dep in missing))
            ]
        second_gdal = gdal_problem()
        if second_gdal is not None:
            return [second_gdal]
        spec = self.model.spec
        problems = self.model.problems() + self.bands.problems()
        if spec is not None and spec.needs_sentinel2:
            problems += self.sentinel2.problems()
        return problems + self.area.problems() + self.outputs.problems() + self.advanced.problems()

    def check(self, *_: Any) -> list[str]:
        """Show the current problems and allow the run only when there is none."""
        problems = self.problems()
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        self.run_button.setEnabled(not problems and self.task is None)
        self.sentinel2.cloud_button.setEnabled(not problems and self.sentinel2.cloud_task is None)
        return problems

    # ------------------------------------------------------------------ running
    def request(self) -> Any:
        """The engine's PredictionRequest of the panels' choices (sources built here, in the main thread)."""
        canvas_crs = self.iface.mapCanvas().mapSettings().destinationCrs() if self.iface is not None else None
        builder = RequestBuilder(self.model.bundle, canvas_crs or self.project.crs())
        for panel in self.panels:
            panel.fill(builder)
        return builder.build()

    def _request_or_problem(self) -> Any:
        """The request, or None after showing why it cannot be made (an area or layer the engine refuses)."""
        from ..core.errors import FlairError

        try:
            return self.request()
        except (FlairError, ValueError) as exc:
            self.problems_label.setText(f"• {exc}")
            self.problems_label.setVisible(True)
            return None

    def show_cloud_cover(self) -> None:
        """The cloud cover of each Sentinel-2 date over the area, computed in a background task."""
        if self.check() or self.sentinel2.cloud_task is not None:
            return
        request = self._request_or_problem()  # sources built here, in the main thread
        if request is not None:
            self.sentinel2.show_cloud_cover(self.model.spec, request)

    def run(self) -> None:
        """Start the background run (after a last check)."""
        from .task import PredictionTask, start

        if self.check() or self.task is not None:
            return
        self.remember()
        request = self._request_or_problem()
        if request is None:
            return
        title = Path(request.output).stem
        message_bar = self.iface.messageBar() if self.iface is not None else None
        self.task = PredictionTask(
            request,
            title,
            project=self.project,
            message_bar=message_bar,
            on_done=self._finished,
            nomenclature=self.model.spec.nomenclature,
            review=self.outputs.review_request(),
        )
        self.task.progressChanged.connect(self._progress)
        self.statistics_table.setVisible(False)
        self.copy_button.setVisible(False)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.progress_label.setVisible(True)
        self.progress_label.setText(tr("Starting…"))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        start(self.task)

    def _progress(self, value: float) -> None:
        self.progress_bar.setValue(int(value))
        if self.task is not None and self.task.message:
            self.progress_label.setText(self.task.message)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.progress_label.setText(tr("Cancelling…"))

    def _finished(self, task: Any) -> None:
        self.last_task, self.task = task, None
        self.cancel_button.setEnabled(False)
        if task.result is not None:
            self.progress_bar.setValue(100)
            self.progress_label.setText(tr("Done: {path}").format(path=task.result.class_raster))
            self.show_statistics(task.result.statistics)
            self.outputs.new_output()
            notes = list(task.review.errors) if task.review is not None else []
            notes += [tr("Warning: {text}").format(text=warning) for warning in task.warnings]
            if notes:
                self.progress_label.setText(
                    tr("Done: {path}").format(path=task.result.class_raster) + "\n" + "\n".join(notes)
                )
            if task.zones_layer is not None and self.open_review is not None:
                self.open_review(task.zones_layer)
        else:
            self.progress_bar.setValue(0)
            self.progress_label.setText(str(task.error))
        self.check()

    def show_statistics(self, rows: list[Any]) -> None:
        """Fill the statistics table (class, hectares, %)."""
        from ..core.statistics_table import statistics_rows

        values = statistics_rows(rows)
        self.statistics_table.setRowCount(len(values))
        for index, (code, name, hectares, percent) in enumerate(values):
            for column, text in enumerate((str(code), name, f"{hectares:.4f}", f"{percent:.2f}")):
                item = QTableWidgetItem(text)
                if column != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.statistics_table.setItem(index, column, item)
        self.statistics_table.setVisible(True)
        self.copy_button.setVisible(True)

    def statistics_tsv(self) -> str:
        """The statistics table as tab-separated text (pastes into a spreadsheet)."""
        table = self.statistics_table
        lines = ["\t".join(table.horizontalHeaderItem(c).text() for c in range(table.columnCount()))]
        for row in range(table.rowCount()):
            lines.append("\t".join(table.item(row, c).text() for c in range(table.columnCount())))
        return "\n".join(lines)

    def copy_statistics(self) -> None:
        QGuiApplication.clipboard().setText(self.statistics_tsv())

    def closeEvent(self, event: Any) -> None:
        self.remember()
        super().closeEvent(event)
