"""The QGIS plugin object: toolbar button, Raster-menu entry and Processing provider."""

from __future__ import annotations

from qgis.core import QgsApplication, QgsVectorLayer
from qgis.PyQt.QtGui import QIcon

from .adapters.compat import QAction
from .adapters.paths import resource
from .gui.tr import install_translation, remove_translation, tr

MENU = "&FLAIR land cover"


class FlairPlugin:
    """Created by QGIS through `classFactory`; owns everything the plugin adds to the interface."""

    def __init__(self, iface) -> None:
        from .adapters.dependencies import activate, default_target

        # Packages the plugin installed itself (see adapters/dependencies.py) are importable from now on.
        activate(default_target())
        # French when QGIS runs in French: before any label or Processing description is made.
        install_translation()
        self.iface = iface
        self.action: QAction | None = None
        self.provider = None
        self.dialog = None
        self.inspect_action: QAction | None = None
        self.review_action: QAction | None = None
        self.corrections_action: QAction | None = None
        self.inspect_panel = None
        self.inspect_tool = None
        self.review_dock = None

    def initProcessing(self) -> None:
        from .processing.provider import FlairProvider

        provider = FlairProvider()
        # The registry refuses (and deletes) a second provider with the same id.
        self.provider = provider if QgsApplication.processingRegistry().addProvider(provider) else None

    def initGui(self) -> None:
        self.initProcessing()
        self.action = QAction(QIcon(str(resource("icon.svg"))), "FLAIR land cover…", self.iface.mainWindow())
        self.action.setObjectName("flair_qgis_run")
        self.action.setToolTip(tr("Map land cover from aerial imagery and Sentinel-2 (FLAIR #2 U-T&T)"))
        self.action.triggered.connect(self.show_dialog)
        self.iface.addToolBarIcon(self.action)
        self.iface.addPluginToRasterMenu(MENU, self.action)
        self._add_review_actions()

    def _add_review_actions(self) -> None:
        from .gui.tr import tr

        window = self.iface.mainWindow()
        self.inspect_action = QAction(
            QgsApplication.getThemeIcon("/mActionIdentify.svg"), tr("FLAIR inspect"), window
        )
        self.inspect_action.setObjectName("flair_qgis_inspect")
        self.inspect_action.setToolTip(
            tr("Click a pixel of a FLAIR map: its class, confidence and top 3 classes")
        )
        self.inspect_action.setCheckable(True)
        self.inspect_action.triggered.connect(self.activate_inspect)
        self.review_action = QAction(
            QgsApplication.getThemeIcon("/mActionOpenTable.svg"), tr("FLAIR review"), window
        )
        self.review_action.setObjectName("flair_qgis_review")
        self.review_action.setToolTip(tr("Walk through the low-confidence zones and record a verdict"))
        self.review_action.triggered.connect(lambda: self.show_review_dock())
        self.corrections_action = QAction(
            QgsApplication.getThemeIcon("/mActionCapturePolygon.svg"), tr("FLAIR corrections"), window
        )
        self.corrections_action.setObjectName("flair_qgis_corrections")
        self.corrections_action.setToolTip(
            tr("Draw corrections of the selected FLAIR map: polygons with the right class")
        )
        self.corrections_action.triggered.connect(lambda: self.edit_corrections())
        for action in (self.inspect_action, self.review_action, self.corrections_action):
            self.iface.addToolBarIcon(action)
            self.iface.addPluginToRasterMenu(MENU, action)

    def edit_corrections(self) -> QgsVectorLayer | None:
        """Open (or create) the corrections of the map the selected layer belongs to, in edit mode with
        QGIS's polygon tool; returns the layer, None after saying what to select."""
        from qgis.core import Qgis

        from .gui.corrections import corrections_layer, map_of
        from .gui.tr import tr
        from .review.geopackage import GeoPackageError
        from .review.result import ResultError

        classes = map_of(self.iface.activeLayer())
        if classes is None:
            self.iface.messageBar().pushMessage(
                tr("FLAIR corrections"),
                tr("Select a FLAIR land-cover layer (or its polygons or review zones) in the Layers panel."),
                Qgis.MessageLevel.Info,
                8,
            )
            return None
        try:
            layer = corrections_layer(classes)
        except (ResultError, GeoPackageError) as exc:
            self.iface.messageBar().pushMessage(
                tr("FLAIR corrections"), str(exc), Qgis.MessageLevel.Warning, 0
            )
            return None
        self.iface.setActiveLayer(layer)
        layer.startEditing()
        self.iface.actionAddFeature().trigger()
        return layer

    def activate_inspect(self) -> None:
        from qgis.PyQt.QtCore import Qt

        from .gui.inspect_tool import InspectPanel, InspectTool

        if self.inspect_panel is None:
            self.inspect_panel = InspectPanel(self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspect_panel)
        if self.inspect_tool is None:
            self.inspect_tool = InspectTool(
                self.iface.mapCanvas(), self.inspect_panel, self.iface.activeLayer
            )
            self.inspect_tool.setAction(self.inspect_action)
        self.iface.mapCanvas().setMapTool(self.inspect_tool)
        self.inspect_panel.show()

    def show_review_dock(self, layer: QgsVectorLayer | None = None) -> None:
        """Show the review dock; on `layer` (a review-zones layer of the project) when given."""
        from qgis.PyQt.QtCore import Qt

        from .gui.review_dock import ReviewDock

        if self.review_dock is None:
            self.review_dock = ReviewDock(self.iface.mapCanvas(), parent=self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.review_dock)
        self.review_dock.refresh_layers()
        if layer is not None:
            self.review_dock.set_layer(layer)
        self.review_dock.show()
        self.review_dock.raise_()

    def _remove_review_actions(self) -> None:
        if self.inspect_tool is not None:
            if self.iface.mapCanvas().mapTool() is self.inspect_tool:
                self.iface.mapCanvas().unsetMapTool(self.inspect_tool)
            self.inspect_tool.deleteLater()
            self.inspect_tool = None
        for dock in (self.inspect_panel, self.review_dock):
            if dock is not None:
                self.iface.removeDockWidget(dock)
                dock.deleteLater()
        self.inspect_panel = self.review_dock = None
        for action in (self.inspect_action, self.review_action, self.corrections_action):
            if action is not None:
                self.iface.removePluginRasterMenu(MENU, action)
                self.iface.removeToolBarIcon(action)
                action.deleteLater()
        self.inspect_action = self.review_action = self.corrections_action = None

    def unload(self) -> None:
        self._remove_review_actions()
        remove_translation()
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
        from .adapters.dependencies import gdal_problem, missing_dependencies

        if missing_dependencies() or gdal_problem():
            from .gui.dependencies_dialog import DependenciesDialog

            DependenciesDialog(self.iface.mainWindow()).exec()
            if missing_dependencies() or gdal_problem():
                return
        from .gui.dialog import FlairDialog

        if self.dialog is None:
            self.dialog = FlairDialog(
                self.iface, parent=self.iface.mainWindow(), open_review=self.show_review_dock
            )
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
