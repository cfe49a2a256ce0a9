"""`flair:polygonize` in the real QGIS on FLAIR results whose polygons are known: topology (no gap, no
overlap), the sieve's merge into the largest neighbour, simplification, attributes, style, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from qgis.core import QgsGeometry, QgsProcessingException, QgsVectorLayer

from flair_qgis.review import schema

from .rasters import write_geotiff
from .results import write_result

PIXEL = 0.04  # m² at 0.2 m


def known_map() -> tuple[np.ndarray, np.ndarray]:
    """100 x 100 px: coniferous left half, herbaceous right half, a 20 x 20 water square across the
    middle, a 2 x 2 building speck inside the coniferous (under a 1 m² MMU), a 5 x 5 nodata corner;
    confidence 0.8 on the left, 0.4 on the right."""
    classes = np.full((100, 100), 6, np.uint8)
    classes[:, 50:] = 10
    classes[40:60, 40:60] = 5
    classes[10:12, 10:12] = 1
    classes[0:5, 0:5] = 0
    confidence = np.where(np.arange(100)[None, :] < 50, 0.8, 0.4).repeat(100, 0).astype(np.float32)
    return classes, confidence


def run(processing, **parameters):
    return processing.run("flair:polygonize", parameters)


def polygons(path) -> list[dict]:
    layer = QgsVectorLayer(f"{path}|layername={schema.POLYGON_LAYER_NAME}", "polygons", "ogr")
    assert layer.isValid()
    return [
        dict(zip(f.fields().names(), f.attributes(), strict=True), geometry=f.geometry())
        for f in layer.getFeatures()
    ]


def assert_coverage(features: list[dict], classified_m2: float, tolerance: float = 1e-6) -> None:
    """No overlap between any two polygons, and their union covers exactly the classified area."""
    geometries = [f["geometry"] for f in features]
    assert all(g.isGeosValid() for g in geometries)
    for a, b in itertools.combinations(geometries, 2):
        assert a.intersection(b).area() == pytest.approx(0.0, abs=tolerance)
    assert QgsGeometry.unaryUnion(geometries).area() == pytest.approx(classified_m2, rel=tolerance)
    assert sum(g.area() for g in geometries) == pytest.approx(classified_m2, rel=tolerance)


def test_polygons_cover_the_map_and_small_regions_join_their_largest_neighbour(
    tmp_path, flair_provider, monkeypatch
):
    # Strips of a few rows: the sums must add up across strips as they do on a large map.
    monkeypatch.setattr("flair_qgis.review.raster_blocks.STRIP_PIXELS", 700)
    import processing

    classes, confidence = known_map()
    result = write_result(tmp_path / "map.tif", classes, confidence)
    output = tmp_path / "polygons.gpkg"

    answer = run(processing, CLASSES=str(result.classes), CONFIDENCE=str(result.confidence), MMU=1.0,
                 SIMPLIFY=0.0, OUTPUT=str(output))  # fmt: skip

    assert answer["POLYGONS"] == 3
    features = polygons(output)
    by_code = {f[schema.FIELD_CODE]: f for f in features}
    assert sorted(by_code) == [5, 6, 10]  # the 4-pixel building speck is gone into the coniferous
    assert by_code[6]["geometry"].area() == pytest.approx((50 * 100 - 200 - 25) * PIXEL)
    assert by_code[6][schema.FIELD_CLASS_EN] == "coniferous"
    assert by_code[6][schema.FIELD_CLASS_FR] == "conifères"
    assert by_code[5][schema.FIELD_AREA] == pytest.approx(400 * PIXEL)
    assert by_code[5][schema.FIELD_MEAN_CONFIDENCE] == pytest.approx(0.6)
    assert by_code[10][schema.FIELD_MEAN_CONFIDENCE] == pytest.approx(0.4)
    assert all(f[schema.FIELD_AREA] >= 1.0 for f in features)
    assert_coverage(features, (100 * 100 - 25) * PIXEL)
    # The official palette comes with the file: a later load is styled without the plugin's help.
    layer = QgsVectorLayer(str(output), "reloaded", "ogr")
    assert layer.renderer().type() == "categorizedSymbol"
    colours = {str(c.value()): c.symbol().color().name() for c in layer.renderer().categories()}
    assert colours["6"] == "#194a26" and colours["5"] == "#1553ae"


def test_the_sieve_merges_into_the_largest_neighbour_not_the_first(tmp_path, flair_provider):
    import processing

    classes = np.full((60, 60), 10, np.uint8)  # herbaceous on the left: the largest region
    classes[:, 40:] = 11  # agricultural on the right: 1200 px
    classes[20:23, 37:40] = 1  # a 3 x 3 building touching the agricultural side
    classes[20:23, 36] = 11  # a 3 px agricultural strip on the building's left
    result = write_result(tmp_path / "map.tif", classes)
    output = tmp_path / "sieved.gpkg"

    run(processing, CLASSES=str(result.classes), MMU=9 * PIXEL * 1.5, OUTPUT=str(output))

    features = polygons(output)
    codes = sorted(f[schema.FIELD_CODE] for f in features)
    assert codes == [10, 11]
    total = {c: sum(f["geometry"].area() for f in features if f[schema.FIELD_CODE] == c) for c in (10, 11)}
    # The building (9 px, under the 14 px MMU) touches the agricultural field, the strip and the
    # herbaceous; it joins the herbaceous, the largest, and so does the strip: agricultural keeps 1200 px.
    assert total[11] == pytest.approx(1200 * PIXEL)
    assert total[10] == pytest.approx((3600 - 1200) * PIXEL)
    assert_coverage(features, 3600 * PIXEL)


def test_simplification_keeps_neighbours_sharing_their_edges(tmp_path, flair_provider):
    import processing

    rng = np.random.default_rng(3)
    blocks = rng.choice([2, 6, 7, 10, 11], size=(12, 12)).astype(np.uint8)
    classes = np.kron(blocks, np.ones((8, 8), np.uint8))  # 96 x 96 px, staircase-free blocks
    noise = rng.random(classes.shape) < 0.15
    classes[noise] = rng.choice([2, 6, 7, 10, 11], size=int(noise.sum()))
    result = write_result(tmp_path / "map.tif", classes)
    output = tmp_path / "simplified.gpkg"

    run(processing, CLASSES=str(result.classes), MMU=1.0, SIMPLIFY=0.5, OUTPUT=str(output))

    features = polygons(output)
    assert len(features) > 10
    geometries = [f["geometry"] for f in features]
    for a, b in itertools.combinations(geometries, 2):
        assert a.intersection(b).area() == pytest.approx(0.0, abs=1e-6)
    union = QgsGeometry.unaryUnion(geometries)
    assert sum(g.area() for g in geometries) == pytest.approx(union.area(), rel=1e-9)
    # No gap: the union is one polygon without holes, the (unchanged, straight) map outline.
    assert not union.isMultipart() and len(union.asPolygon()) == 1
    assert union.area() == pytest.approx(96 * 96 * PIXEL, rel=1e-9)
    vertices = sum(len(list(g.vertices())) for g in geometries)
    unsimplified = tmp_path / "raw.gpkg"
    run(processing, CLASSES=str(result.classes), MMU=1.0, SIMPLIFY=0.0, OUTPUT=str(unsimplified))
    assert vertices < sum(len(list(f["geometry"].vertices())) for f in polygons(unsimplified))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not_flair", "names no class"),
        ("float", "not a FLAIR class raster"),
        ("other_grid", "not on the class raster's grid"),
        ("negative_mmu", "MMU"),  # refused by Processing itself (minimum 0)
        ("sub_pixel_mmu", "smaller than one pixel"),
        ("empty", "is empty"),
        ("not_gpkg", "not a GeoPackage"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, flair_provider, case, message):
    import processing

    classes, confidence = known_map()
    result = write_result(tmp_path / "map.tif", classes, confidence)
    parameters = {"CLASSES": str(result.classes), "MMU": 1.0, "OUTPUT": str(tmp_path / "out.gpkg")}
    if case == "not_flair":
        parameters["CLASSES"] = str(write_geotiff(tmp_path / "plain.tif", classes[None]))
    elif case == "float":
        parameters["CLASSES"] = str(write_geotiff(tmp_path / "float.tif", confidence[None]))
    elif case == "other_grid":
        parameters["CONFIDENCE"] = str(
            write_geotiff(tmp_path / "conf.tif", (confidence[None, :50] * 100).astype(np.uint8))
        )
    elif case == "negative_mmu":
        parameters["MMU"] = -5.0
    elif case == "sub_pixel_mmu":
        parameters["MMU"] = 0.01
    elif case == "empty":
        parameters["CLASSES"] = str(write_result(tmp_path / "empty.tif", np.zeros_like(classes)).classes)
    elif case == "not_gpkg":
        parameters["OUTPUT"] = str(tmp_path / "out.shp")
    before = set(tmp_path.iterdir())

    with pytest.raises(QgsProcessingException, match=message):
        processing.run("flair:polygonize", parameters)

    assert set(tmp_path.iterdir()) == before  # no output, no temporary file left


def test_a_speckled_map_leaves_no_polygon_under_the_mmu(tmp_path, flair_provider):
    """Pixel-sized noise of four classes: one sieve at the MMU merges specks into specks; the regions
    must still all reach the MMU (no nodata to isolate them), and still cover the map."""
    import processing

    rng = np.random.default_rng(3)
    classes = rng.choice(np.array([2, 3, 6, 10], np.uint8), size=(120, 120))
    result = write_result(tmp_path / "map.tif", classes)
    output = tmp_path / "polygons.gpkg"
    mmu = 150 * PIXEL  # 6 m²: 150 px

    answer = run(processing, CLASSES=str(result.classes), MMU=mmu, OUTPUT=str(output))

    features = polygons(output)
    assert answer["POLYGONS"] == len(features) > 1
    assert min(f[schema.FIELD_AREA] for f in features) >= mmu
    assert_coverage(features, 120 * 120 * PIXEL)


def test_a_web_mercator_map_is_measured_on_the_ground(tmp_path, flair_provider):
    """A map made in EPSG:3857 (1.52 times stretched at Paris): the polygons' areas are ground areas, the
    ones the run's statistics report, not square CRS units."""
    import json

    import processing
    import rasterio

    from flair_qgis.core.predict import PredictionRequest, predict
    from tests.bundles import make_aerial_bundle

    from .conftest import scene_bands

    bands = scene_bands()
    aerial = tmp_path / "ortho_3857.tif"
    with rasterio.open(
        aerial, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=5, dtype="uint8",
        crs="EPSG:3857", transform=rasterio.transform.from_origin(261000.0, 6250000.0, 0.3, 0.3),
    ) as dataset:  # fmt: skip
        dataset.write(bands)
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    result = predict(
        PredictionRequest(aerial=aerial, bundle=bundle, output=tmp_path / "map.tif", device="cpu")
    )
    statistics = json.loads(result.statistics_json.read_text())
    output = tmp_path / "polygons.gpkg"

    run(processing, CLASSES=str(result.class_raster), MMU=0.0, OUTPUT=str(output))

    total = sum(f[schema.FIELD_AREA] for f in polygons(output))
    assert total == pytest.approx(statistics["classified_hectares"] * 10_000, rel=2e-3)
    crs_area = sum(f["geometry"].area() for f in polygons(output))
    assert crs_area / total == pytest.approx(1.52**2, rel=0.02)  # what the polygons measured before
