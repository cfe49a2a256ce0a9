"""The dialog in a real QGIS: band defaults from the project's layers, input problems shown before a run,
remembered choices, and the request it hands to the engine."""

from __future__ import annotations

from flair_qgis.adapters import settings
from flair_qgis.gui.dialog import FlairDialog


def test_dialog_defaults_bands_from_the_project_layers(scene, qgis_iface):
    dialog = FlairDialog(qgis_iface)
    mapping = dialog.bands.mapping()
    assert mapping == {
        "red": (scene.rgb.id(), 1),
        "green": (scene.rgb.id(), 2),
        "blue": (scene.rgb.id(), 3),
        "nir": (scene.irc.id(), 1),
        "elevation": (scene.elevation.id(), 1),
    }
    dialog.deleteLater()


def test_dialog_shows_input_problems_before_the_run(scene, qgis_iface):
    dialog = FlairDialog(qgis_iface)
    bad = scene.folder / "broken.onnx"
    bad.write_text("not a model")
    dialog.model.file_widget.setFilePath(str(bad))
    existing = scene.folder / "ortho_rvb.tif"
    dialog.outputs.file_widget.setFilePath(str(existing))
    problems = dialog.check()
    assert any("model bundle cannot be used" in p for p in problems)
    assert any("already exists" in p for p in problems)
    assert not dialog.run_button.isEnabled()

    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    assert dialog.check() == []
    assert dialog.run_button.isEnabled()
    # An aerial-only bundle hides the Sentinel-2 field.
    assert dialog.sentinel2.isHidden()
    dialog.bands.layers["nir"].setLayer(None)
    assert dialog.check() == ["Choose a layer for the model's band(s): Near infrared."]
    dialog.deleteLater()


def test_dialog_builds_the_request_and_remembers_choices(scene, qgis_iface):
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    dialog.advanced.batch_spin.setValue(3)
    dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
    from qgis.core import QgsRectangle

    dialog.area.set_drawn_rectangle(QgsRectangle(651001, 6861990, 651010, 6861999), scene.rgb.crs().toWkt())

    request = dialog.request()

    assert request.aerial == [
        (str(scene.folder / "ortho_rvb.tif"), 1),
        (str(scene.folder / "ortho_rvb.tif"), 2),
        (str(scene.folder / "ortho_rvb.tif"), 3),
        (str(scene.folder / "ortho_irc.tif"), 1),
        (str(scene.folder / "mns_2021.tif"), 1),
    ]
    assert (request.device, request.batch_size, request.sentinel2) == ("cpu", 3, None)
    assert request.area.bounds_in(request.area.crs) == (651001, 6861990, 651010, 6861999)
    dialog.close()
    assert settings.bundle() == str(scene.bundle)
    assert settings.value("batch_size", 0, int) == 3
    reopened = FlairDialog(qgis_iface)
    assert reopened.model.file_widget.filePath() == str(scene.bundle)
    assert reopened.advanced.device_combo.currentData() == "cpu"
    reopened.deleteLater()
    dialog.deleteLater()


def test_selected_polygons_are_the_area(scene, qgis_iface):
    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer

    polygons = QgsVectorLayer("Polygon?crs=EPSG:2154", "parcels", "memory")
    features = []
    for x in (651002.0, 651015.0):
        feature = QgsFeature()
        feature.setGeometry(
            QgsGeometry.fromWkt(
                f"POLYGON(({x} 6861980, {x + 5} 6861980, {x + 5} 6861990, {x} 6861990, {x} 6861980))"
            )
        )
        features.append(feature)
    polygons.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(polygons)
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    dialog.area.mode.setCurrentIndex(dialog.area.mode.findData("polygons"))
    dialog.area.polygon_layer.setLayer(polygons)
    assert dialog.check() == ["Select the polygons to map in 'parcels'."]

    east = [f.id() for f in polygons.getFeatures() if f.geometry().boundingBox().xMinimum() == 651015.0]
    polygons.selectByIds(east)
    assert dialog.check() == []
    area = dialog.request().area
    assert area.bounds_in("EPSG:2154") == (651015.0, 6861980.0, 651020.0, 6861990.0)
    dialog.deleteLater()


def test_rectangle_drawn_with_the_map_tool_becomes_the_area(scene, qgis_iface):
    from qgis.core import QgsRectangle

    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(scene.rgb.crs())
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    dialog.show()

    dialog.area.start_drawing()
    assert canvas.mapTool() is dialog.area._map_tool and dialog.isHidden()
    dialog.area._map_tool.extentChanged.emit(QgsRectangle(651003, 6861985, 651011, 6861996))

    assert not dialog.isHidden() and canvas.mapTool() is not dialog.area._map_tool
    assert dialog.area.mode.currentData() == "drawn"
    assert dialog.check() == []
    assert dialog.request().area.bounds_in("EPSG:2154") == (651003, 6861985, 651011, 6861996)
    dialog.close()
    dialog.deleteLater()


def test_an_area_the_engine_refuses_is_shown_not_raised(scene, qgis_iface):
    from qgis.core import QgsRectangle

    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    dialog.area.set_drawn_rectangle(
        QgsRectangle(651005, 6861990, 651005, 6861999), scene.rgb.crs().toWkt()
    )  # empty
    assert dialog.check() == []

    dialog.run()

    assert dialog.task is None
    assert "empty" in dialog.problems_label.text()
    dialog.deleteLater()


def test_the_bundle_summary_shows_what_a_fine_tuned_model_was_made_from(qgis_iface):
    import dataclasses

    from flair_qgis.gui.panels.model import bundle_summary
    from tests.bundles import make_spec

    spec = dataclasses.replace(
        make_spec(),
        provenance={
            "base_model": "FLAIR demo U-T&T 1 (runs/demo/checkpoints/utt.ckpt)",
            "training_data": "patches/: 63 patches, 40211 corrected pixels, by A. Reviewer",
            "trained_at": "2026-12-02",
        },
    )
    summary = bundle_summary(spec).splitlines()
    assert "Base model: FLAIR demo U-T&T 1 (runs/demo/checkpoints/utt.ckpt)" in summary
    assert "Training data: patches/: 63 patches, 40211 corrected pixels, by A. Reviewer" in summary
    assert "Trained at: 2026-12-02" in summary
    assert "Precision: fp32 (full precision)" in summary
    int8 = bundle_summary(dataclasses.replace(spec, precision="int8")).splitlines()
    assert "Precision: int8 (quantised: faster on the CPU, its map checked against fp32)" in int8


def test_each_panel_gives_its_own_part_of_the_request(scene, qgis_iface):
    from qgis.core import QgsRectangle

    from flair_qgis.adapters.request_builder import RequestBuilder

    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    dialog.outputs.checks["confidence"].setChecked(True)
    dialog.outputs.checks["probabilities"].setChecked(False)
    dialog.advanced.overlap_spin.setValue(-1)  # shown as "automatic"
    dialog.advanced.batch_spin.setValue(2)
    dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
    dialog.area.set_drawn_rectangle(QgsRectangle(651001, 6861990, 651010, 6861999), scene.rgb.crs().toWkt())
    parts = {}
    for panel in dialog.panels:
        builder = RequestBuilder(dialog.model.bundle)
        panel.fill(builder)
        parts[type(panel).__name__] = (
            set(builder.options),
            builder.area is not None,
            builder.band_choices is not None,
        )
    assert parts == {
        "ModelPanel": (set(), False, False),  # the builder is made with its bundle
        "BandsPanel": (set(), False, True),
        "AreaPanel": (set(), True, False),
        "Sentinel2Panel": ({"sentinel2"}, False, False),
        "OutputsPanel": ({"output", "outputs", "overwrite"}, False, False),
        "AdvancedPanel": ({"device", "overlap", "batch_size"}, False, False),
    }
    request = dialog.request()
    assert request.bundle is dialog.model.bundle  # loaded when chosen, not opened again by the run
    assert (request.overlap, request.batch_size, request.device) == (None, 2, "cpu")
    assert (list(request.outputs), request.overwrite, request.language) == (["confidence"], False, "en")
    # The bands' sources are limited to the area, whichever panel filled first.
    assert request.area.bounds_in(request.area.crs) == (651001, 6861990, 651010, 6861999)
    dialog.deleteLater()


def test_the_request_builder_says_what_is_missing(scene, qgis_iface):
    import pytest
    from qgis.core import QgsGeometry, QgsRectangle

    from flair_qgis.adapters.request_builder import RequestBuilder
    from flair_qgis.core.bundle import load_bundle

    builder = RequestBuilder(load_bundle(scene.bundle))
    with pytest.raises(ValueError, match="aerial layers"):
        builder.build(output=str(scene.folder / "map.tif"))
    builder.rectangle(QgsRectangle(651001, 6861990, 651010, 6861999), scene.rgb.crs().toWkt())
    line = QgsGeometry.fromWkt("LINESTRING (651000 6861990, 651010 6862000)")
    assert builder.polygons([line], scene.rgb.crs().toWkt()) is False
    assert builder.area.bounds_in(builder.area.crs) == (651001, 6861990, 651010, 6861999)  # kept
