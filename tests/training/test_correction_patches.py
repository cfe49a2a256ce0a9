"""Training patches exported from a reviewer's corrections are read by the training package as FLAIR #2
data: images on the aerial grid, labels from the corrections (latest wins) and nothing else unless asked,
and each patch's Sentinel-2 window equal to the one a run cuts for that tile."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from osgeo import ogr, osr

from flair_qgis.core.predict import PredictionRequest, predict
from flair_qgis.core.sentinel2.load import load_series
from flair_qgis.core.sentinel2.preprocess import prepare_window
from flair_qgis.review import schema
from flair_qgis.review.corrections import CORRECTION_FIELDS
from flair_qgis.review.result import ResultError
from flair_qgis.review.training_patches import PatchExport, export_training_patches
from flair_training.data.flair2 import IGNORE_INDEX, Flair2Dataset, find_patches
from tests.bundles import make_utt_bundle
from tests.data.sentinel2.generate import write_geotiff_date

ORIGIN = (651000.0, 6862000.0)
GSD = 0.2
SIZE = 256  # px of aerial: 4 x 4 patches of 64 px
TILE = 64
WINDOW = 8


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("scene")
    rng = np.random.default_rng(5)
    aerial = rng.integers(20, 235, (5, SIZE, SIZE), dtype=np.uint8)
    with rasterio.open(
        folder / "ortho.tif", "w", driver="GTiff", width=SIZE, height=SIZE, count=5, dtype="uint8",
        crs="EPSG:2154", transform=rasterio.transform.from_origin(*ORIGIN, GSD, GSD),
    ) as dataset:  # fmt: skip
        dataset.write(aerial)
    sentinel2 = folder / "s2"
    sentinel2.mkdir()
    bounds = (ORIGIN[0] - 300, ORIGIN[1] - 300 - SIZE * GSD, ORIGIN[0] + 300 + SIZE * GSD, ORIGIN[1] + 300)
    shape = (10, int((bounds[3] - bounds[1]) / 10), int((bounds[2] - bounds[0]) / 10))
    for day in ("2021-03-10", "2021-06-18", "2021-09-21"):
        write_geotiff_date(
            sentinel2 / f"S2_{day}.tif", "EPSG:2154", bounds, rng.normal(900, 80, shape).astype(np.float32)
        )
    bundle = folder / "utt.onnx"
    make_utt_bundle(bundle, tile_size=TILE, sentinel2_window=WINDOW)
    classes = folder / "map.tif"
    predict(
        PredictionRequest(
            aerial=folder / "ortho.tif",
            bundle=bundle,
            output=classes,
            sentinel2=sentinel2,
            outputs={"confidence"},
            device="cpu",
        )
    )
    return {"folder": folder, "aerial": folder / "ortho.tif", "sentinel2": sentinel2, "bundle": bundle,
            "classes": classes, "confidence": folder / "map.confidence.tif"}  # fmt: skip


def square(col: int, row: int, side: int) -> str:
    x0, y0 = ORIGIN[0] + col * GSD, ORIGIN[1] - row * GSD
    x1, y1 = x0 + side * GSD, y0 - side * GSD
    return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def write_corrections(path: Path, rows: list[tuple[str, int, str]], author: str = "") -> Path:
    """A corrections GeoPackage (the layer and fields of review/corrections.py) holding (WKT, code, date) rows."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2154)
    dataset = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = dataset.CreateLayer(schema.CORRECTIONS_LAYER_NAME, srs, ogr.wkbPolygon)
    for name, kind in CORRECTION_FIELDS:
        layer.CreateField(ogr.FieldDefn(name, kind))
    for wkt, code, when in rows:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        feature[schema.FIELD_CODE] = code
        feature[schema.FIELD_DATE] = when
        feature[schema.FIELD_AUTHOR] = author
        layer.CreateFeature(feature)
    dataset = None
    return path


def export(scene, out: Path, corrections: Path, **options):
    return export_training_patches(
        PatchExport(
            classes=scene["classes"],
            corrections=corrections,
            aerial=scene["aerial"],
            bundle=scene["bundle"],
            out=out,
            sentinel2=scene["sentinel2"],
            author="test reviewer",
            **options,
        )
    )


def test_patches_cover_the_corrections_and_read_as_flair2(scene, tmp_path):
    corrections = write_corrections(
        tmp_path / "map.corrections.gpkg",
        [(square(10, 10, 20), 10, "2026-11-30T10:00:00"),  # in patch (0, 0)
         (square(20, 20, 20), 7, "2026-12-01T10:00:00"),  # overlaps the first, later: wins
         (square(140, 200, 30), 5, "2026-12-01T11:00:00")],  # in patch (2, 3)
    )  # fmt: skip
    out = tmp_path / "dataset"

    summary = export(scene, out, corrections)

    assert summary.patches == 2 and summary.zones == 1
    assert summary.corrected_pixels == {10: 20 * 20 - 10 * 10, 7: 20 * 20, 5: 30 * 30}
    assert not summary.predicted_pixels
    assert any("no example of 10 class(es)" in w for w in summary.warnings)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["patches"] == 2 and manifest["author"] == "test reviewer"
    assert manifest["corrected_pixels"]["7 deciduous"] == 400

    patches = find_patches(out)
    assert [p.zone for p in patches] == ["Z0-0", "Z0-0"]
    first = patches[0]
    with rasterio.open(first.aerial) as image, rasterio.open(scene["aerial"]) as ortho:
        assert image.transform == ortho.transform and image.count == 5 and image.dtypes[0] == "uint8"
        assert np.array_equal(image.read(), ortho.read(window=((0, TILE), (0, TILE))))
    with rasterio.open(first.labels) as labels:
        codes = labels.read(1)
    assert (codes[10:20, 10:30] == 10).all() and (codes[20:40, 20:40] == 7).all()
    assert (codes != 0).sum() == 700  # nothing but the corrections

    from flair_qgis.core.bundle import load_bundle

    spec = load_bundle(scene["bundle"]).spec
    dataset = Flair2Dataset(out, patches, spec.aerial, spec.sentinel2)
    sample = dataset[1]
    labels = sample["labels"].numpy()
    assert (labels == IGNORE_INDEX).sum() == TILE * TILE - 30 * 30  # water (5) only where corrected
    # The training window of each patch is the one a run cuts for that tile.
    centre_x = ORIGIN[0] + (2 + 0.5) * TILE * GSD
    centre_y = ORIGIN[1] - (3 + 0.5) * TILE * GSD
    bounds = (
        ORIGIN[0] + 2 * TILE * GSD,
        ORIGIN[1] - 4 * TILE * GSD,
        ORIGIN[0] + 3 * TILE * GSD,
        ORIGIN[1] - 3 * TILE * GSD,
    )
    series = load_series(scene["sentinel2"], "EPSG:2154", bounds, spec.sentinel2)
    data, masks = series.window(centre_x, centre_y)
    expected = prepare_window(data, masks, series.dates, spec.sentinel2)
    assert np.allclose(sample["sentinel2"].numpy(), expected.values, atol=0.5)
    assert np.array_equal(sample["positions"].numpy(), expected.positions)
    assert series.dates == [date(2021, 3, 10), date(2021, 6, 18), date(2021, 9, 21)]


def test_confident_predictions_label_the_rest_only_when_asked(scene, tmp_path):
    corrections = write_corrections(tmp_path / "c.gpkg", [(square(10, 10, 20), 10, "")])
    with rasterio.open(scene["confidence"]) as dataset:
        confidence = dataset.read(1)[:TILE, :TILE] * dataset.scales[0]
    threshold = float(np.quantile(confidence, 0.5))

    summary = export(
        scene, tmp_path / "dataset", corrections, confidence=scene["confidence"], confident=threshold
    )

    with rasterio.open(next((tmp_path / "dataset").rglob("MSK_*.tif"))) as dataset:
        codes = dataset.read(1)
    with rasterio.open(scene["classes"]) as dataset:
        predicted = dataset.read(1)[:TILE, :TILE]
    confident = confidence >= threshold - 1e-9
    confident[10:30, 10:30] = False
    assert (codes[10:30, 10:30] == 10).all()
    assert (
        np.array_equal(codes[confident], predicted[confident])
        and (codes[~confident & (codes != 10)] == 0).all()
    )
    assert sum(summary.predicted_pixels.values()) == int(confident.sum())


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        ([], {}, "no correction to apply"),
        ([(square(10, 10, 5), 40, "")], {}, "class code outside"),
        ([(square(10, 10, 5), 3, "")], {"confident": 0.9}, "needs the map's confidence raster"),
        ([(square(10, 10, 5), 3, "")], {"aerial_date": "2021-02-30"}, "not a date"),
    ],
)
def test_bad_requests_write_nothing(scene, tmp_path, rows, options, message):
    corrections = write_corrections(tmp_path / "c.gpkg", rows)
    out = tmp_path / "dataset"
    with pytest.raises(ResultError, match=message):
        export(scene, out, corrections, **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.gpkg"]


def test_an_output_folder_with_files_is_refused(scene, tmp_path):
    corrections = write_corrections(tmp_path / "c.gpkg", [(square(10, 10, 5), 3, "")])
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ResultError, match="not empty"):
        export(scene, out, corrections)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_flair_train_export_patches_from_the_command_line(scene, tmp_path, capsys):
    from flair_training.cli import main

    corrections = write_corrections(tmp_path / "map.corrections.gpkg", [(square(70, 70, 10), 11, "")])
    out = tmp_path / "dataset"
    status = main(
        ["export-patches", str(scene["classes"]), str(corrections), str(out), "--aerial", str(scene["aerial"]),
         "--model", str(scene["bundle"]), "--sentinel2", str(scene["sentinel2"]), "--author", "A. Reviewer"]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "wrote 1 patches in 1 zone(s)" in printed.out and "100 corrected pixels" in printed.out
    assert json.loads((out / "manifest.json").read_text())["author"] == "A. Reviewer"

    status = main(
        ["export-patches", str(scene["classes"]), str(corrections), str(out), "--aerial", str(scene["aerial"]),
         "--model", str(scene["bundle"]), "--sentinel2", str(scene["sentinel2"])]
    )  # fmt: skip
    assert status == 2 and "is not empty" in capsys.readouterr().err
