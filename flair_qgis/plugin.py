"""The QGIS plugin object: toolbar button, Raster-menu entry and Processing provider."""

from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .paths import resource

MENU = "&FLAIR land cover"


class FlairPlugin:
    """Created by QGIS through `classFactory`; owns everything the plugin adds to the interface."""

    def __init__(self, iface) -> None:
        from .dependencies import activate, default_target

        # Packages the plugin installed itself (see dependencies.py) are importable from now on.
        activate(default_target())
        self.iface = iface
        self.action: QAction | None = None
        self.provider = None
        self.dialog = None

    def initProcessing(self) -> None:
        from .processing.provider import FlairProvider

        provider = FlairProvider()
        # The registry refuses (and deletes) a second provider with the same id.
        self.provider = provider if QgsApplication.processingRegistry().addProvider(provider) else None

    def initGui(self) -> None:
        self.initProcessing()
        self.action = QAction(QIcon(str(resource("icon.svg"))), "FLAIR land cover…", self.iface.mainWindow())
        self.action.setObjectName("flair_qgis_run")
        self.action.setToolTip("Map land cover from aerial imagery and Sentinel-2 (FLAIR #2 U-T&T)")
        self.action.triggered.connect(self.show_dialog)
        self.iface.addToolBarIcon(self.action)
        self.iface.addPluginToRasterMenu(MENU, self.action)

    def unload(self) -> None:
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.dialog is not None:
            if self.dialog.task is not None:  # a run must not outlive the plugin's code
                self.dialog.task.cancel()
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def show_dialog(self) -> None:
        from .dependencies import missing_dependencies

        if missing_dependencies():
            from .gui.dependencies_dialog import DependenciesDialog

            DependenciesDialog(self.iface.mainWindow()).exec_()
            if missing_dependencies():
                return
        from .gui.dialog import FlairDialog

        if self.dialog is None:
            self.dialog = FlairDialog(self.iface, parent=self.iface.mainWindow())
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
