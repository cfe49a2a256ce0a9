"""A reviewer's corrections in a real QGIS: the corrections GeoPackage (form listing the classes by name,
defaults, palette) and `flair:apply_corrections` on a map whose answer is known (latest correction wins,
nothing else changes, colours and names kept), with bad corrections refused and nothing written."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from osgeo import ogr, osr
from qgis.core import QgsProcessingException, QgsProject, QgsVectorLayer

from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.review import schema
from flair_qgis.review.corrections import corrections_path, create_corrections

from .rasters import GSD, ORIGIN
from .results import write_result

SIZE = 100  # px: 20 m x 20 m


def square(col: int, row: int, side: int) -> str:
    """WKT of a square of `side` px whose top-left pixel is (row, col)."""
    x0, y0 = ORIGIN[0] + col * GSD, ORIGIN[1] - row * GSD
    x1, y1 = x0 + side * GSD, y0 - side * GSD
    return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def add_corrections(path, rows: list[tuple[str, int | None, str]], epsg: int | None = None) -> None:
    """Append (WKT, code, date) corrections to the GeoPackage at `path` (its own CRS, or reprojected from
    `epsg` when given... the WKT is then in that CRS)."""
    dataset = ogr.Open(str(path), 1)
    layer = dataset.GetLayerByName(schema.CORRECTIONS_LAYER_NAME)
    for wkt, code, date in rows:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        if code is not None:
            feature[schema.FIELD_CODE] = code
        feature[schema.FIELD_DATE] = date
        feature[schema.FIELD_ORIGIN] = schema.ORIGIN_DRAWN
        layer.CreateFeature(feature)
    dataset = layer = None


@pytest.fixture
def result(tmp_path):
    classes = np.full((SIZE, SIZE), 6, np.uint8)  # coniferous
    classes[:, 50:] = 7  # deciduous on the right half
    classes[90:, :10] = 0  # a nodata corner
    return write_result(tmp_path / "map.tif", classes, np.full((SIZE, SIZE), 0.8, np.float32))


def test_the_corrections_layer_offers_the_classes_by_name(result, qgis_new_project):
    path = create_corrections(result.classes)
    assert path == corrections_path(result.classes) == result.classes.with_name("map.corrections.gpkg")
    layer = QgsVectorLayer(f"{path}|layername={schema.CORRECTIONS_LAYER_NAME}", "corrections", "ogr")
    assert layer.isValid() and layer.crs().authid() == "EPSG:2154"
    assert layer.fields().names()[1:] == list(schema.CORRECTION_FIELDS)
    # QGIS applies the style stored in the GeoPackage: the form and the palette come with the file.
    setup = layer.editorWidgetSetup(layer.fields().indexOf(schema.FIELD_CODE))
    assert setup.type() == "ValueMap"
    choices = {name: int(code) for item in setup.config()["map"] for name, code in item.items()}
    assert choices["deciduous"] == 7 and len(choices) == 13
    defaults = layer.defaultValueDefinition(layer.fields().indexOf(schema.FIELD_AUTHOR)).expression()
    assert defaults == "@user_full_name"
    colours = {int(c.value()): c.symbol().color().name() for c in layer.renderer().categories()}
    assert colours[5] == FLAIR_13.by_code(5).colour
    with pytest.raises(ValueError, match="already exists"):
        create_corrections(result.classes)


def test_corrections_are_burnt_into_a_copy_latest_wins(result, flair_provider, tmp_path):
    import processing

    path = create_corrections(result.classes)
    add_corrections(
        path,
        [
            (square(10, 10, 20), 10, "2026-11-30T10:00:00"),  # herbaceous on coniferous
            (square(20, 20, 20), 11, "2026-12-01T09:00:00"),  # agricultural, later: wins the overlap
            (square(40, 40, 20), 6, "2026-12-01T10:00:00"),  # coniferous over the boundary: half changes
        ],
    )
    output = tmp_path / "map.corrected.tif"
    answer = processing.run(
        "flair:apply_corrections",
        {
            "CLASSES": str(result.classes),
            "CORRECTIONS": f"{path}|layername=corrections",
            "OUTPUT": str(output),
        },
    )

    with rasterio.open(result.classes) as dataset:
        before = dataset.read(1)
        colours, tags = dataset.colormap(1), dataset.tags(1)
    with rasterio.open(output) as dataset:
        after = dataset.read(1)
        assert dataset.colormap(1) == colours and dataset.tags(1) == tags and dataset.nodata == 0
        assert dataset.crs.to_epsg() == 2154
    expected = before.copy()
    expected[10:30, 10:30] = 10
    expected[20:40, 20:40] = 11
    expected[40:60, 40:60] = 6
    assert np.array_equal(after, expected)
    changed = int((after != before).sum())
    assert answer["CHANGED_PIXELS"] == changed == 20 * 20 + 20 * 20 - 10 * 10 + 20 * 10
    assert not list(tmp_path.glob(".*partial*"))


def test_corrections_in_another_crs_are_reprojected(result, flair_provider, tmp_path):
    import processing

    source, target = osr.SpatialReference(), osr.SpatialReference()
    source.ImportFromEPSG(2154)
    target.ImportFromEPSG(4326)
    for srs in (source, target):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geometry = ogr.CreateGeometryFromWkt(square(60, 10, 20))
    geometry.Transform(osr.CoordinateTransformation(source, target))
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326&field=code:integer", "wgs84 corrections", "memory")
    from qgis.core import QgsFeature, QgsGeometry

    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromWkt(geometry.ExportToWkt()))
    feature["code"] = 1
    layer.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(layer)
    output = tmp_path / "corrected.tif"

    answer = processing.run(
        "flair:apply_corrections",
        {"CLASSES": str(result.classes), "CORRECTIONS": layer, "OUTPUT": str(output)},
    )

    with rasterio.open(output) as dataset:
        after = dataset.read(1)
    changed = after == 1
    assert abs(int(changed.sum()) - 400) <= 40  # a 20 x 20 px square, edges moved by the reprojection
    assert changed[10:30, 60:80].mean() > 0.9 and answer["CHANGED_PIXELS"] == int(changed.sum())


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "no correction to apply"),
        ([(square(10, 10, 5), 14, "")], r"Correction\(s\) 1 have a class code outside"),
        ([(square(10, 10, 5), None, "")], "class code outside"),
        (
            [(square(10, 10, 5), 3, ""), ("POLYGON((651000 6862000,651004 6861996,651004 6862000,"
                                          "651000 6861996,651000 6862000))", 3, "")],
            r"Correction\(s\) 2 are not valid polygons",
        ),
        ([(square(500, 500, 5), 3, "")], "No correction covers the map"),
    ],
)  # fmt: skip
def test_bad_corrections_are_refused_and_nothing_is_written(result, flair_provider, tmp_path, rows, message):
    import processing

    path = create_corrections(result.classes)
    add_corrections(path, rows)
    output = tmp_path / "corrected.tif"
    before = set(tmp_path.iterdir())
    with pytest.raises(QgsProcessingException, match=message):
        processing.run(
            "flair:apply_corrections",
            {
                "CLASSES": str(result.classes),
                "CORRECTIONS": f"{path}|layername=corrections",
                "OUTPUT": str(output),
            },
        )
    assert set(tmp_path.iterdir()) == before


def test_reclassify_a_region_from_the_inspect_panel(result, qgis_new_project, qgis_canvas):
    from qgis.core import QgsPointXY, QgsRasterLayer

    from flair_qgis.gui.inspect_tool import InspectPanel, InspectTool
    from flair_qgis.review.polygonize import polygonize_result

    layer = QgsRasterLayer(str(result.classes), "map - classes")
    QgsProject.instance().addMapLayer(layer)
    qgis_canvas.setDestinationCrs(layer.crs())
    panel = InspectPanel()
    tool = InspectTool(qgis_canvas, panel, lambda: layer)
    right_half = QgsPointXY(ORIGIN[0] + 70 * GSD, ORIGIN[1] - 20 * GSD)  # deciduous (7)

    tool.inspect(right_half)
    assert panel.reclassify_button.isEnabled() and panel.class_combo.count() == 13
    assert tool.reclassify(code=10) is None  # no polygons yet: the panel says how to make them
    assert "make the map's polygons first" in panel.correction_label.text()
    assert not corrections_path(result.classes).exists()

    polygonize_result(result.classes, result.classes.with_suffix(".polygons.gpkg"))
    tool.inspect(right_half)
    panel.class_combo.setCurrentIndex(panel.class_combo.findData(10))
    fid = tool.reclassify()
    assert fid is not None and "herbaceous vegetation" in panel.correction_label.text()

    corrections = QgsProject.instance().mapLayersByName("map - corrections")[0]
    (correction,) = corrections.getFeatures()
    assert correction[schema.FIELD_CODE] == 10 and correction[schema.FIELD_ORIGIN] == schema.ORIGIN_POLYGON
    assert correction[schema.FIELD_DATE].startswith("20")
    # The whole deciduous half: 50 x 100 px.
    assert correction.geometry().area() == pytest.approx(50 * 100 * GSD * GSD)
    assert not corrections.isEditable()  # written to the file at once


def test_correct_a_review_zone_from_the_dock_links_zone_and_correction(
    tmp_path, qgis_new_project, qgis_canvas, flair_provider
):
    import processing

    from flair_qgis.gui.review_dock import ReviewDock

    from .test_review_zones import constructed

    classes, confidence, probabilities = constructed()
    paths = write_result(tmp_path / "map.tif", classes, confidence, probabilities)
    zones_file = tmp_path / "map.review.gpkg"
    processing.run(
        "flair:review_zones",
        {"CLASSES": str(paths.classes), "CONFIDENCE": str(paths.confidence), "MIN_AREA": 1.0,
         "OUTPUT": str(zones_file)},
    )  # fmt: skip
    zones = QgsVectorLayer(f"{zones_file}|layername=review_zones", "map - review zones", "ogr")
    QgsProject.instance().addMapLayer(zones)
    dock = ReviewDock(qgis_canvas)
    assert dock.class_combo.count() == 13 and dock.correct_as_button.isEnabled()
    first = dock.queue.current
    dock.note_edit.setText("a young plantation")

    fid = dock.correct_as(code=7)

    assert dock.queue.current.rank == 2  # moved on to the next zone
    corrections = QgsProject.instance().mapLayersByName("map - corrections")[0]
    correction = corrections.getFeature(fid)
    assert correction[schema.FIELD_CODE] == 7 and correction[schema.FIELD_ORIGIN] == schema.ORIGIN_ZONE
    assert correction[schema.FIELD_NOTE] == "a young plantation"
    assert correction.geometry().area() == pytest.approx(first.area_m2)
    dataset = ogr.Open(str(zones_file))
    rows = {
        f["rank"]: (f["status"], f[schema.FIELD_CORRECTION]) for f in dataset.GetLayerByName("review_zones")
    }
    assert rows[1] == (schema.STATUS_CORRECTED, fid) and rows[2][1] is None
    dataset = None
    dock.deleteLater()


def test_training_patches_are_exported_through_processing(scene, flair_provider):
    """Map, corrections, export: through Processing, with the aerial bands composed from three layers as
    the run was; the patch images hold the composed bands, the labels the corrections."""
    import json

    import processing

    aerial = {"AERIAL": scene.rgb, "NIR_LAYER": scene.irc, "ELEVATION_LAYER": scene.elevation}
    classes = scene.folder / "june.tif"
    processing.run(
        "flair:landcover", {**aerial, "BUNDLE": str(scene.bundle), "DEVICE": 2, "OUTPUT": str(classes)}
    )
    corrections = create_corrections(classes)
    add_corrections(corrections, [(square(5, 5, 10), 10, "2026-12-01T10:00:00")])
    out = scene.folder / "patches"

    answer = processing.run(
        "flair:export_training_patches",
        {"CLASSES": str(classes), "CORRECTIONS": f"{corrections}|layername=corrections", **aerial,
         "BUNDLE": str(scene.bundle), "AERIAL_DATE": "2021-06-18", "OUTPUT": str(out)},
    )  # fmt: skip

    assert answer["PATCHES"] == 1
    (image,) = out.rglob("IMG_*.tif")
    (mask,) = out.rglob("MSK_*.tif")
    with rasterio.open(image) as dataset, rasterio.open(scene.rgb.source()) as rgb:
        bands = dataset.read()
        assert bands.shape == (5, 64, 64)
        assert np.array_equal(bands[:3], rgb.read(window=((0, 64), (0, 64))))
    with rasterio.open(scene.irc.source()) as irc:
        assert np.array_equal(bands[3], irc.read(1, window=((0, 64), (0, 64))))
    with rasterio.open(mask) as dataset:
        labels = dataset.read(1)
    assert (labels[5:15, 5:15] == 10).all() and (labels != 0).sum() == 100
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["patches"] == 1 and manifest["corrected_pixels"] == {"10 herbaceous vegetation": 100}
    metadata = json.loads((out / "flair_aerial_metadata.json").read_text())
    assert [entry["date"] for entry in metadata.values()] == ["2021-06-18"]
    assert not (out / "flair_sen_train").exists()  # an aerial-only model: no Sentinel-2 needed


def test_the_export_refuses_corrections_that_are_not_a_file(scene, flair_provider):
    import processing

    layer = QgsVectorLayer("Polygon?crs=EPSG:2154&field=code:integer", "scratch", "memory")
    QgsProject.instance().addMapLayer(layer)
    with pytest.raises(QgsProcessingException, match="save the layer to a file first"):
        processing.run(
            "flair:export_training_patches",
            {"CLASSES": scene.rgb, "CORRECTIONS": layer, "AERIAL": scene.rgb, "NIR_LAYER": scene.irc,
             "ELEVATION_LAYER": scene.elevation, "BUNDLE": str(scene.bundle),
             "OUTPUT": str(scene.folder / "patches")},
        )  # fmt: skip
    assert not (scene.folder / "patches").exists()
