"""How a run's results are added for review, after real runs through the dialog and Processing: layer
order and visibility, the class layer's opacity (remembered), the legend title, only the classes present,
layer names carrying the output's name, and the statistics kept as a table layer."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsLayerTreeModel,
    QgsProject,
    QgsSettings,
    QgsVectorLayer,
)

from flair_qgis.adapters import styling
from flair_qgis.gui.dialog import FlairDialog

from .conftest import QUADRANT_CODES
from .rasters import GSD, ORIGIN
from .test_run import wait_for


def run_dialog(scene, iface, name: str, present_only: bool = False, open_review=None, **review):
    dialog = FlairDialog(iface, open_review=open_review)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / f"{name}.tif"))
    dialog.outputs.checks["confidence"].setChecked(True)
    dialog.outputs.checks["probabilities"].setChecked(True)
    dialog.outputs.present_only_check.setChecked(present_only)
    dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
    set_review_outputs(dialog, **review)
    assert dialog.check() == []
    dialog.run()
    task = dialog.task
    wait_for(task)
    assert task.error is None, str(task.error)
    group = QgsProject.instance().layerTreeRoot().findGroup(name)
    dialog.close()
    dialog.deleteLater()
    return group


def set_review_outputs(
    dialog, polygons: bool = False, mmu: float = 0.0, zones: bool = False, threshold: float = 0.5,
    min_zone: float = 0.0,
) -> None:  # fmt: skip
    dialog.outputs.checks["polygons"].setChecked(polygons)
    dialog.outputs.mmu_spin.setValue(mmu)
    dialog.outputs.checks["review_zones"].setChecked(zones)
    dialog.outputs.threshold_spin.setValue(threshold)
    dialog.outputs.min_zone_spin.setValue(min_zone)


def legend_labels(node) -> list[str]:
    model = QgsLayerTreeModel(QgsProject.instance().layerTreeRoot())
    return [legend.data(0) for legend in model.layerLegendNodes(node)]


def test_results_are_added_for_review(scene, qgis_iface):
    group = run_dialog(scene, qgis_iface, "june")

    nodes = group.findLayers()
    names = [node.layer().name() for node in nodes]
    assert names == ["june - confidence", "june - classes", "june - probabilities", "june - statistics"]
    visible = [node.itemVisibilityChecked() for node in nodes]
    assert visible == [False, True, False, True]  # ticking the confidence shows it above the classes
    classes = nodes[1].layer()
    assert classes.renderer().opacity() == styling.DEFAULT_CLASS_OPACITY
    labels = legend_labels(nodes[1])
    assert labels[0] == "FLAIR land cover"
    assert len(labels) == 1 + 13  # every class listed by default
    # The statistics stay in the project as a table with typed columns, one row per class.
    table = nodes[3].layer()
    assert isinstance(table, QgsVectorLayer) and not table.isSpatial()
    rows = {f["code"]: (f["class"], f["percent"]) for f in table.getFeatures()}
    assert len(rows) == 13
    assert all(rows[code][1] == 25.0 for code in QUADRANT_CODES)
    assert rows[5][0] == "water"


def test_opacity_is_remembered_and_present_classes_only(scene, qgis_iface):
    first = run_dialog(scene, qgis_iface, "first")
    classes = first.findLayers()[1].layer()
    # The user makes the classes more transparent in the layer's properties.
    classes.renderer().setOpacity(0.4)
    classes.emitStyleChanged()
    assert QgsSettings().value("flair_qgis/class_opacity", type=float) == 0.4

    second = run_dialog(scene, qgis_iface, "second", present_only=True)

    assert [n.layer().name() for n in second.findLayers()][:2] == ["second - confidence", "second - classes"]
    classes = second.findLayers()[1].layer()
    assert classes.renderer().opacity() == 0.4
    labels = legend_labels(second.findLayers()[1])
    assert labels == ["FLAIR land cover", "building", "pervious surface", "bare soil", "water"]
    assert QgsSettings().value("flair_qgis/legend_present_only", type=bool) is True
    # Two runs are told apart by their layer names.
    assert first.findLayers()[1].layer().name() == "first - classes"


def test_processing_layers_carry_the_output_name(scene, flair_provider):
    import processing

    result = processing.runAndLoadResults(
        "flair:landcover",
        {
            "AERIAL": scene.rgb,
            "NIR_LAYER": scene.irc,
            "ELEVATION_LAYER": scene.elevation,
            "BUNDLE": str(scene.bundle),
            "OUTPUT": str(scene.folder / "august.tif"),
            "CONFIDENCE": str(scene.folder / "august_confidence.tif"),
        },
    )

    layers = {layer.source(): layer for layer in QgsProject.instance().mapLayers().values()}
    classes = layers[result["OUTPUT"]]
    assert classes.name() == "august - classes"
    assert layers[result["CONFIDENCE"]].name() == "august - confidence"
    assert classes.renderer().opacity() == styling.DEFAULT_CLASS_OPACITY
    node = QgsProject.instance().layerTreeRoot().findLayer(classes.id())
    assert legend_labels(node)[0] == "FLAIR land cover"


def test_identify_labels_the_confidence_as_it_shows_it(scene, qgis_iface, qgis_canvas):
    from qgis.core import QgsGeometry, QgsPointXY
    from qgis.gui import QgsMapToolIdentify

    group = run_dialog(scene, qgis_iface, "identify")
    confidence, classes = (node.layer() for node in group.findLayers()[:2])
    qgis_canvas.setDestinationCrs(classes.crs())
    qgis_canvas.setExtent(classes.extent())
    tool = QgsMapToolIdentify(qgis_canvas)
    point = QgsGeometry.fromPointXY(QgsPointXY(ORIGIN[0] + 100.5 * GSD, ORIGIN[1] - 10.5 * GSD))  # water
    found = {
        result.mLayer.id(): result.mAttributes
        for result in tool.identify(
            point, QgsMapToolIdentify.TopDownAll, [confidence, classes], tool.RasterLayer
        )
    }
    # QGIS applies the GDAL scale: the value is the probability 0..1, and so says its label.
    (label,) = [key for key in found[confidence.id()] if key.startswith("Band 1")]
    assert label == "Band 1: confidence (0..1)"
    assert 0.0 < float(found[confidence.id()][label]) <= 1.0
    # QGIS 3.22 shows the class code only (no class name: see the inspect tool); the code is right.
    # From 3.30 on, QGIS also shows the raster attribute table's row (the .aux.xml): the class name.
    attributes = found[classes.id()]
    (label,) = [key for key in attributes if key.startswith("Band 1")]
    assert label.startswith("Band 1: land cover") and attributes[label] == "5"
    if Qgis.QGIS_VERSION_INT >= 33000:
        assert "water" in attributes.values(), attributes


def test_the_dialog_writes_polygons_and_review_zones_and_opens_the_review(scene, qgis_iface, qgis_canvas):
    """Polygons with an MMU and review zones, ticked in the dialog, are written beside the map, added
    styled on top of its group, and the review dock is opened on the zones."""
    from flair_qgis.gui.review_dock import ReviewDock
    from flair_qgis.review import schema

    dock = ReviewDock(qgis_canvas)
    opened = []

    def open_review(layer) -> None:
        opened.append(layer)
        dock.set_layer(layer)

    # The test bundle hesitates on no pixel: a threshold of 1 makes every region a zone to review.
    group = run_dialog(
        scene, qgis_iface, "july", open_review=open_review, polygons=True, mmu=100.0, zones=True,
        threshold=1.0, min_zone=1.0,
    )  # fmt: skip

    nodes = group.findLayers()
    names = [node.layer().name() for node in nodes]
    assert names[:2] == ["july - review zones", "july - polygons"]
    assert [node.itemVisibilityChecked() for node in nodes[:2]] == [True, False]
    zones, polygons = nodes[0].layer(), nodes[1].layer()
    assert zones.source().startswith(str(scene.folder / "july.review.gpkg"))
    assert polygons.source().startswith(str(scene.folder / "july.polygons.gpkg"))
    # The four class quadrants, each a polygon of its class's colour, every one over the MMU.
    rows = [(f[schema.FIELD_CODE], f[schema.FIELD_AREA]) for f in polygons.getFeatures()]
    assert sorted(code for code, _ in rows) == sorted(QUADRANT_CODES)
    assert all(area >= 100.0 for _, area in rows)
    colours = {c.value(): c.symbol().color().name() for c in polygons.renderer().categories()}
    assert colours[5] == "#1553ae"  # water, the official colour
    assert zones.renderer().classAttribute() == schema.FIELD_STATUS
    assert opened == [zones] and dock.queue.layer is zones
    assert len(dock.queue.zones) == zones.featureCount() > 0
    dock.deleteLater()


def test_review_outputs_are_checked_before_the_run(scene, qgis_iface):
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    output = scene.folder / "august.tif"
    dialog.outputs.file_widget.setFilePath(str(output))
    dialog.outputs.checks["confidence"].setChecked(False)
    set_review_outputs(dialog, polygons=True, mmu=100.0, zones=True)
    assert dialog.outputs.checks["confidence"].isChecked()  # ticking the zones ticks what they are made from
    dialog.outputs.checks["confidence"].setChecked(False)
    assert any("confidence raster" in problem for problem in dialog.check())
    dialog.outputs.checks["confidence"].setChecked(True)
    assert dialog.check() == []

    # A polygons file of an earlier run is replaced only when asked.
    (scene.folder / "august.polygons.gpkg").write_bytes(b"an earlier run")
    assert dialog.check() == [
        "august.polygons.gpkg already exists: choose another name or tick 'Replace the file'."
    ]
    dialog.outputs.overwrite_check.setChecked(True)
    assert dialog.check() == []

    # Review zones holding a reviewer's verdicts are never replaced, even with 'Replace the file'.
    from .review_data import sample_zones, write_review_zones

    zones = write_review_zones(scene.folder / "august.review.gpkg", sample_zones())
    assert dialog.check() == []  # every zone still to review: nothing would be lost
    from osgeo import ogr

    dataset = ogr.Open(str(zones), 1)
    table = dataset.GetLayerByName("review_zones")
    feature = table.GetNextFeature()
    feature["status"] = "confirmed"
    table.SetFeature(feature)
    dataset = table = None
    problems = dialog.check()
    assert len(problems) == 1 and "august.review.gpkg holds 1 reviewed zone(s)" in problems[0]
    assert not dialog.run_button.isEnabled()
    dialog.deleteLater()
