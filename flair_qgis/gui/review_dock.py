"""The review dock: walks a reviewer through the zones where the model hesitated, most urgent first,
zooms to each, and records the verdict (status, time, note) straight into the zones' GeoPackage."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureRequest,
    QgsMapLayer,
    QgsProject,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsDockWidget, QgsMapCanvas
from qgis.PyQt.QtCore import QDateTime, Qt
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..adapters.compat import integer_field
from ..review import schema
from .tr import tr

#: Layer custom property holding the id of the zone the reviewer was at (saved with the project).
CURRENT_PROPERTY = "flair_qgis/review_current"


def status_label(status: str) -> str:
    """A review status as the dock shows it, in QGIS's language (the file keeps the English value)."""
    labels = {
        schema.STATUS_TO_REVIEW: tr("to review"),
        schema.STATUS_CONFIRMED: tr("confirmed"),
        schema.STATUS_CORRECTED: tr("corrected"),
    }
    return labels.get(status, status)


def is_review_layer(layer: QgsMapLayer | None) -> bool:
    """Whether `layer` is a polygon layer with every review-zone field."""
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        return False
    if layer.geometryType() != QgsWkbTypes.GeometryType.PolygonGeometry:
        return False
    names = set(layer.fields().names())
    return all(field in names for field in schema.REVIEW_FIELDS)


@dataclass(frozen=True)
class Zone:
    """One zone to review as the dock shows it."""

    fid: int
    rank: int
    area_m2: float
    mean_confidence: float
    class_name: str
    runner_up_name: str
    status: str
    note: str


def _text(value) -> str:
    return "" if value is None or (hasattr(value, "isNull") and value.isNull()) else str(value)


def _number(value, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class ReviewQueue:
    """The zones of a review layer in rank order, the reviewer's place among them, and the writes of
    their verdicts through the layer's data provider (committed at once: nothing is left in an edit
    buffer when QGIS closes)."""

    def __init__(self, layer: QgsVectorLayer) -> None:
        self.layer = layer
        self.zones: list[Zone] = []
        self.index = 0
        self.reload()
        self.index = self._resume_index()

    def reload(self) -> None:
        request = QgsFeatureRequest().setFlags(QgsFeatureRequest.Flag.NoGeometry)
        zones = [self._zone(feature) for feature in self.layer.dataProvider().getFeatures(request)]
        self.zones = sorted(zones, key=lambda z: (z.rank, z.fid))

    def _zone(self, feature: QgsFeature) -> Zone:
        return Zone(
            fid=feature.id(),
            rank=int(_number(feature[schema.FIELD_RANK], 0)),
            area_m2=_number(feature[schema.FIELD_AREA]),
            mean_confidence=_number(feature[schema.FIELD_MEAN_CONFIDENCE]),
            class_name=_text(feature[schema.FIELD_CLASS_NAME]),
            runner_up_name=_text(feature[schema.FIELD_RUNNER_UP_NAME]),
            status=_text(feature[schema.FIELD_STATUS]) or schema.STATUS_TO_REVIEW,
            note=_text(feature[schema.FIELD_NOTE]),
        )

    def _resume_index(self) -> int:
        """The remembered zone (layer property) when it still exists, else the first one to review."""
        remembered = self.layer.customProperty(CURRENT_PROPERTY)
        if remembered not in (None, ""):
            for index, zone in enumerate(self.zones):
                if zone.fid == int(remembered):
                    return index
        for index, zone in enumerate(self.zones):
            if zone.status == schema.STATUS_TO_REVIEW:
                return index
        return 0

    @property
    def current(self) -> Zone | None:
        return self.zones[self.index] if self.zones else None

    def go(self, step: int) -> Zone | None:
        if self.zones:
            self.index = min(max(self.index + step, 0), len(self.zones) - 1)
            self.layer.setCustomProperty(CURRENT_PROPERTY, self.zones[self.index].fid)
        return self.current

    def mark(self, status: str, note: str | None = None, correction: int | None = None) -> None:
        """Write `status` (and the time; none when back to 'to review') and `note` on the current zone,
        and the fid of the `correction` that corrected it (the link field is added when first needed)."""
        zone = self.current
        if zone is None:
            return
        if status not in schema.STATUSES:
            raise ValueError(f"unknown review status {status!r}")
        fields = self.layer.fields()
        reviewed_at = (
            None
            if status == schema.STATUS_TO_REVIEW
            else QDateTime.currentDateTime().toString(Qt.DateFormat.ISODate)
        )
        changes = {
            fields.indexOf(schema.FIELD_STATUS): status,
            fields.indexOf(schema.FIELD_REVIEWED_AT): reviewed_at,
        }
        if note is not None:
            changes[fields.indexOf(schema.FIELD_NOTE)] = note
        if correction is not None:
            changes[self._correction_field()] = correction
        if not self.layer.dataProvider().changeAttributeValues({zone.fid: changes}):
            raise OSError(f"the review zones of {self.layer.source()} could not be written")
        self.layer.setCustomProperty(CURRENT_PROPERTY, zone.fid)
        self.layer.triggerRepaint()
        self.reload()

    def _correction_field(self) -> int:
        """Index of the zone -> correction link field, added to the GeoPackage when it has none yet."""
        index = self.layer.fields().indexOf(schema.FIELD_CORRECTION)
        if index < 0:
            if not self.layer.dataProvider().addAttributes([integer_field(schema.FIELD_CORRECTION)]):
                raise OSError(f"the review zones of {self.layer.source()} could not be written")
            self.layer.updateFields()
            index = self.layer.fields().indexOf(schema.FIELD_CORRECTION)
        return index

    def progress(self) -> tuple[int, int, float]:
        """(zones reviewed, zones, percent of the zones' total area reviewed)."""
        reviewed = [z for z in self.zones if z.status in schema.REVIEWED_STATUSES]
        total = sum(z.area_m2 for z in self.zones)
        share = 100.0 * sum(z.area_m2 for z in reviewed) / total if total else 0.0
        return len(reviewed), len(self.zones), share

    def progress_text(self) -> str:
        done, count, share = self.progress()
        return tr("{done} of {count} reviewed, {share:.0f} % of the low-confidence area").format(
            done=done, count=count, share=share
        )


class ReviewDock(QgsDockWidget):
    """Steps through the review zones of a layer of the project: previous / next, zoom, verdict, note."""

    def __init__(self, canvas: QgsMapCanvas | None, project: QgsProject | None = None, parent=None) -> None:
        super().__init__(tr("FLAIR review"), parent)
        self.setObjectName("flair_qgis_review_dock")
        self.canvas = canvas
        self.project = project or QgsProject.instance()
        self.queue: ReviewQueue | None = None
        self._build()
        self.project.layersAdded.connect(self.refresh_layers)
        self.project.layersRemoved.connect(self.refresh_layers)
        self.refresh_layers()

    def _build(self) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip(tr("A review-zones layer (from the review zones algorithm)"))
        self.layer_combo.currentIndexChanged.connect(self._layer_chosen)
        layout.addWidget(self.layer_combo)
        self.zone_label = QLabel()
        self.zone_label.setTextFormat(Qt.TextFormat.RichText)
        self.zone_label.setWordWrap(True)
        layout.addWidget(self.zone_label)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText(tr("Note (optional)"))
        layout.addWidget(self.note_edit)
        grid = QGridLayout()
        self.previous_button = QPushButton(tr("◀ Previous"))
        self.next_button = QPushButton(tr("Next ▶"))
        self.zoom_button = QPushButton(tr("Zoom to zone"))
        self.confirm_button = QPushButton(tr("Confirmed"))
        self.confirm_button.setToolTip(tr("The predicted class is right"))
        self.correct_button = QPushButton(tr("Corrected"))
        self.correct_button.setToolTip(tr("The class was wrong and has been corrected"))
        self.reset_button = QPushButton(tr("To review"))
        self.reset_button.setToolTip(tr("Put the zone back in the queue"))
        grid.addWidget(self.previous_button, 0, 0)
        grid.addWidget(self.zoom_button, 0, 1)
        grid.addWidget(self.next_button, 0, 2)
        grid.addWidget(self.confirm_button, 1, 0)
        grid.addWidget(self.correct_button, 1, 1)
        grid.addWidget(self.reset_button, 1, 2)
        layout.addLayout(grid)
        correct_row = QHBoxLayout()
        self.class_combo = QComboBox()
        self.class_combo.setToolTip(tr("The right class of the zone"))
        self.correct_as_button = QPushButton(tr("Correct as"))
        self.correct_as_button.setToolTip(
            tr("Copy the zone into the map's corrections with this class and mark it corrected")
        )
        correct_row.addWidget(self.correct_as_button)
        correct_row.addWidget(self.class_combo, 1)
        layout.addLayout(correct_row)
        self.progress_label = QLabel()
        layout.addWidget(self.progress_label)
        layout.addStretch(1)
        self.setWidget(body)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.zoom_button.clicked.connect(self.zoom_to_current)
        self.confirm_button.clicked.connect(lambda: self.mark(schema.STATUS_CONFIRMED))
        self.correct_button.clicked.connect(lambda: self.mark(schema.STATUS_CORRECTED))
        self.reset_button.clicked.connect(lambda: self.mark(schema.STATUS_TO_REVIEW))
        self.correct_as_button.clicked.connect(lambda: self.correct_as())

    # ------------------------------------------------------------------ layers
    def refresh_layers(self, *_args) -> None:
        """List the project's review-zone layers, keeping the chosen one when it is still there."""
        chosen = self.layer_combo.currentData()
        layers = [layer for layer in self.project.mapLayers().values() if is_review_layer(layer)]
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for layer in sorted(layers, key=lambda item: item.name()):
            self.layer_combo.addItem(layer.name(), layer.id())
        index = self.layer_combo.findData(chosen)
        self.layer_combo.setCurrentIndex(index if index >= 0 else (0 if layers else -1))
        self.layer_combo.blockSignals(False)
        if self.layer_combo.currentData() != chosen or self.queue is None:
            self._layer_chosen()

    def set_layer(self, layer: QgsVectorLayer) -> None:
        """Review `layer` (it must be in the project)."""
        index = self.layer_combo.findData(layer.id())
        if index < 0:
            raise ValueError(f"{layer.name()} is not a review-zones layer of the project")
        self.layer_combo.setCurrentIndex(index)
        self._layer_chosen()

    def _layer_chosen(self, *_args) -> None:
        layer = self.project.mapLayer(self.layer_combo.currentData() or "")
        self.queue = ReviewQueue(layer) if is_review_layer(layer) else None
        self._fill_classes()
        self.show_current(zoom=False)

    def _fill_classes(self) -> None:
        """The classes of the zones' map in the 'Correct as' list; empty when the map is not beside them."""
        from ..adapters.styling import qgis_language
        from ..review.result import ResultError, read_class_result
        from .corrections import fill_class_combo, map_of

        self.class_combo.clear()
        classes = map_of(self.queue.layer) if self.queue is not None else None
        if classes is not None:
            with contextlib.suppress(ResultError):  # not a FLAIR map after all: no list, no correction
                fill_class_combo(self.class_combo, read_class_result(classes).nomenclature, qgis_language())
        self.class_combo.setEnabled(self.class_combo.count() > 0)

    def correct_as(self, code: int | None = None) -> int | None:
        """Copy the current zone into its map's corrections with class `code` (the list's choice when
        None), mark the zone corrected and linked to it; returns the correction's fid."""
        from ..review.geopackage import GeoPackageError
        from ..review.result import ResultError
        from .corrections import add_correction, corrections_layer, map_of

        if self.queue is None or self.queue.current is None:
            return None
        code = self.class_combo.currentData() if code is None else code
        classes = map_of(self.queue.layer)
        if classes is None or code is None:
            self.progress_label.setText(
                tr(
                    "The map of these zones is not beside them: correct the zone by drawing in its corrections."
                )
            )
            return None
        zones = self.queue.layer
        geometry = zones.getFeature(self.queue.current.fid).geometry()
        try:
            layer = corrections_layer(classes, self.project)
            fid = add_correction(
                layer, geometry, code, schema.ORIGIN_ZONE, self.note_edit.text(), source_crs=zones.crs()
            )
            self.queue.mark(schema.STATUS_CORRECTED, self.note_edit.text(), correction=fid)
        except (ResultError, GeoPackageError, OSError) as exc:
            self.progress_label.setText(
                tr("The correction was not saved: {error}. Check that the GeoPackage is writable.").format(
                    error=exc
                )
            )
            return None
        if self.queue.index < len(self.queue.zones) - 1:
            self.queue.go(1)
        self.show_current()
        return fid

    # ------------------------------------------------------------------ walking
    def step(self, offset: int) -> None:
        if self.queue is not None:
            self.queue.go(offset)
            self.show_current()

    def mark(self, status: str) -> None:
        if self.queue is None:
            return
        try:
            self.queue.mark(status, self.note_edit.text())
        except OSError as exc:
            self.progress_label.setText(
                tr("The verdict was not saved: {error}. Check that the GeoPackage is writable.").format(
                    error=exc
                )
            )
            return
        if status != schema.STATUS_TO_REVIEW and self.queue.index < len(self.queue.zones) - 1:
            self.queue.go(1)
        self.show_current()

    def show_current(self, zoom: bool = True) -> None:
        zone = self.queue.current if self.queue is not None else None
        for button in (self.previous_button, self.next_button, self.zoom_button, self.confirm_button,
                       self.correct_button, self.reset_button):  # fmt: skip
            button.setEnabled(zone is not None)
        self.correct_as_button.setEnabled(zone is not None and self.class_combo.count() > 0)
        if zone is None:
            self.zone_label.setText(tr("No review zones: add a review-zones layer to the project."))
            self.progress_label.setText("")
            self.note_edit.setText("")
            return
        queue = self.queue
        runner_up = zone.runner_up_name or "–"
        self.zone_label.setText(
            f"<b>{tr('Zone')} {queue.index + 1} / {len(queue.zones)}</b> ({tr('rank')} {zone.rank})<br>"
            f"{tr('Predicted')}: <b>{zone.class_name}</b>, {tr('runner-up')}: {runner_up}<br>"
            f"{tr('Mean confidence')}: {100 * zone.mean_confidence:.0f} %, "
            f"{tr('area')}: {zone.area_m2:,.0f} m²<br>"
            f"{tr('Status')}: <b>{status_label(zone.status)}</b>"
        )
        self.note_edit.setText(zone.note)
        self.progress_label.setText(queue.progress_text())
        queue.layer.selectByIds([zone.fid])
        if zoom:
            self.zoom_to_current()

    def zoom_to_current(self) -> None:
        """Zoom the map to the current zone (with a margin) and select it."""
        if self.queue is None or self.queue.current is None or self.canvas is None:
            return
        layer = self.queue.layer
        feature = layer.getFeature(self.queue.current.fid)
        if not feature.hasGeometry():
            return
        transform = QgsCoordinateTransform(
            layer.crs(), self.canvas.mapSettings().destinationCrs(), self.project
        )
        extent = transform.transformBoundingBox(feature.geometry().boundingBox())
        extent.scale(3.0)
        self.canvas.setExtent(extent)
        self.canvas.refresh()
        self.canvas.flashFeatureIds(layer, [feature.id()])
