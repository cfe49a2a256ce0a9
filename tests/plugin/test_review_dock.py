"""The review dock on a real review-zones GeoPackage in a real QGIS: rank order, zoom and selection,
verdicts written into the file at once, progress, and the place kept across a project reload."""

from __future__ import annotations

import pytest
from osgeo import ogr
from qgis.core import QgsProject, QgsVectorLayer

from flair_qgis.gui.review_dock import ReviewDock
from flair_qgis.review import schema

from .review_data import sample_zones, write_review_zones


def load_zones(path, name: str = "review zones") -> QgsVectorLayer:
    layer = QgsVectorLayer(f"{path}|layername=review_zones", name, "ogr")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


def on_disk(path) -> dict[int, tuple]:
    """rank -> (status, reviewed_at, note) read back with OGR, not through QGIS."""
    dataset = ogr.Open(str(path))
    table = dataset.GetLayerByName("review_zones")
    rows = {
        f[schema.FIELD_RANK]: (f[schema.FIELD_STATUS], f[schema.FIELD_REVIEWED_AT], f[schema.FIELD_NOTE])
        for f in table
    }
    dataset = None
    return rows


def test_dock_walks_the_zones_in_rank_order_and_zooms(tmp_path, qgis_new_project, qgis_canvas):
    path = write_review_zones(tmp_path / "zones.gpkg", sample_zones())
    layer = load_zones(path)
    # A polygon layer without the review fields is not offered.
    other = QgsVectorLayer("Polygon?crs=EPSG:2154&field=name:string", "parcels", "memory")
    QgsProject.instance().addMapLayer(other)
    qgis_canvas.setDestinationCrs(layer.crs())
    dock = ReviewDock(qgis_canvas)

    assert [dock.layer_combo.itemText(i) for i in range(dock.layer_combo.count())] == ["review zones"]
    assert [z.rank for z in dock.queue.zones] == [1, 2, 3, 4]
    assert dock.queue.current.rank == 1
    assert dock.progress_label.text() == "0 of 4 reviewed, 0 % of the low-confidence area"

    dock.step(1)
    zone = dock.queue.current
    assert (zone.rank, zone.class_name, zone.area_m2) == (2, "agricultural land", 100.0)
    assert layer.selectedFeatureIds() == [zone.fid]
    bbox = layer.getFeature(zone.fid).geometry().boundingBox()
    assert qgis_canvas.extent().contains(bbox)
    extent = qgis_canvas.extent()  # centred on the zone with a margin (3 x its size along the short side)
    assert abs(extent.center().x() - bbox.center().x()) < 1e-6
    assert abs(extent.center().y() - bbox.center().y()) < 1e-6
    assert min(extent.width(), extent.height()) <= 3 * bbox.width() + 1e-6
    assert "Zone 2 / 4" in dock.zone_label.text() and "runner-up" in dock.zone_label.text()
    dock.step(-1)
    dock.step(-1)  # stays on the first zone
    assert dock.queue.current.rank == 1
    dock.deleteLater()


def test_verdicts_are_written_at_once_and_survive_a_reload(tmp_path, qgis_new_project, qgis_canvas):
    path = write_review_zones(tmp_path / "zones.gpkg", sample_zones())
    layer = load_zones(path)
    dock = ReviewDock(qgis_canvas)

    dock.note_edit.setText("hedge, not meadow")
    dock.confirm_button.click()  # rank 1 (100 m²) confirmed, the dock moves on to rank 2
    assert dock.queue.current.rank == 2
    dock.correct_button.click()  # rank 2 (100 m²) corrected
    assert dock.queue.current.rank == 3
    dock.confirm_button.click()  # rank 3 confirmed by mistake ...
    dock.step(-1)
    dock.reset_button.click()  # ... and put back in the queue
    assert not layer.isEditable()  # nothing waits in an edit buffer

    rows = on_disk(path)
    assert rows[1][0] == "confirmed" and rows[1][2] == "hedge, not meadow" and rows[1][1].startswith("20")
    assert rows[2][0] == "corrected" and rows[2][1]
    assert rows[3] == ("to review", None, "")
    assert rows[4][0] == "to review"
    expected = "2 of 4 reviewed, 85 % of the low-confidence area"  # 200 of 234 m²
    assert dock.progress_label.text() == expected
    dock.deleteLater()

    # QGIS closed and reopened: a fresh project, the GeoPackage loaded again.
    QgsProject.instance().clear()
    reopened = load_zones(path)
    dock = ReviewDock(qgis_canvas)
    assert dock.queue.layer is reopened
    assert dock.queue.current.rank == 3  # the first zone still to review
    assert dock.progress_label.text() == expected
    dock.deleteLater()


def test_saved_project_resumes_at_the_zone_left(tmp_path, qgis_new_project, qgis_canvas):
    path = write_review_zones(tmp_path / "zones.gpkg", sample_zones())
    load_zones(path)
    dock = ReviewDock(qgis_canvas)
    dock.step(3)  # the reviewer looked at rank 4 last, without a verdict
    project_file = tmp_path / "review.qgz"
    assert QgsProject.instance().write(str(project_file))
    dock.deleteLater()

    QgsProject.instance().clear()
    assert QgsProject.instance().read(str(project_file))
    dock = ReviewDock(qgis_canvas)
    assert dock.queue.current.rank == 4
    assert dock.progress_label.text() == "0 of 4 reviewed, 0 % of the low-confidence area"
    dock.deleteLater()


def test_dock_walks_the_review_zones_algorithm_own_output(
    tmp_path, qgis_new_project, qgis_canvas, flair_provider
):
    """The GeoPackage `flair:review_zones` writes, loaded with its stored default style, is taken by the
    dock as it is: same ranks, names and areas; a verdict lands in that file."""
    import processing

    from .results import write_result
    from .test_review_zones import constructed

    classes, confidence, probabilities = constructed()
    result = write_result(tmp_path / "map.tif", classes, confidence, probabilities)
    output = tmp_path / "map.review.gpkg"
    processing.run(
        "flair:review_zones",
        {"CLASSES": str(result.classes), "CONFIDENCE": str(result.confidence),
         "PROBABILITIES": str(result.probabilities), "THRESHOLD": 0.5, "MIN_AREA": 1.0,
         "OUTPUT": str(output)},
    )  # fmt: skip
    layer = load_zones(output, "map review zones")
    qgis_canvas.setDestinationCrs(layer.crs())
    dock = ReviewDock(qgis_canvas)

    queue = dock.queue
    assert queue.layer is layer
    assert [(z.rank, z.area_m2, z.class_name) for z in queue.zones] == [
        (1, pytest.approx(24.0), "coniferous"),
        (2, pytest.approx(16.0), "coniferous"),
        (3, pytest.approx(4.0), "coniferous"),
    ]
    assert queue.zones[0].runner_up_name == "herbaceous vegetation"
    assert "Predicted: <b>coniferous</b>, runner-up: herbaceous vegetation" in dock.zone_label.text()
    dock.zoom_to_current()
    assert qgis_canvas.extent().contains(layer.getFeature(queue.current.fid).geometry().boundingBox())

    dock.correct_button.click()
    assert on_disk(output)[1][0] == schema.STATUS_CORRECTED
    assert dock.progress_label.text() == "1 of 3 reviewed, 55 % of the low-confidence area"  # 24 of 44 m²
    dock.deleteLater()
