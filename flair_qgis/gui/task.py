"""The dialog's background run: a QgsTask that calls the engine with a plain request, then, back on the
main thread, adds the styled results to the project and reports the outcome."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsLayerTreeGroup,
    QgsMapLayer,
    QgsMessageLog,
    QgsProject,
    QgsRasterLayer,
    QgsTask,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QUrl

from ..adapters.styling import (
    apply_class_style,
    apply_confidence_style,
    class_opacity,
    list_present_classes_only,
    present_classes,
    remember_class_opacity,
    set_legend_title,
)
from ..core.errors import Cancelled, FlairError
from ..core.output_kinds import OutputKind, output_kinds
from .tr import tr

LOG_TAG = "FLAIR land cover"
#: Part of the progress bar given to the review outputs (polygons, review zones) when asked for.
REVIEW_SHARE = 0.15


class PredictionTask(QgsTask):
    """Runs `predict(request)` in a worker thread; never touches layers or widgets there.

    `on_done(task)` is called on the main thread once the results are in the project (or the run
    failed): `task.result`, `task.error` and `task.layers` tell what happened.
    """

    def __init__(
        self,
        request: Any,
        title: str = "Land cover",
        project: QgsProject | None = None,
        message_bar: Any = None,
        on_done: Callable[[PredictionTask], None] | None = None,
        nomenclature: Any = None,
        review: Any = None,
    ) -> None:
        super().__init__(tr("FLAIR land cover: {title}").format(title=title), QgsTask.Flag.CanCancel)
        self.request = request
        self.title = title
        self.project = project or QgsProject.instance()
        self.message_bar = message_bar
        self.on_done = on_done
        self.nomenclature = nomenclature
        #: A review.beside_map.ReviewRequest: polygons and review zones to write once the map is done.
        self.review_request = review
        #: What was written beside the map (review.beside_map.ReviewWritten), None when nothing was asked.
        self.review = None
        #: The review-zones layer added to the project, for the review dock.
        self.zones_layer: QgsVectorLayer | None = None
        self.result = None
        self.error: FlairError | None = None
        self.details = ""
        self.message = ""
        self.layers: list[QgsMapLayer] = []
        self.group: QgsLayerTreeGroup | None = None
        #: True once finished() has run (the task manager deletes the C++ task soon after).
        self.done = False

    def run(self) -> bool:
        """Worker thread: the whole prediction. Every exception is caught and kept (one escaping `run`
        would abort QGIS)."""
        from ..core.predict import predict

        wants_review = self.review_request is not None and self.review_request.wanted
        share = REVIEW_SHARE if wants_review else 0.0
        try:
            self.result = predict(
                self.request,
                progress=lambda fraction, message: self._progress(fraction * (1 - share), message),
                is_cancelled=self.isCanceled,
            )
            if wants_review:
                self._write_review(share)
        except FlairError as exc:
            self.error = exc
            return False
        except Exception as exc:  # a bug, not bad input: reported with its traceback
            self.error = FlairError(
                tr("Unexpected error: {error}").format(error=exc),
                tr("See the FLAIR land cover log for details."),
            )
            self.details = traceback.format_exc()
            return False
        return True

    def _write_review(self, share: float) -> None:
        """Worker thread: the polygons and review zones asked for, from the finished map. A cancel here
        keeps the complete map and says what was not written."""
        from ..review.beside_map import ReviewWritten, write_beside_map
        from ..review.raster_blocks import Cancelled as ReviewCancelled

        result = self.result
        try:
            self.review = write_beside_map(
                result.class_raster,
                result.confidence,
                result.probabilities,
                self.review_request,
                language=getattr(self.request, "language", None) or "en",
                progress=lambda fraction, message: self._progress(1 - share + fraction * share, message),
                is_cancelled=self.isCanceled,
            )
        except ReviewCancelled:
            self.review = ReviewWritten(
                errors=[tr("Cancelled after the map was written: the polygons and review zones were not.")]
            )
        except Exception as exc:  # a bug: the complete map is still shown, the traceback goes to the log
            self.details = traceback.format_exc()
            self.review = ReviewWritten(
                errors=[tr("The review outputs failed (unexpected error: {error}).").format(error=exc)]
            )

    def _progress(self, fraction: float, message: str) -> None:
        self.message = message
        self.setProgress(100.0 * fraction)

    def finished(self, ok: bool) -> None:
        """Main thread: add the layers or report the error."""
        try:
            if ok and self.result is not None:
                try:
                    self._add_layers()
                except Exception as exc:  # the map is written: say why it is not shown
                    self._log(
                        tr("The map was written but could not be added to the project: {error}").format(
                            error=exc
                        ),
                        Qgis.MessageLevel.Warning,
                    )
                    self._log(traceback.format_exc(), Qgis.MessageLevel.Warning)
                self._report_success()
            else:
                self._report_failure()
        finally:
            self.done = True
            if self.on_done is not None:
                self.on_done(self)

    def _add_layers(self) -> None:
        """Every written output that has a layer style (output_kinds), in the table's order; those
        `on_top` above the class raster (the confidence, ticked to show over the classes; the review
        zones), the others below it. The probabilities serve the inspect tool, unticked."""
        nomenclature = self.nomenclature
        if nomenclature is None:
            from ..core.bundle import Bundle, load_bundle

            bundle = self.request.bundle
            nomenclature = (bundle if isinstance(bundle, Bundle) else load_bundle(bundle)).spec.nomenclature
        language = getattr(self.request, "language", None) or "en"
        files = dict(self.result.files)
        if self.review is not None:
            files.update(self.review.files())
        self.group = self.project.layerTreeRoot().insertGroup(0, self.title)
        for kind in output_kinds():
            if kind.style is None or files.get(kind.name) is None:
                continue
            layer = output_layer(
                kind, files[kind.name], f"{self.title} - {kind.layer}", nomenclature, language
            )
            node = self._add(layer, visible=kind.visible, on_top=kind.on_top)
            if node is not None and kind.style == "classes":
                set_legend_title(node)
                remember_class_opacity(layer)
            if node is not None and kind.style == "review_zones":
                self.zones_layer = layer

    def _add(self, layer: QgsMapLayer, visible: bool = True, on_top: bool = False):
        if not layer.isValid():
            self._log(f"The output {layer.source()} could not be opened", Qgis.MessageLevel.Warning)
            return None
        self.project.addMapLayer(layer, False)
        node = self.group.insertLayer(0, layer) if on_top else self.group.addLayer(layer)
        node.setItemVisibilityChecked(visible)
        self.layers.append(layer)
        return node

    def _report_success(self) -> None:
        result = self.result
        from .tr import device_text

        text = tr("{name}: {tiles} tiles in {seconds:.1f} s on {device}").format(
            name=Path(result.class_raster).name,
            tiles=result.tiles,
            seconds=result.seconds,
            device=device_text(result.provider),
        )
        review = self.review
        if review is not None:
            if review.polygons is not None:
                text += "; " + tr("{count} polygons").format(count=review.polygon_count)
            if review.zones is not None:
                text += "; " + tr("{count} zones to review ({area:,.0f} m²)").format(
                    count=review.zone_count, area=review.zone_area_m2
                )
        self._log(text, Qgis.MessageLevel.Success)
        for warning in self.warnings:
            self._log(warning, Qgis.MessageLevel.Warning)
        if review is not None and review.errors:
            for error in review.errors:
                self._log(error, Qgis.MessageLevel.Warning)
            if self.details:
                self._log(self.details, Qgis.MessageLevel.Warning)
            self._push(
                tr("Land cover ready"), f"{text}. " + " ".join(review.errors), Qgis.MessageLevel.Warning
            )
            return
        if self.warnings:  # valid but misleading input: the map is made, the reviewer is told why to doubt it
            self._push(
                tr("Land cover ready, with warnings"),
                f"{text}. " + " ".join(self.warnings[:2]) + (" …" if len(self.warnings) > 2 else ""),
                Qgis.MessageLevel.Warning,
            )
            return
        self._push(tr("Land cover ready"), text, Qgis.MessageLevel.Success)

    @property
    def warnings(self) -> list[str]:
        """The run's warnings (misleading input, skipped products...) and those of its review outputs."""
        if self.result is None:
            return []
        return list(self.result.warnings) + (list(self.review.warnings) if self.review is not None else [])

    def _report_failure(self) -> None:
        if self.error is None:  # cancelled before run() started, or by the task manager
            self.error = Cancelled()
        level = Qgis.MessageLevel.Info if isinstance(self.error, Cancelled) else Qgis.MessageLevel.Critical
        self._log(str(self.error) + (f"\n{self.details}" if self.details else ""), level)
        self._push(tr("Land cover"), str(self.error), level)

    def _log(self, text: str, level: int) -> None:
        QgsMessageLog.logMessage(text, LOG_TAG, level)

    def _push(self, title: str, text: str, level: int) -> None:
        if self.message_bar is not None:
            self.message_bar.pushMessage(title, text, level, 10 if level != Qgis.MessageLevel.Critical else 0)


def output_layer(kind: OutputKind, path: Path, name: str, nomenclature: Any, language: str) -> QgsMapLayer:
    """The layer `name` of the output `path`, styled as its kind's `style` says."""
    from ..review import schema
    from ..review.vector_style import polygon_renderer, review_renderer

    if kind.style == "table":
        return statistics_table(path, name)
    if kind.style in ("polygons", "review_zones"):
        layer_name = schema.POLYGON_LAYER_NAME if kind.style == "polygons" else schema.REVIEW_LAYER_NAME
        layer = QgsVectorLayer(f"{path}|layername={layer_name}", name, "ogr")
        layer.setRenderer(
            polygon_renderer(nomenclature, language) if kind.style == "polygons" else review_renderer()
        )
        return layer
    layer = QgsRasterLayer(str(path), name)
    if kind.style == "classes":
        codes = present_classes(str(path)) if list_present_classes_only() else None
        apply_class_style(layer, nomenclature, language, codes=codes, opacity=class_opacity())
    elif kind.style == "confidence":
        apply_confidence_style(layer)
    return layer


def statistics_table(path: str | Path, name: str) -> QgsVectorLayer:
    """The per-class statistics CSV (code, class, hectares, percent) as a table layer with typed fields."""
    url = QUrl.fromLocalFile(str(path))
    url.setQuery("type=csv&delimiter=,&detectTypes=yes&geomType=none")
    return QgsVectorLayer(url.toString(), name, "delimitedtext")


# A task needs a Python reference until it has finished, or its finished() is never called.
_RUNNING: set[PredictionTask] = set()


def start(task: PredictionTask) -> PredictionTask:
    """Hand `task` to QGIS's task manager, keeping it alive until it has finished."""
    _RUNNING.add(task)
    task.taskCompleted.connect(lambda: _RUNNING.discard(task))
    task.taskTerminated.connect(lambda: _RUNNING.discard(task))
    QgsApplication.taskManager().addTask(task)
    return task
