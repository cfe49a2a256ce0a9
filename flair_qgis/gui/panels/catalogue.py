"""The model panel's catalogue: the models the catalogues list, and their verified download into the
QGIS profile in a background task (progress, cancel). The network is used only when the user clicks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...adapters import settings
from ..tr import precision_text, tr


def models_folder() -> Path:
    """Where the plugin installs downloaded models: <QGIS profile>/flair_qgis/models."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "flair_qgis" / "models"


class DownloadTask(QgsTask):
    """Downloads and verifies one catalogue entry (core.models.download) with progress and cancel."""

    def __init__(self, entry: Any, dest: Path) -> None:
        super().__init__(tr("FLAIR: downloading {name}").format(name=entry.name), QgsTask.Flag.CanCancel)
        self.entry, self.dest = entry, dest
        self.result: Any = None
        self.error: str | None = None

    def run(self) -> bool:
        from ...core.errors import FlairError
        from ...core.models.download import download_model

        try:
            self.result = download_model(
                self.entry,
                self.dest,
                progress=lambda done, total, _: self.setProgress(100.0 * done / total if total else 100.0),
                cancelled=self.isCanceled,
            )
        except FlairError as exc:  # an exception escaping run() would abort QGIS
            self.error = str(exc)
            return False
        except Exception as exc:  # shown to the user: an exception escaping run() aborts QGIS
            self.error = f"{type(exc).__name__}: {exc}"
            return False
        return True


class ModelsPanel(QWidget):
    """Catalogue sources (files or https URLs), the models they list, and a Download button."""

    installed = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalogue: Any = None
        self.task: DownloadTask | None = None
        self.read_task: Any = None
        self.sources_edit = QLineEdit(str(settings.value("catalogues", "") or ""))
        self.sources_edit.setPlaceholderText(
            tr("Catalogue files or https URLs of your team (space-separated)")
        )
        self.read_button = QPushButton(tr("Read catalogues"))
        self.models_combo = QComboBox()
        self.download_button = QPushButton(tr("Download"))
        self.cancel_button = QPushButton(tr("Cancel download"))
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        sources = QHBoxLayout()
        sources.addWidget(self.sources_edit, 1)
        sources.addWidget(self.read_button)
        models = QHBoxLayout()
        models.addWidget(self.models_combo, 1)
        models.addWidget(self.download_button)
        models.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(sources)
        layout.addLayout(models)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.read_button.clicked.connect(self.read_catalogues)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel)
        self.models_combo.currentIndexChanged.connect(self._describe)
        from ...core.models.catalogue import is_url

        self._show(*self._load([s for s in self.sources() if not is_url(s)]))  # no network here

    def sources(self) -> list[str]:
        return self.sources_edit.text().split()

    @staticmethod
    def _load(sources: list[str]) -> tuple[Any, str | None]:
        """(catalogue, None) or (None, the problem); touches no widget, so it may run in a task."""
        from ...core.errors import FlairError
        from ...core.models.catalogue import load_catalogues

        try:
            return load_catalogues(sources), None
        except FlairError as exc:
            return None, str(exc)

    def read_catalogues(self) -> None:
        """Read every catalogue, fetching those given as URLs, in a background task."""
        settings.set_value("catalogues", self.sources_edit.text())
        self.status.setText(tr("Reading the catalogues…"))
        sources = self.sources()

        def work(task: Any) -> tuple[Any, str | None]:
            return self._load(sources)

        def done(exception: Exception | None, result: tuple[Any, str | None] | None = None) -> None:
            self.read_task = None
            self._show(*(result if exception is None and result else (None, str(exception))))

        self.read_task = QgsTask.fromFunction(tr("FLAIR: reading model catalogues"), work, on_finished=done)
        QgsApplication.taskManager().addTask(self.read_task)

    def _show(self, catalogue: Any, error: str | None) -> None:
        from ...core.models.catalogue import inputs_text
        from ...core.models.download import is_installed

        self.catalogue = catalogue
        self.models_combo.clear()
        for entry in catalogue.entries if catalogue is not None else ():
            state = tr("installed") if is_installed(entry, models_folder()) else f"{entry.size / 1e6:.1f} MB"
            self.models_combo.addItem(f"{entry.name} ({inputs_text(entry.inputs)}; {state})", entry.name)
        self.download_button.setEnabled(self.models_combo.count() > 0 and self.task is None)
        if error:
            self.status.setText(error)
        elif self.models_combo.count() == 0:
            self.status.setText(tr("The catalogues list no downloadable model; add your team's catalogue."))
        else:
            self._describe()

    def selected(self) -> Any:
        name = self.models_combo.currentData()
        return self.catalogue.find(name) if self.catalogue is not None and name else None

    def _describe(self, *_: Any) -> None:
        entry = self.selected()
        if entry is not None:
            self.status.setText(
                f"{entry.description}\n"
                + tr("Task: {task}; {classes} classes; licence {licence}; from {url}").format(
                    task=entry.task, classes=entry.classes, licence=entry.licence, url=entry.url
                )
                + (
                    "\n" + tr("Precision: {precision}").format(precision=precision_text(entry.precision))
                    if entry.precision
                    else ""
                )
            )

    def download(self) -> None:
        """Download the selected model in a background task; the bundle is chosen once verified."""
        entry = self.selected()
        if entry is None or self.task is not None:
            return
        self.task = DownloadTask(entry, models_folder())
        self.task.progressChanged.connect(lambda value: self.progress.setValue(int(value)))
        self.task.taskCompleted.connect(self._finished)
        self.task.taskTerminated.connect(self._finished)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(tr("Downloading {name}…").format(name=entry.name))
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _finished(self) -> None:
        task, self.task = self.task, None
        self.cancel_button.setEnabled(False)
        self.download_button.setEnabled(True)
        self.progress.setVisible(False)
        if task is None:
            return
        result = task.result
        if result is not None and result.bundle is not None:
            self.status.setText(tr("Installed (SHA-256 verified): {path}").format(path=result.bundle))
            self.installed.emit(str(result.bundle))
        elif result is not None:
            self.status.setText(result.conversion_message)
        elif task.isCanceled():
            self.status.setText(
                tr("Download cancelled; nothing was installed. Downloading again resumes it.")
            )
        else:
            self.status.setText(task.error or tr("The download failed."))
