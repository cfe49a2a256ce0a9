"""The dialog that offers to install the missing Python packages (ONNX Runtime, rasterio) into the
plugin's own folder, and says how to do it by hand when pip cannot run."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Sequence
from pathlib import Path

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..adapters import dependencies as deps
from .tr import tr


class DependenciesDialog(QDialog):
    """Lists what is missing, the pip command that would install it, and runs it in a background task."""

    def __init__(
        self,
        parent: QWidget | None = None,
        target: Path | None = None,
        dependencies: Sequence[deps.Dependency] = deps.DEPENDENCIES,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("FLAIR land cover: Python packages"))
        self.target = target or deps.default_target()
        self.dependencies = tuple(dependencies)
        self.missing = deps.missing_dependencies(self.dependencies)
        self.system = deps.from_system(self.missing)
        self.gpu = deps.has_nvidia_gpu()
        self.packages = deps.requirements(self.missing, self.gpu)
        self.python = deps.python_interpreter()
        self.gdal_problem = None if self.missing else deps.gdal_problem()
        self.task: QgsTask | None = None
        self.result: deps.InstallResult | None = None

        self.intro = intro = QLabel(self._intro())
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.install_button = QPushButton(tr("Install"))
        self.close_button = QPushButton(tr("Close"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.install_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.log, 1)
        layout.addLayout(buttons)
        self.resize(640, 420)

        self.install_button.clicked.connect(self.install)
        self.close_button.clicked.connect(self.close)
        self.refusal = self._refusal()
        if self.gdal_problem is not None:
            self.install_button.setEnabled(False)
            self.log.setPlainText(self.gdal_problem)
        elif not self.packages:  # only what the system's packages bring is missing
            self.install_button.setEnabled(False)
            self.log.setPlainText(self._manual())
        elif self.refusal is not None:
            self.install_button.setEnabled(False)
            self._write_constraints()
            self.log.setPlainText(self.refusal + "\n\n" + self._manual())
        else:
            command = deps.install_command(
                self.python, self.target, self.packages, self.target / "constraints.txt"
            )
            self.log.setPlainText(tr("Will run:") + "\n" + " ".join(command) + "\n\n" + self._manual())

    def _intro(self) -> str:
        if self.gdal_problem is not None:
            return tr(
                "The rasterio package in this QGIS carries a GDAL of its own, besides QGIS's: the maps "
                "would be wrong. Replace it with the rasterio built for this QGIS (below)."
            )
        parts = []
        if self.packages:
            names = html.escape(", ".join(self.packages))  # requirements hold < and >
            parts.append(
                tr(
                    "The plugin needs Python packages that QGIS does not have: <b>{names}</b>.<br>They can be "
                    "installed with pip into a folder of the plugin's own:<br><tt>{folder}</tt><br>The packages "
                    "QGIS already has (numpy, GDAL, attrs...) stay as they are."
                ).format(names=names, folder=html.escape(str(self.target)))
            )
            if self.gpu:
                parts.append(tr("An NVIDIA driver was found: the GPU build of ONNX Runtime is chosen."))
        if self.system:
            names = html.escape(", ".join(dep.module for dep in self.system))
            parts.append(
                tr(
                    "<b>{names}</b> must come from the same place as QGIS (your system's packages), built on "
                    "QGIS's own GDAL: see below how to install it."
                ).format(names=names)
            )
        return "<br>".join(parts)

    def _refusal(self) -> str | None:
        """Why pip cannot be run from here, or None."""
        if self.python is None or not deps.has_pip(self.python):
            return tr("pip cannot be run from QGIS here.")
        return deps.interpreter_mismatch(self.python)

    def _write_constraints(self) -> None:
        """The constraints file the manual command names, so that it can be run as shown."""
        with contextlib.suppress(OSError):  # the steps still hold; pip names the file if it is missing
            deps.write_constraints(self.target)

    def _manual(self) -> str:
        return deps.manual_steps(self.packages, self.python, self.target, self.system)

    def install(self) -> None:
        """Run pip in a background task; the outcome is shown in the log."""
        self.install_button.setEnabled(False)
        self.log.setPlainText(tr("Installing… (this downloads a few hundred MB for the GPU build)"))
        self.task = QgsTask.fromFunction(
            tr("Installing FLAIR land cover's Python packages"),
            lambda task: deps.install(self.packages, self.target, self.python),
            on_finished=self._installed,
        )
        QgsApplication.taskManager().addTask(self.task)

    def _installed(self, exception: Exception | None, result: deps.InstallResult | None = None) -> None:
        self.result = result
        if exception is not None or result is None or not result.ok:
            output = result.output if result is not None else str(exception)
            self.log.setPlainText(
                tr("The installation failed:") + "\n" + output[-4000:] + "\n\n" + self._manual()
            )
            self.install_button.setEnabled(True)
            return
        still = deps.missing_dependencies(self.dependencies)
        if still:
            names = ", ".join(d.module for d in still)
            self.log.setPlainText(
                tr("pip finished but {names} still cannot be imported; restart QGIS.").format(names=names)
                + "\n"
            )
        else:
            self.log.setPlainText(tr("Installed. The plugin is ready.") + "\n\n" + result.output[-2000:])
