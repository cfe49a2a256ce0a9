"""The plugin's dialog: choose the aerial bands, Sentinel-2 folder, model bundle, area and outputs, see
input problems before running, follow the background run and read the statistics of its result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsMapLayerProxyModel,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.gui import (
    QgsCollapsibleGroupBox,
    QgsFileWidget,
    QgsMapLayerComboBox,
    QgsMapToolExtent,
    QgsRasterBandComboBox,
)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QGuiApplication, QIcon
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..adapters import settings
from ..adapters.bands import LayerBands, default_mapping, missing_bands
from ..adapters.paths import resource
from ..adapters.sources import COLOUR_BANDS, band_count, is_colour_service
from ..adapters.styling import qgis_language
from ..core.bundle_spec import AERIAL_BANDS
from ..core.output_kinds import output_kind, output_kinds
from .tr import precision_text, tr

AREA_MODES = (
    ("layer", tr("Whole aerial image")),
    ("canvas", tr("Current map view")),
    ("drawn", tr("Rectangle drawn on the map")),
    ("polygons", tr("Selected polygons of a layer")),
)


def band_label(name: str) -> str:
    """The name of a model band in the dialog, in QGIS's language."""
    labels = {"red": tr("Red"), "green": tr("Green"), "blue": tr("Blue"), "nir": tr("Near infrared"),
              "elevation": tr("Elevation")}  # fmt: skip
    return labels.get(name, name)


DEVICES = (("auto", tr("Automatic (GPU when available)")), ("gpu", tr("GPU")), ("cpu", tr("CPU")))


class FlairDialog(QDialog):
    """Non-modal dialog; the run happens in a QgsTask fed a plain PredictionRequest (never widgets)."""

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
        self.bundle = None
        self.bundle_error: str | None = None
        self.sentinel2_error: str | None = None
        #: The Sentinel-2 catalog of the chosen folder, once scanned (handed to the run: scanned once).
        self.sentinel2_catalog = None
        self.drawn: tuple[QgsRectangle, str] | None = None
        self.task = None
        self.last_task = None
        self.cloud_task = None
        self.sentinel2_task = None
        self._sentinel2_scan = 0
        self._scans: dict[int, Any] = {}
        self._map_tool = None
        self._previous_tool = None
        #: A check box per optional output (output_kinds), by kind.
        self.output_checks: dict[str, QCheckBox] = {}
        self.setWindowTitle(tr("FLAIR land cover"))
        self.setWindowIcon(QIcon(str(resource("icon.svg"))))
        self._build()
        self._restore()
        self.apply_default_bands()
        self._connect()
        self.check()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        content = QWidget()
        columns = QHBoxLayout(content)
        inputs, outputs = QVBoxLayout(), QVBoxLayout()
        columns.addLayout(inputs, 1)
        columns.addLayout(outputs, 1)
        inputs.addWidget(self._build_model())
        inputs.addWidget(self._build_aerial())
        inputs.addWidget(self._build_area())
        inputs.addStretch(1)
        outputs.addWidget(self._build_sentinel2())
        outputs.addWidget(self._build_output())
        outputs.addWidget(self._build_review_outputs())
        outputs.addWidget(self._build_advanced())
        outputs.addStretch(1)
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
        self.run_button = QPushButton(tr("Run"))
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton(tr("Cancel run"))
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton(tr("Close"))
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

    def _build_model(self) -> QGroupBox:
        box = QGroupBox(tr("Model bundle"))
        form = QFormLayout(box)
        self.bundle_widget = QgsFileWidget()
        self.bundle_widget.setFilter("ONNX model bundles (*.onnx)")
        self.bundle_info = QLabel(tr("Choose a model bundle (.onnx)."))
        self.bundle_info.setWordWrap(True)
        self.bundle_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(tr("File"), self.bundle_widget)
        form.addRow(self.bundle_info)
        from .models_panel import ModelsPanel

        self.models_panel = ModelsPanel(box)
        self.models_panel.installed.connect(self.bundle_widget.setFilePath)
        form.addRow(tr("Catalogue"), self.models_panel)
        return box

    def _build_aerial(self) -> QGroupBox:
        box = QGroupBox(tr("Aerial image bands"))
        grid = QGridLayout(box)
        self.band_layers: dict[str, QgsMapLayerComboBox] = {}
        self.band_numbers: dict[str, QgsRasterBandComboBox] = {}
        self.band_labels: dict[str, QLabel] = {}
        for row, name in enumerate(AERIAL_BANDS):
            label = QLabel(band_label(name))
            layers = QgsMapLayerComboBox()
            layers.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
            layers.setAllowEmptyLayer(True)
            layers.setLayer(None)
            bands = QgsRasterBandComboBox()
            layers.layerChanged.connect(bands.setLayer)
            grid.addWidget(label, row, 0)
            grid.addWidget(layers, row, 1)
            grid.addWidget(bands, row, 2)
            self.band_labels[name], self.band_layers[name], self.band_numbers[name] = label, layers, bands
        self.guess_button = QPushButton(tr("Guess from the project's layers"))
        grid.addWidget(self.guess_button, len(AERIAL_BANDS), 1, 1, 2)
        grid.setColumnStretch(1, 1)
        return box

    def _build_sentinel2(self) -> QGroupBox:
        self.sentinel2_box = QGroupBox(tr("Sentinel-2 acquisitions"))
        form = QFormLayout(self.sentinel2_box)
        self.sentinel2_widget = QgsFileWidget()
        self.sentinel2_widget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.sentinel2_summary = QLabel(tr("Choose the folder of Sentinel-2 products covering the area."))
        self.sentinel2_summary.setWordWrap(True)
        self.cloud_button = QPushButton(tr("Cloud cover over the area"))
        self.cloud_label = QLabel()
        self.cloud_label.setWordWrap(True)
        self.cloud_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cloud_label.setStyleSheet("font-family: monospace;")
        form.addRow(tr("Folder"), self.sentinel2_widget)
        form.addRow(self.sentinel2_summary)
        form.addRow(self.cloud_button)
        form.addRow(self.cloud_label)
        return self.sentinel2_box

    def _build_area(self) -> QGroupBox:
        box = QGroupBox(tr("Area"))
        form = QFormLayout(box)
        self.area_mode = QComboBox()
        for key, label in AREA_MODES:
            self.area_mode.addItem(label, key)
        self.draw_button = QPushButton(tr("Draw a rectangle on the map"))
        self.drawn_label = QLabel(tr("No rectangle drawn yet."))
        self.area_layer = QgsMapLayerComboBox()
        self.area_layer.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        form.addRow(tr("Map"), self.area_mode)
        form.addRow(self.draw_button, self.drawn_label)
        form.addRow(tr("Polygons"), self.area_layer)
        return box

    def _build_output(self) -> QGroupBox:
        box = QGroupBox(tr("Outputs"))
        form = QFormLayout(box)
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output_widget.setFilter("GeoTIFF (*.tif)")
        self.overwrite_check = QCheckBox(tr("Replace the file if it exists"))
        self.present_only_check = QCheckBox(tr("List only the classes present in the legend"))
        form.addRow(tr("Land cover"), self.output_widget)
        form.addRow(self.overwrite_check)
        self._add_output_checks(form, by_engine=True)
        form.addRow(self.present_only_check)
        return box

    def _add_output_checks(
        self, form: QFormLayout, by_engine: bool, settings_rows: dict | None = None
    ) -> None:
        """A check box per optional output of the table (output_kinds) the engine writes (`by_engine`) or
        the review writes after it, each followed by its settings rows."""
        for kind in output_kinds():
            if kind.checkbox is None or kind.by_engine != by_engine:
                continue
            check = QCheckBox(tr(kind.checkbox))
            if kind.hint:
                check.setToolTip(tr(kind.hint))
            self.output_checks[kind.name] = check
            form.addRow(check)
            for label, widget in (settings_rows or {}).get(kind.name, ()):
                form.addRow(label, widget)

    def _build_review_outputs(self) -> QGroupBox:
        """Polygons with a minimum mapping unit and the review zones, written beside the map after it."""
        box = QGroupBox(tr("For review"))
        form = QFormLayout(box)
        self.mmu_spin = QDoubleSpinBox()
        self.mmu_spin.setRange(0.0, 1_000_000.0)
        self.mmu_spin.setDecimals(1)
        self.mmu_spin.setSuffix(" m²")
        self.mmu_spin.setToolTip(tr("0 keeps every region, down to one pixel"))
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.05, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setToolTip(tr("Pixels whose confidence is under this value (0..1) are to review"))
        self.min_zone_spin = QDoubleSpinBox()
        self.min_zone_spin.setRange(0.0, 1_000_000.0)
        self.min_zone_spin.setDecimals(1)
        self.min_zone_spin.setSuffix(" m²")
        rows = {
            "polygons": [(tr("Minimum mapping unit"), self.mmu_spin)],
            "review_zones": [
                (tr("Confidence under"), self.threshold_spin),
                (tr("Smallest zone"), self.min_zone_spin),
            ],
        }
        self._add_output_checks(form, by_engine=False, settings_rows=rows)
        return box

    def review_request(self) -> Any:
        """The review outputs asked for (review.beside_map.ReviewRequest)."""
        from ..review.beside_map import ReviewRequest

        return ReviewRequest(
            polygons=self.output_checks["polygons"].isChecked(),
            mmu_m2=self.mmu_spin.value(),
            zones=self.output_checks["review_zones"].isChecked(),
            threshold=self.threshold_spin.value(),
            min_zone_m2=self.min_zone_spin.value(),
        )

    def _review_toggled(self, *_: Any) -> None:
        checks = self.output_checks
        self.mmu_spin.setEnabled(checks["polygons"].isChecked())
        for widget in (self.threshold_spin, self.min_zone_spin):
            widget.setEnabled(checks["review_zones"].isChecked())
        if checks["review_zones"].isChecked() and not checks["confidence"].isChecked():
            checks["confidence"].setChecked(True)  # the zones are made from it
        self.check()

    def _build_advanced(self) -> QgsCollapsibleGroupBox:
        box = QgsCollapsibleGroupBox(tr("Device and advanced settings"))
        form = QFormLayout(box)
        self.device_combo = QComboBox()
        for key, label in DEVICES:
            self.device_combo.addItem(label, key)
        self.device_info = QLabel(self._devices_text())
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
        return box

    @staticmethod
    def _devices_text() -> str:
        try:
            from ..core.runtime import available_devices

            found = available_devices()
        except ImportError:
            return tr("ONNX Runtime is not installed.")
        return tr("ONNX Runtime found: {providers}").format(
            providers=", ".join(p.replace("ExecutionProvider", "") for p in found)
        )

    def _connect(self) -> None:
        self.bundle_widget.fileChanged.connect(self._bundle_changed)
        self.sentinel2_widget.fileChanged.connect(self._sentinel2_changed)
        self.output_widget.fileChanged.connect(self.check)
        self.overwrite_check.toggled.connect(self.check)
        self.output_checks["confidence"].toggled.connect(self.check)
        for name in ("polygons", "review_zones"):
            self.output_checks[name].toggled.connect(self._review_toggled)
        self._review_toggled()
        for name in AERIAL_BANDS:
            self.band_layers[name].layerChanged.connect(lambda _, name=name: self._layer_changed(name))
            self._layer_changed(name)
            self.band_layers[name].layerChanged.connect(self.check)
            self.band_numbers[name].bandChanged.connect(self.check)
        self.guess_button.clicked.connect(self.apply_default_bands)
        self.area_mode.currentIndexChanged.connect(self._area_mode_changed)
        self.area_layer.layerChanged.connect(self.check)
        self.draw_button.clicked.connect(self.start_drawing)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.copy_button.clicked.connect(self.copy_statistics)
        self.cloud_button.clicked.connect(self.show_cloud_cover)
        self._area_mode_changed()

    # ------------------------------------------------------------------ settings
    def _restore(self) -> None:
        self.bundle_widget.setFilePath(settings.bundle())
        self._bundle_changed()
        self.sentinel2_widget.setFilePath(str(settings.value("sentinel2", "") or ""))
        self._sentinel2_changed()
        self.output_widget.setFilePath(self.default_output())
        for name, check in self.output_checks.items():  # a setting per output, named after it
            check.setChecked(settings.value(name, output_kind(name).default, bool))
        self.present_only_check.setChecked(settings.value("legend_present_only", False, bool))
        self._restore_review()
        self._select(self.device_combo, settings.value("device", "auto"))
        self._select(self.area_mode, settings.value("area", "layer"))
        self.overlap_spin.setValue(settings.value("overlap", -1, int))
        self.batch_spin.setValue(settings.value("batch_size", 4, int))

    def _restore_review(self) -> None:
        from ..review.beside_map import DEFAULT_MIN_ZONE_M2, DEFAULT_MMU_M2, DEFAULT_THRESHOLD

        self.mmu_spin.setValue(settings.value("polygons_mmu_m2", DEFAULT_MMU_M2, float))
        self.threshold_spin.setValue(settings.value("review_threshold", DEFAULT_THRESHOLD, float))
        self.min_zone_spin.setValue(settings.value("review_min_zone_m2", DEFAULT_MIN_ZONE_M2, float))

    def _remember(self) -> None:
        settings.set_value("bundle", self.bundle_widget.filePath())
        settings.set_value("sentinel2", self.sentinel2_widget.filePath())
        settings.set_value("output_folder", str(Path(self.output_widget.filePath()).parent))
        for name, check in self.output_checks.items():
            settings.set_value(name, check.isChecked())
        settings.set_value("legend_present_only", self.present_only_check.isChecked())
        settings.set_value("polygons_mmu_m2", self.mmu_spin.value())
        settings.set_value("review_threshold", self.threshold_spin.value())
        settings.set_value("review_min_zone_m2", self.min_zone_spin.value())
        settings.set_value("device", self.device_combo.currentData())
        settings.set_value("area", self.area_mode.currentData())
        settings.set_value("overlap", self.overlap_spin.value())
        settings.set_value("batch_size", self.batch_spin.value())

    @staticmethod
    def _select(combo: QComboBox, key: Any) -> None:
        index = combo.findData(key)
        if index >= 0:
            combo.setCurrentIndex(index)

    def default_output(self) -> str:
        """A new file name beside the project (else in the last output folder, else the home folder)."""
        folder = self.project.homePath() or settings.value("output_folder", "") or str(Path.home())
        candidate = Path(folder) / "landcover.tif"
        index = 2
        while candidate.exists():
            candidate = Path(folder) / f"landcover_{index}.tif"
            index += 1
        return str(candidate)

    # ------------------------------------------------------------------ inputs
    def apply_default_bands(self) -> None:
        """Fill the band rows from the project's raster layers (band counts and names)."""
        layers = [layer for layer in self.project.mapLayers().values() if isinstance(layer, QgsRasterLayer)]
        described = [LayerBands(layer.id(), layer.name(), band_count(layer)) for layer in layers]
        mapping = default_mapping(described)
        for name in AERIAL_BANDS:
            choice = mapping.get(name)
            layer = self.project.mapLayer(choice[0]) if choice else None
            self.band_layers[name].setLayer(layer)
            self.band_numbers[name].setLayer(layer)
            if choice and not is_colour_service(layer):
                self.band_numbers[name].setBand(choice[1])

    def band_mapping(self) -> dict[str, tuple[str, int] | None]:
        """The chosen (layer id, band) per model band, None where no layer is chosen. A colour service
        (WMS, XYZ...) gives its red, green and blue as bands 1, 2, 3 and nothing else."""
        mapping: dict[str, tuple[str, int] | None] = {}
        for name in AERIAL_BANDS:
            layer = self.band_layers[name].currentLayer()
            if layer is not None and is_colour_service(layer):
                mapping[name] = (layer.id(), COLOUR_BANDS.index(name) + 1) if name in COLOUR_BANDS else None
                continue
            band = self.band_numbers[name].currentBand()
            mapping[name] = (layer.id(), band) if layer is not None and band > 0 else None
        return mapping

    def _layer_changed(self, name: str) -> None:
        """A colour service's band is implied by the row (red, green, blue): its band list is disabled."""
        layer = self.band_layers[name].currentLayer()
        self.band_numbers[name].setEnabled(layer is None or not is_colour_service(layer))

    def model_bands(self) -> tuple[str, ...]:
        return self.bundle.spec.aerial.bands if self.bundle is not None else AERIAL_BANDS

    def _bundle_changed(self, *_: Any) -> None:
        path = self.bundle_widget.filePath()
        self.bundle, self.bundle_error = None, None
        if not path:
            self.bundle_error = tr("Choose a model bundle (.onnx).")
            self.bundle_info.setText(self.bundle_error)
        else:
            try:
                from ..core.bundle import load_bundle
                from ..core.errors import FlairError

                try:
                    self.bundle = load_bundle(path)
                except FlairError as exc:
                    self.bundle_error = tr("The model bundle cannot be used: {error}").format(error=exc)
            except ImportError as exc:
                self.bundle_error = tr("The plugin's dependencies are missing: {error}").format(error=exc)
            self.bundle_info.setText(self.bundle_error or bundle_summary(self.bundle.spec))
        needs_sentinel2 = self.bundle is None or self.bundle.spec.needs_sentinel2
        self.sentinel2_box.setVisible(needs_sentinel2)
        for name in AERIAL_BANDS:
            used = name in self.model_bands()
            for widget in (self.band_labels[name], self.band_layers[name], self.band_numbers[name]):
                widget.setVisible(used)
        if hasattr(self, "problems_label"):
            self.check()

    def _sentinel2_changed(self, *_: Any) -> None:
        """Scan the chosen folder in a background task (products may be many, zipped, on a network
        drive); until it is done the folder counts as a problem."""
        folder = self.sentinel2_widget.filePath()
        self._sentinel2_scan += 1
        self.sentinel2_task = None
        if not folder:
            self._show_sentinel2(None, tr("Choose the Sentinel-2 folder."))
            return
        if not Path(folder).is_dir():
            self._show_sentinel2(None, tr("Sentinel-2: {folder} is not a folder.").format(folder=folder))
            return
        self._show_sentinel2(None, tr("Reading the Sentinel-2 folder…"))
        scan = self._sentinel2_scan

        def work(task: Any) -> tuple[Any, str | None]:
            return scan_sentinel2(folder)

        def done(exception: Exception | None, result: tuple[Any, str | None] | None = None) -> None:
            self._scans.pop(scan, None)
            if scan != self._sentinel2_scan:  # the folder changed meanwhile
                return
            self.sentinel2_task = None
            if exception is not None or result is None:
                self._show_sentinel2(None, tr("Sentinel-2: {error}").format(error=exception))
            else:
                self._show_sentinel2(*result)

        from qgis.core import QgsApplication, QgsTask

        self.sentinel2_task = QgsTask.fromFunction(
            tr("FLAIR: reading the Sentinel-2 folder"), work, on_finished=done
        )
        self._scans[scan] = self.sentinel2_task  # every running scan keeps a Python reference
        QgsApplication.taskManager().addTask(self.sentinel2_task)

    def _show_sentinel2(self, catalog: Any, error: str | None) -> None:
        """Show the scan's outcome; its catalog (None until a scan succeeds) is what the run reads."""
        self.sentinel2_error = error
        self.sentinel2_catalog = catalog
        self.sentinel2_summary.setText(error or (catalog.summary() if catalog is not None else ""))
        if hasattr(self, "problems_label"):
            self.check()

    def _area_mode_changed(self, *_: Any) -> None:
        mode = self.area_mode.currentData()
        self.draw_button.setEnabled(mode == "drawn")
        self.area_layer.setEnabled(mode == "polygons")
        self.check()

    # ------------------------------------------------------------------ drawing
    def start_drawing(self) -> None:
        """Let the user drag a rectangle on the map canvas; the dialog hides meanwhile."""
        canvas = self.iface.mapCanvas()
        self._previous_tool = canvas.mapTool()
        self._map_tool = QgsMapToolExtent(canvas)
        self._map_tool.extentChanged.connect(self._rectangle_drawn)
        canvas.setMapTool(self._map_tool)
        self.hide()

    def _rectangle_drawn(self, rectangle: QgsRectangle) -> None:
        canvas = self.iface.mapCanvas()
        self.set_drawn_rectangle(rectangle, canvas.mapSettings().destinationCrs().toWkt())
        if self._previous_tool is not None:
            canvas.setMapTool(self._previous_tool)
        else:
            canvas.unsetMapTool(self._map_tool)
        self.show()
        self.raise_()

    def set_drawn_rectangle(self, rectangle: QgsRectangle, crs_wkt: str) -> None:
        self.drawn = (QgsRectangle(rectangle), crs_wkt)
        self.drawn_label.setText(
            tr("{width:.1f} x {height:.1f} map units at ({x:.1f}, {y:.1f})").format(
                width=rectangle.width(),
                height=rectangle.height(),
                x=rectangle.xMinimum(),
                y=rectangle.yMinimum(),
            )
        )
        self._select(self.area_mode, "drawn")
        self.check()

    # ------------------------------------------------------------------ checks
    def problems(self) -> list[str]:
        """Everything that would make the run fail, in words the user can act on."""
        from ..adapters.dependencies import gdal_problem, missing_dependencies

        problems = []
        missing = missing_dependencies()
        if missing:
            problems.append(
                tr(
                    "Python packages missing from QGIS: {packages} (use the plugin's installer or see its "
                    "manual steps)."
                ).format(packages=", ".join(dep.module for dep in missing))
            )
            return problems
        second_gdal = gdal_problem()
        if second_gdal is not None:
            return [second_gdal]
        if self.bundle_error:
            problems.append(self.bundle_error)
        problems += self._band_problems()
        if self.bundle is not None and self.bundle.spec.needs_sentinel2 and self.sentinel2_error:
            problems.append(self.sentinel2_error)
        problems += self._area_problems()
        problems += self._output_problems()
        return problems

    def _band_problems(self) -> list[str]:
        mapping = self.band_mapping()
        bands = self.model_bands()
        problems = []
        for name in bands:
            layer = self.band_layers[name].currentLayer()
            if layer is not None and is_colour_service(layer) and name not in COLOUR_BANDS:
                return [
                    tr(
                        "'{layer}' is a colour image service (red, green, blue only): choose another layer "
                        "for {band}."
                    ).format(layer=layer.name(), band=band_label(name))
                ]
        missing = missing_bands(mapping, bands)
        if missing:
            names = ", ".join(band_label(name) for name in missing)
            problems.append(tr("Choose a layer for the model's band(s): {names}.").format(names=names))
        return problems

    def _area_problems(self) -> list[str]:
        from ..adapters.sources import has_pixel_grid, layer_file

        mode = self.area_mode.currentData()
        if mode == "layer":
            for name in self.model_bands():
                layer = self.band_layers[name].currentLayer()
                if layer is not None and not layer_file(layer) and not has_pixel_grid(layer):
                    return [
                        tr(
                            "'{layer}' is a web service with no extent of its own: map the current view, a "
                            "drawn rectangle or polygons."
                        ).format(layer=layer.name())
                    ]
        if mode == "drawn" and self.drawn is None:
            return [tr("Draw the rectangle to map, or choose another area.")]
        if mode == "polygons":
            layer = self.area_layer.currentLayer()
            if layer is None:
                return [tr("Choose a polygon layer for the area.")]
            if layer.selectedFeatureCount() == 0:
                return [tr("Select the polygons to map in '{layer}'.").format(layer=layer.name())]
        return []

    def _output_problems(self) -> list[str]:
        path = self.output_widget.filePath()
        if not path:
            return [tr("Choose the output file.")]
        output = Path(path)
        if output.suffix.lower() not in (".tif", ".tiff"):
            return [tr("The output must be a GeoTIFF file (.tif).")]
        if not output.parent.is_dir():
            return [tr("The output folder {folder} does not exist.").format(folder=output.parent)]
        if output.exists() and not self.overwrite_check.isChecked():
            return [
                tr("{name} already exists: choose another name or tick 'Replace the file'.").format(
                    name=output.name
                )
            ]
        return self._review_problems(output)

    def _review_problems(self, output: Path) -> list[str]:
        from ..review.beside_map import destination_problems

        review = self.review_request()
        problems = []
        if review.zones and not self.output_checks["confidence"].isChecked():
            problems.append(tr("Review zones are made from the confidence raster: tick 'Confidence raster'."))
        return problems + destination_problems(output, review, self.overwrite_check.isChecked())

    def check(self, *_: Any) -> list[str]:
        """Show the current problems and allow the run only when there is none."""
        if not hasattr(self, "run_button"):
            return []
        problems = self.problems()
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        self.run_button.setEnabled(not problems and self.task is None)
        self.cloud_button.setEnabled(not problems and self.cloud_task is None)
        return problems

    # ------------------------------------------------------------------ running
    def request(self) -> Any:
        """The engine's PredictionRequest for the current choices (sources built here, in the main thread)."""
        from ..core.predict import PredictionRequest
        from ..processing.request_builder import band_sources

        spec = self.bundle.spec
        mapping = self.band_mapping()
        area = self.area()
        layers = {mapping[name][0]: self.project.mapLayer(mapping[name][0]) for name in spec.aerial.bands}
        canvas_crs = self.iface.mapCanvas().mapSettings().destinationCrs() if self.iface is not None else None
        aerial = band_sources(mapping, layers, spec.aerial, area, canvas_crs or self.project.crs())
        overlap = self.overlap_spin.value()
        return PredictionRequest(
            aerial=aerial,
            bundle=self.bundle,  # loaded when chosen: the run does not open it again
            output=self.output_widget.filePath(),
            sentinel2=self.sentinel2_catalog if spec.needs_sentinel2 else None,
            area=area,
            device=self.device_combo.currentData(),
            overlap=None if overlap < 0 else overlap,
            batch_size=self.batch_spin.value(),
            outputs=[
                name
                for name, check in self.output_checks.items()
                if check.isChecked() and output_kind(name).by_engine
            ],
            overwrite=self.overwrite_check.isChecked(),
            language=qgis_language(),
        )

    def _request_or_problem(self) -> Any:
        """The request, or None after showing why it cannot be made (an area or layer the engine refuses)."""
        from ..core.errors import FlairError

        try:
            return self.request()
        except (FlairError, ValueError) as exc:
            self.problems_label.setText(f"• {exc}")
            self.problems_label.setVisible(True)
            return None

    def area(self) -> Any:
        """The engine's AreaOfInterest for the chosen area mode, None for the whole aerial image."""
        from ..processing.request_builder import polygons_area, rectangle_area

        mode = self.area_mode.currentData()
        if mode == "canvas":
            canvas = self.iface.mapCanvas()
            return rectangle_area(canvas.extent(), canvas.mapSettings().destinationCrs().toWkt())
        if mode == "drawn" and self.drawn is not None:
            return rectangle_area(*self.drawn)
        if mode == "polygons":
            layer = self.area_layer.currentLayer()
            geometries = [f.geometry() for f in layer.selectedFeatures() if f.hasGeometry()]
            area = polygons_area(geometries, layer.crs().toWkt())
            if area is None:
                raise ValueError(tr("Select the polygons to map in '{layer}'.").format(layer=layer.name()))
            return area
        return None

    def show_cloud_cover(self) -> None:
        """Compute the cloud cover in a background task and show it under the folder."""
        from qgis.core import QgsApplication, QgsTask

        from ..core.errors import FlairError

        if self.check() or self.cloud_task is not None:
            return
        request = self._request_or_problem()  # sources built here, in the main thread
        if request is None:
            return
        self.cloud_label.setText(tr("Reading the Sentinel-2 series over the area…"))
        spec = self.bundle.spec

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
            self.check()

        self.cloud_task = QgsTask.fromFunction(tr("FLAIR: Sentinel-2 cloud cover"), work, on_finished=done)
        QgsApplication.taskManager().addTask(self.cloud_task)
        self.check()

    def run(self) -> None:
        """Start the background run (after a last check)."""
        from .task import PredictionTask, start

        if self.check() or self.task is not None:
            return
        self._remember()
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
            nomenclature=self.bundle.spec.nomenclature,
            review=self.review_request(),
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
            self.output_widget.setFilePath(self.default_output())
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
        self._remember()
        super().closeEvent(event)


def scan_sentinel2(folder: str) -> tuple[Any, str | None]:
    """(the catalog of what a Sentinel-2 folder holds, None), or (None, the problem). May run in a task;
    the run is given the catalog, so the folder is scanned once."""
    try:
        from ..core.errors import FlairError
        from ..core.sentinel2 import discover
    except ImportError as exc:
        return None, tr("Sentinel-2 folders cannot be read by this installation: {error}").format(error=exc)
    try:
        return discover(folder), None
    except FlairError as exc:
        return None, tr("Sentinel-2: {error}").format(error=exc)


def cloud_cover_report(spec: Any, request: Any) -> str:
    """Read the Sentinel-2 series over the request's area and describe each date's cloud cover.
    Blocking (it reads every date over the area); touches no widget, so it may run in a task."""
    from ..core.aerial import open_aerial
    from ..core.sentinel2 import load_series, on_ground
    from .cloud_cover import cloud_cover, cloud_cover_text

    with open_aerial(spec.aerial, request.aerial) as aerial:
        grid = aerial.grid_for(request.area)
    series = load_series(
        request.sentinel2, grid.crs, grid.bounds, on_ground(spec.sentinel2, grid.scale), allow_partial=True
    )
    threshold = spec.sentinel2.cloud_filter.probability_threshold
    covers = cloud_cover(series.dates, series.data, series.masks, threshold)
    return cloud_cover_text(covers, threshold, spec.sentinel2.cloud_filter.max_cloudy_fraction)


def bundle_summary(spec: Any) -> str:
    """A few lines on a bundle: model, inputs, classes."""
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
    from ..core.models.provenance import provenance_rows

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
