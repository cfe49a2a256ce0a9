"""The outputs panel: the land-cover GeoTIFF and whether it may replace a file, a check box per optional
output of the table (core/output_kinds.py): those the engine writes (confidence, probabilities...) and
those written beside the map for review after it (polygons with a minimum mapping unit, review zones),
each with its settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QWidget

from ...adapters import settings
from ...core.output_kinds import output_kind, output_kinds
from ..tr import tr
from . import Panel


def _area_spin(tooltip: str | None = None) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, 1_000_000.0)
    spin.setDecimals(1)
    spin.setSuffix(" m²")
    if tooltip:
        spin.setToolTip(tooltip)
    return spin


class OutputsPanel(Panel):
    """`checks[kind]`: the check box of each optional output, by kind (output_kinds)."""

    def __init__(self, project: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.checks: dict[str, QCheckBox] = {}
        self.column.addWidget(self._build_map())
        self.column.addWidget(self._build_review())
        self.file_widget.fileChanged.connect(self.emit_changed)
        self.overwrite_check.toggled.connect(self.emit_changed)
        self.checks["confidence"].toggled.connect(self.emit_changed)
        for name in ("polygons", "review_zones"):
            self.checks[name].toggled.connect(self._review_toggled)
        self._review_toggled()

    def _build_map(self) -> QGroupBox:
        box = QGroupBox(tr("Outputs"))
        form = QFormLayout(box)
        self.file_widget = QgsFileWidget()
        self.file_widget.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.file_widget.setFilter("GeoTIFF (*.tif)")
        self.overwrite_check = QCheckBox(tr("Replace the file if it exists"))
        self.present_only_check = QCheckBox(tr("List only the classes present in the legend"))
        form.addRow(tr("Land cover"), self.file_widget)
        form.addRow(self.overwrite_check)
        self._add_checks(form, by_engine=True)
        form.addRow(self.present_only_check)
        return box

    def _build_review(self) -> QGroupBox:
        """Polygons with a minimum mapping unit and the review zones, written beside the map after it."""
        box = QGroupBox(tr("For review"))
        form = QFormLayout(box)
        self.mmu_spin = _area_spin(tr("0 keeps every region, down to one pixel"))
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.05, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setToolTip(tr("Pixels whose confidence is under this value (0..1) are to review"))
        self.min_zone_spin = _area_spin()
        rows = {
            "polygons": [(tr("Minimum mapping unit"), self.mmu_spin)],
            "review_zones": [
                (tr("Confidence under"), self.threshold_spin),
                (tr("Smallest zone"), self.min_zone_spin),
            ],
        }
        self._add_checks(form, by_engine=False, settings_rows=rows)
        return box

    def _add_checks(self, form: QFormLayout, by_engine: bool, settings_rows: dict | None = None) -> None:
        """A check box per optional output of the table (output_kinds) the engine writes (`by_engine`) or
        the review writes after it, each followed by its settings rows."""
        for kind in output_kinds():
            if kind.checkbox is None or kind.by_engine != by_engine:
                continue
            check = QCheckBox(tr(kind.checkbox))
            if kind.hint:
                check.setToolTip(tr(kind.hint))
            self.checks[kind.name] = check
            form.addRow(check)
            for label, widget in (settings_rows or {}).get(kind.name, ()):
                form.addRow(label, widget)

    def _review_toggled(self, *_: Any) -> None:
        self.mmu_spin.setEnabled(self.checks["polygons"].isChecked())
        for widget in (self.threshold_spin, self.min_zone_spin):
            widget.setEnabled(self.checks["review_zones"].isChecked())
        if self.checks["review_zones"].isChecked() and not self.checks["confidence"].isChecked():
            self.checks["confidence"].setChecked(True)  # the zones are made from it
        self.changed.emit()

    # ------------------------------------------------------------------ settings
    def restore(self) -> None:
        from ...review.beside_map import DEFAULT_MIN_ZONE_M2, DEFAULT_MMU_M2, DEFAULT_THRESHOLD

        self.new_output()
        for name, check in self.checks.items():  # a setting per output, named after it
            check.setChecked(settings.value(name, output_kind(name).default, bool))
        self.present_only_check.setChecked(settings.value("legend_present_only", False, bool))
        self.mmu_spin.setValue(settings.value("polygons_mmu_m2", DEFAULT_MMU_M2, float))
        self.threshold_spin.setValue(settings.value("review_threshold", DEFAULT_THRESHOLD, float))
        self.min_zone_spin.setValue(settings.value("review_min_zone_m2", DEFAULT_MIN_ZONE_M2, float))

    def remember(self) -> None:
        settings.set_value("output_folder", str(Path(self.file_widget.filePath()).parent))
        for name, check in self.checks.items():
            settings.set_value(name, check.isChecked())
        settings.set_value("legend_present_only", self.present_only_check.isChecked())
        settings.set_value("polygons_mmu_m2", self.mmu_spin.value())
        settings.set_value("review_threshold", self.threshold_spin.value())
        settings.set_value("review_min_zone_m2", self.min_zone_spin.value())

    def new_output(self) -> None:
        """Propose a new file name beside the project (else in the last output folder, else the home
        folder), never one that exists."""
        folder = self.project.homePath() or settings.value("output_folder", "") or str(Path.home())
        candidate = Path(folder) / "landcover.tif"
        index = 2
        while candidate.exists():
            candidate = Path(folder) / f"landcover_{index}.tif"
            index += 1
        self.file_widget.setFilePath(str(candidate))

    # ------------------------------------------------------------------ the outputs
    def review_request(self) -> Any:
        """The review outputs asked for (review.beside_map.ReviewRequest)."""
        from ...review.beside_map import ReviewRequest

        return ReviewRequest(
            polygons=self.checks["polygons"].isChecked(),
            mmu_m2=self.mmu_spin.value(),
            zones=self.checks["review_zones"].isChecked(),
            threshold=self.threshold_spin.value(),
            min_zone_m2=self.min_zone_spin.value(),
        )

    def problems(self) -> list[str]:
        path = self.file_widget.filePath()
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
        from ...review.beside_map import destination_problems

        review = self.review_request()
        problems = []
        if review.zones and not self.checks["confidence"].isChecked():
            problems.append(tr("Review zones are made from the confidence raster: tick 'Confidence raster'."))
        return problems + destination_problems(output, review, self.overwrite_check.isChecked())

    def fill(self, builder: Any) -> None:
        builder.set(
            output=self.file_widget.filePath(),
            outputs=[n for n, check in self.checks.items() if check.isChecked() and output_kind(n).by_engine],
            overwrite=self.overwrite_check.isChecked(),
        )
