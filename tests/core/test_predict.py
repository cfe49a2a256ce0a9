"""End-to-end predictions: known-answer ONNX bundles on real GeoTIFFs through the real ONNX Runtime and
rasterio, checked pixel for pixel against the answer computed by hand with numpy."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
from affine import Affine

from flair_qgis.core.area import AreaOfInterest
from flair_qgis.core.bundle import load_bundle
from flair_qgis.core.errors import BundleError, Cancelled, InputError, OutputError
from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.core.predict import (
    LANE_STAGES,
    MAIN_STAGES,
    READER_STAGES,
    PredictionRequest,
    best_class,
    predict,
    softmax,
)
from flair_qgis.core.runtime import CPU, lane_plan
from flair_qgis.core.sentinel2.preprocess import pad_series
from tests.bundles import aerial_logits, default_weights, make_aerial_bundle, make_spec
from tests.rasters import ORIGIN, write_corrupt, write_raster, write_truncated


def expected_probabilities(raw: np.ndarray, weights=None, bias=None) -> np.ndarray:
    """The known answer of the aerial test bundles on 8-bit bands: softmax(1x1 conv(raw / 255))."""
    if weights is None:
        weights, bias = default_weights(13, raw.shape[0])
    logits = aerial_logits(raw.astype(np.float32) / 255.0, weights, bias)
    return softmax(logits[None].astype(np.float32))[0]


def expected_classes(raw: np.ndarray) -> np.ndarray:
    return np.array(FLAIR_13.codes, np.uint8)[np.argmax(expected_probabilities(raw), axis=0)]


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 5-band 8-bit ortho of 150 x 110 px at 0.2 m in Lambert-93, random values."""
    data = np.random.default_rng(7).integers(0, 256, (5, 110, 150), dtype=np.uint8)
    return write_raster(tmp_path / "ortho.tif", data), data


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    make_aerial_bundle(tmp_path / "unet.onnx", tile_size=32)
    return tmp_path / "unet.onnx"


def run(tmp_path: Path, aerial, bundle: Path, **options) -> tuple:
    output = options.pop("output", tmp_path / "out" / "map.tif")
    output.parent.mkdir(exist_ok=True)
    steps: list[tuple[float, str]] = []
    request = PredictionRequest(aerial=aerial, bundle=bundle, output=output, **options)
    result = predict(request, progress=lambda f, m: steps.append((f, m)))
    return result, steps


def test_map_is_pixel_exact_georeferenced_styled_and_counted(tmp_path: Path, scene, bundle: Path) -> None:
    path, data = scene
    result, steps = run(tmp_path, path, bundle, overlap=8, outputs={"confidence", "probabilities"})
    probabilities = expected_probabilities(data)
    with rasterio.open(result.class_raster) as src:
        classes = src.read(1)
        assert src.crs.to_epsg() == 2154
        assert src.transform == Affine(0.2, 0, ORIGIN[0], 0, -0.2, ORIGIN[1])
        assert (src.width, src.height, src.dtypes[0], src.nodata) == (150, 110, "uint8", 0)
        colours = src.colormap(1)
    np.testing.assert_array_equal(classes, expected_classes(data))
    for cls in FLAIR_13.classes:
        assert colours[cls.code][:3] == cls.rgb
    with rasterio.open(result.confidence) as src:
        np.testing.assert_array_equal(src.read(1), np.rint(probabilities.max(axis=0) * 100).astype(np.uint8))
    with rasterio.open(result.probabilities) as src:
        assert src.count == 13
        stored = src.read().astype(np.float32) / 255
        np.testing.assert_allclose(stored, probabilities, atol=1 / 255 + 1e-6)
    counts = np.bincount(classes.ravel(), minlength=14)
    rows = json.loads(result.statistics_json.read_text())
    text = json.dumps(rows)
    assert "building" in text and "water" in text
    with result.statistics_csv.open() as stream:
        table = {int(row["code"]): row for row in csv.DictReader(stream)}
    for row in result.statistics:
        assert row.pixels == counts[row.code]
        assert row.hectares == pytest.approx(counts[row.code] * 0.04 / 10_000)
        assert row.percent == pytest.approx(100 * counts[row.code] / classes.size)
        assert float(table[row.code]["hectares"]) == pytest.approx(row.hectares, abs=1e-4)
    assert "PalettedRasterRenderer" in result.qml.read_text() or "paletted" in result.qml.read_text()
    assert result.provider == "CPUExecutionProvider"
    assert 0 <= result.waited_for_data < result.seconds
    # 150 x 110 px in 32 px tiles every 24 px: columns at 0..96 and 118, rows at 0..72 and 78.
    assert result.tiles == 6 * 5
    assert len(steps) == 1 + 30  # starting, then one step per batch of one tile (CPU)
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert steps[-1][1] == "Tile 30 of 30 on the CPU"


def test_tiled_map_equals_the_single_pass_for_a_pointwise_model(tmp_path: Path) -> None:
    """A 64 x 64 image in one 64 px tile, and in 24 px tiles with a ragged edge and several chunks:
    the blended probabilities are the single pass's, to float precision."""
    data = np.random.default_rng(3).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    path = write_raster(tmp_path / "ortho.tif", data)
    make_aerial_bundle(tmp_path / "whole.onnx", tile_size=64)
    make_aerial_bundle(tmp_path / "tiled.onnx", tile_size=24)
    whole, _ = run(
        tmp_path, path, tmp_path / "whole.onnx", output=tmp_path / "whole.tif", outputs={"probabilities"}
    )
    tiled, _ = run(
        tmp_path,
        path,
        tmp_path / "tiled.onnx",
        output=tmp_path / "tiled.tif",
        overlap=7,
        outputs={"probabilities"},
    )
    assert (whole.tiles, tiled.tiles) == (1, 16)
    for a, b in ((whole.class_raster, tiled.class_raster), (whole.probabilities, tiled.probabilities)):
        with rasterio.open(a) as one, rasterio.open(b) as other:
            np.testing.assert_array_equal(one.read(), other.read())


def seam_error(tmp_path: Path, path: Path, overlap: int, name: str) -> np.ndarray:
    """Per-pixel |tiled - single-pass| probability of class 1 with the 3x3 blur model."""
    weights, bias = default_weights(13, 5)
    for size in (64, 32):
        make_aerial_bundle(
            tmp_path / f"blur{size}.onnx", tile_size=size, blur=True, weights=8 * weights, bias=bias
        )
    outputs = []
    for model, overlap_px in (("blur64", 0), ("blur32", overlap)):
        result, _ = run(
            tmp_path,
            path,
            tmp_path / f"{model}.onnx",
            output=tmp_path / f"{name}_{model}.tif",
            overlap=overlap_px,
            outputs={"probabilities"},
        )
        with rasterio.open(result.probabilities) as src:
            outputs.append(src.read(1).astype(np.float32) / 255)
    return np.abs(outputs[0] - outputs[1])


def test_blending_removes_the_seams_of_a_spatial_model(tmp_path: Path) -> None:
    """A 3x3 blur sees zero padding at tile edges. Without overlap the error sits on the tile edges
    (a seam); with 8 px of overlap and smooth weights it is several times smaller there."""
    data = np.random.default_rng(5).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    path = write_raster(tmp_path / "ortho.tif", data)
    hard = seam_error(tmp_path, path, 0, "hard")
    soft = seam_error(tmp_path, path, 8, "soft")
    inner = slice(2, 62)
    # With 32 px tiles and no overlap, rows/columns 31 and 32 are tile edges.
    hard_seam = hard[inner, 31:33].mean()
    soft_seam = soft[inner, 28:36].mean()
    assert hard_seam > 0.02
    assert soft_seam < hard_seam / 3
    assert hard[8:24, 8:24].max() <= 1 / 255 + 1e-6  # away from edges both agree to quantisation


def test_nodata_and_area_of_interest(tmp_path: Path, bundle: Path) -> None:
    data = np.random.default_rng(11).integers(1, 256, (5, 110, 150), dtype=np.uint8)
    data[:, 10:20, 30:60] = 0
    path = write_raster(tmp_path / "ortho.tif", data, nodata=0)
    x0, y0 = ORIGIN
    # A box from column 20 to 100 and row 5 to 70, in the image's CRS.
    area = AreaOfInterest.from_bounds((x0 + 4.0, y0 - 14.0, x0 + 20.0, y0 - 1.0), "EPSG:2154")
    result, _ = run(tmp_path, path, bundle, area=area, overlap=4)
    with rasterio.open(result.class_raster) as src:
        classes = src.read(1)
        assert src.transform == Affine(0.2, 0, x0 + 4.0, 0, -0.2, y0 - 1.0)
        assert (src.width, src.height) == (80, 65)
    part = data[:, 5:70, 20:100]
    expected = expected_classes(part)
    expected[(part == 0).all(axis=0)] = 0
    np.testing.assert_array_equal(classes, expected)
    assert (classes[5:15, 10:40] == 0).all()
    assert sum(r.pixels for r in result.statistics) == int((expected > 0).sum())


def test_polygon_area_in_another_crs(tmp_path: Path, scene, bundle: Path) -> None:
    """A triangle given in WGS 84: pixels whose centre lies outside it are nodata."""
    path, data = scene
    import rasterio.warp

    x0, y0 = ORIGIN
    corners = [(x0 + 2, y0 - 2), (x0 + 28, y0 - 2), (x0 + 2, y0 - 20), (x0 + 2, y0 - 2)]
    lon, lat = rasterio.warp.transform("EPSG:2154", "EPSG:4326", *zip(*corners, strict=True))
    geojson = {"type": "Polygon", "coordinates": [list(zip(lon, lat, strict=True))]}
    area = AreaOfInterest.from_geojson(geojson)
    result, _ = run(tmp_path, path, bundle, area=area)
    with rasterio.open(result.class_raster) as src:
        classes = src.read(1)
        left, top = src.transform.c, src.transform.f
    assert left == pytest.approx(x0 + 2, abs=0.2) and top == pytest.approx(y0 - 2, abs=0.2)
    mask = area.mask(result.grid)
    assert 0.4 < mask.mean() < 0.6
    col0, row0 = round((left - x0) / 0.2), round((y0 - top) / 0.2)
    part = data[:, row0 : row0 + classes.shape[0], col0 : col0 + classes.shape[1]]
    expected = np.where(mask, expected_classes(part), 0)
    np.testing.assert_array_equal(classes, expected)


def test_area_smaller_than_a_tile(tmp_path: Path, scene, bundle: Path) -> None:
    path, data = scene
    x0, y0 = ORIGIN
    area = AreaOfInterest.from_bounds((x0 + 10.0, y0 - 5.0, x0 + 12.0, y0 - 3.0), "EPSG:2154")
    result, _ = run(tmp_path, path, bundle, area=area)
    with rasterio.open(result.class_raster) as src:
        assert (src.width, src.height) == (10, 10)
        np.testing.assert_array_equal(src.read(1), expected_classes(data[:, 15:25, 50:60]))
    assert result.tiles == 1


def test_bands_composed_from_several_rasters(tmp_path: Path, scene, bundle: Path) -> None:
    _, data = scene
    rgb = write_raster(tmp_path / "rgb.tif", data[:3])
    irc = write_raster(tmp_path / "irc.tif", np.stack([data[3], data[0], data[1]]))
    dem = write_raster(tmp_path / "dem.tif", data[4])
    aerial = [(rgb, 1), (rgb, 2), (rgb, 3), (irc, 1), (dem, 1)]
    result, _ = run(tmp_path, aerial, bundle)
    with rasterio.open(result.class_raster) as src:
        np.testing.assert_array_equal(src.read(1), expected_classes(data))


def test_cancel_mid_run_leaves_nothing(tmp_path: Path, scene, bundle: Path) -> None:
    path, _ = scene
    out = tmp_path / "out"
    out.mkdir()
    calls = []

    def is_cancelled() -> bool:
        calls.append(1)
        return len(calls) > 5

    request = PredictionRequest(aerial=path, bundle=bundle, output=out / "map.tif", outputs={"confidence"})
    with pytest.raises(Cancelled):
        predict(request, is_cancelled=is_cancelled)
    assert list(out.iterdir()) == []


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path, scene, bundle: Path) -> None:
    path, data = scene
    out = tmp_path / "out"
    out.mkdir()
    (out / "map.tif").write_bytes(b"precious")
    request = PredictionRequest(aerial=path, bundle=bundle, output=out / "map.tif")
    with pytest.raises(OutputError, match="already exists"):
        predict(request)
    assert (out / "map.tif").read_bytes() == b"precious"
    assert sorted(p.name for p in out.iterdir()) == ["map.tif"]
    request.overwrite = True
    predict(request)
    with rasterio.open(out / "map.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected_classes(data))


def assert_refused(tmp_path: Path, error: type, words: str, **request) -> None:
    out = tmp_path / "refused"
    out.mkdir(exist_ok=True)
    request.setdefault("output", out / "map.tif")
    with pytest.raises(error, match=words) as info:
        predict(PredictionRequest(**request))
    assert str(info.value).strip()
    assert list(out.iterdir()) == []


def test_wrong_band_count(tmp_path: Path, bundle: Path) -> None:
    four = write_raster(tmp_path / "rgbi.tif", np.zeros((4, 40, 40), np.uint8))
    assert_refused(tmp_path, InputError, "has 4 bands; the model needs 5", aerial=four, bundle=bundle)


def test_missing_or_corrupt_aerial(tmp_path: Path, bundle: Path) -> None:
    assert_refused(tmp_path, InputError, "does not exist", aerial=tmp_path / "none.tif", bundle=bundle)
    bad = write_corrupt(tmp_path / "bad.tif")
    assert_refused(tmp_path, InputError, "cannot be read as a raster", aerial=bad, bundle=bundle)


def test_truncated_aerial_fails_cleanly(tmp_path: Path, bundle: Path) -> None:
    cut = write_truncated(tmp_path / "cut.tif", rows=256, cols=256)
    assert_refused(tmp_path, InputError, "failed|cannot be read", aerial=cut, bundle=bundle)


def test_area_outside_the_raster(tmp_path: Path, scene, bundle: Path) -> None:
    path, _ = scene
    far = AreaOfInterest.from_bounds((0, 0, 100, 100), "EPSG:2154")
    assert_refused(tmp_path, InputError, "outside the aerial image", aerial=path, bundle=bundle, area=far)


def test_sources_in_different_crs_are_reprojected_with_a_warning(tmp_path: Path, scene, bundle: Path) -> None:
    """The elevation band comes in Web Mercator: it is reprojected onto the ortho's grid and said so."""
    path, data = scene
    import rasterio.warp

    x0, y0 = ORIGIN
    (left, right), (bottom, top) = rasterio.warp.transform(
        "EPSG:2154", "EPSG:3857", [x0 - 10, x0 + 40], [y0 - 32, y0 + 10]
    )
    dem = np.full((300, 300), 200, np.uint8)
    transform = Affine((right - left) / 300, 0, left, 0, -(top - bottom) / 300, top)
    dem_path = write_raster(tmp_path / "dem_3857.tif", dem, crs="EPSG:3857", transform=transform)
    aerial = [(path, 1), (path, 2), (path, 3), (path, 4), (dem_path, 1)]
    result, _ = run(tmp_path, aerial, bundle)
    assert any("reprojected" in w for w in result.warnings)
    with rasterio.open(result.class_raster) as src:
        classes = src.read(1)
    composed = data.copy()
    composed[4] = 200
    agreement = (classes == expected_classes(composed)).mean()
    assert agreement > 0.99


def test_unreadable_model_and_missing_metadata(tmp_path: Path, scene) -> None:
    path, _ = scene
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not a model" * 50)
    assert_refused(tmp_path, BundleError, "not a readable ONNX model", aerial=path, bundle=junk)
    make_aerial_bundle(tmp_path / "bare.onnx", metadata=False)
    assert_refused(
        tmp_path, BundleError, "no flair bundle description", aerial=path, bundle=tmp_path / "bare.onnx"
    )


def test_a_graph_onnx_runtime_cannot_load_is_refused_with_nothing_written(tmp_path: Path, scene) -> None:
    """The run reads the bundle without a session (read_bundle): a well-formed file with a valid
    description whose graph ONNX Runtime refuses (an unknown operator) is refused by the run's session
    with load_bundle's error, and nothing is written."""
    import onnx

    path, _ = scene
    make_aerial_bundle(tmp_path / "unet.onnx", tile_size=32)
    model = onnx.load(str(tmp_path / "unet.onnx"))
    model.graph.node[0].op_type = "NoSuchOperator"
    onnx.save(model, str(tmp_path / "unknown_op.onnx"))
    assert_refused(
        tmp_path, BundleError, "not a readable ONNX model", aerial=path, bundle=tmp_path / "unknown_op.onnx"
    )
    with pytest.raises(BundleError, match="not a readable ONNX model"):
        load_bundle(tmp_path / "unknown_op.onnx")


class CountedSession(ort.InferenceSession):
    """The real ONNX Runtime session, counting how many are made."""

    made = 0

    def __init__(self, *args, **kwargs) -> None:
        CountedSession.made += 1
        super().__init__(*args, **kwargs)


def test_a_run_builds_one_session_per_lane(tmp_path: Path, scene, bundle: Path, monkeypatch) -> None:
    """A run given the bundle's path builds only the sessions that run it, one per lane of the CPU
    (runtime.lane_plan; the bundle's metadata and graph are read from the file), and a run given a
    loaded bundle builds only those too; with one thread, one session runs every batch."""
    path, data = scene
    lanes, _ = lane_plan(CPU, None)
    monkeypatch.setattr(ort, "InferenceSession", CountedSession)
    CountedSession.made = 0
    result, _ = run(tmp_path, path, bundle, output=tmp_path / "by_path.tif")
    assert result.tiles >= lanes and CountedSession.made == lanes
    with rasterio.open(result.class_raster) as src:
        np.testing.assert_array_equal(src.read(1), expected_classes(data))
    loaded = load_bundle(bundle)
    CountedSession.made = 0
    run(tmp_path, path, loaded, output=tmp_path / "loaded.tif")
    assert CountedSession.made == lanes
    CountedSession.made = 0
    result, _ = run(tmp_path, path, bundle, output=tmp_path / "one_thread.tif", threads=1)
    assert CountedSession.made == 1
    with rasterio.open(result.class_raster) as src:
        np.testing.assert_array_equal(src.read(1), expected_classes(data))


def test_batches_run_side_by_side_give_the_map_of_one_lane(tmp_path: Path, monkeypatch) -> None:
    """Two lanes, each batch on whichever session is free, stitched in the tiles' order: the same map,
    bit for bit, as one batch at a time, with tiles the model cannot tell apart by position."""
    import flair_qgis.core.runtime as runtime

    data = np.random.default_rng(11).integers(0, 256, (5, 300, 260), dtype=np.uint8)
    aerial = write_raster(tmp_path / "ortho.tif", data)
    make_aerial_bundle(tmp_path / "unet.onnx", tile_size=64)
    maps = {}
    for lanes in (1, 2):
        monkeypatch.setattr(runtime, "CPU_LANES", lanes)
        result, steps = run(tmp_path, aerial, tmp_path / "unet.onnx", threads=2, output=tmp_path / f"{lanes}.tif",
                            outputs={"probabilities"})  # fmt: skip
        tiles = [m for _, m in steps if m.startswith("Tile ")]
        assert len(tiles) == result.tiles > 12 and tiles[-1].startswith(
            f"Tile {result.tiles} of {result.tiles}"
        )
        with rasterio.open(result.class_raster) as src, rasterio.open(result.probabilities) as probs:
            maps[lanes] = (src.read(), probs.read())
    np.testing.assert_array_equal(maps[1][0], maps[2][0])
    np.testing.assert_array_equal(maps[1][1], maps[2][1])
    np.testing.assert_array_equal(maps[2][0][0], expected_classes(data))


def test_best_class_is_numpys_argmax_ties_and_nan_included() -> None:
    rng = np.random.default_rng(5)
    strip = rng.random((13, 40, 90), dtype=np.float32)
    coarse = np.round(strip * 4) / 4  # many ties: the first class wins, as in np.argmax
    with_nan = strip.copy()
    with_nan[7, 3, 4] = with_nan[2, 10, 11] = np.nan
    for probabilities in (strip, coarse, strip[:, 5:30, 7:60], with_nan, strip[:1]):
        np.testing.assert_array_equal(best_class(probabilities), np.argmax(probabilities, axis=0))


def test_softmax_in_place_gives_the_same_probabilities_over_the_logits() -> None:
    logits = np.random.default_rng(2).normal(0, 5, (2, 13, 8, 9)).astype(np.float32)
    expected = softmax(logits)
    result = softmax(logits, axis=1, in_place=True)
    assert result is logits
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_allclose(result.sum(axis=1), 1, rtol=1e-5)


def test_the_statistics_name_the_model_and_its_precision(tmp_path: Path, scene) -> None:
    """map.stats.json says which model made the map, and in which precision (an int8 bundle's map can
    differ from its fp32 bundle's on a few pixels)."""
    path, _ = scene
    for precision in ("fp32", "int8"):
        data = make_spec(tile_size=32).to_dict()
        data["model"]["precision"] = precision
        make_aerial_bundle(tmp_path / f"{precision}.onnx", tile_size=32, metadata=json.dumps(data))
        result, _ = run(tmp_path, path, tmp_path / f"{precision}.onnx", output=tmp_path / f"{precision}.tif")
        document = json.loads(result.statistics_json.read_text())
        assert document["model"] == {
            "name": "known-answer test model",
            "version": "1",
            "architecture": "unet",
            "precision": precision,
        }


def test_unwritable_output_folder(tmp_path: Path, scene, bundle: Path) -> None:
    path, _ = scene
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OutputError):
        predict(PredictionRequest(aerial=path, bundle=bundle, output=blocker / "map.tif"))
    assert_refused(
        tmp_path, OutputError, "does not exist", aerial=path, bundle=bundle, output=tmp_path / "no" / "m.tif"
    )
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        with pytest.raises(OutputError, match="not writable"):
            predict(PredictionRequest(aerial=path, bundle=bundle, output=locked / "map.tif"))
        assert list(locked.iterdir()) == []


def test_sentinel2_folder_required_by_a_utt_bundle(tmp_path: Path, scene) -> None:
    from tests.bundles import make_utt_bundle

    path, _ = scene
    make_utt_bundle(tmp_path / "utt.onnx", tile_size=32)
    assert_refused(
        tmp_path, InputError, "needs a Sentinel-2 folder", aerial=path, bundle=tmp_path / "utt.onnx"
    )
    assert_refused(
        tmp_path,
        InputError,
        "does not exist",
        aerial=path,
        bundle=tmp_path / "utt.onnx",
        sentinel2=tmp_path / "none",
    )


def test_bad_options(tmp_path: Path, scene, bundle: Path) -> None:
    path, _ = scene
    assert_refused(
        tmp_path, InputError, "overlap must lie between 0 and 31", aerial=path, bundle=bundle, overlap=32
    )
    assert_refused(tmp_path, InputError, "batch size", aerial=path, bundle=bundle, batch_size=0)
    assert_refused(tmp_path, OutputError, "GeoTIFF", aerial=path, bundle=bundle, output=tmp_path / "map.png")


def test_pad_series_pads_dates_and_frames() -> None:
    a = np.ones((2, 3, 4, 4), np.float32)
    b = np.full((3, 3, 4, 4), 2, np.float32)
    values, positions = pad_series([a, b], [np.array([10.0, 5.0]), np.array([1.0, 2.0, 3.0])], pad_value=-1)
    assert values.shape == (2, 3, 3, 4, 4) and positions.shape == (2, 3)
    assert (values[0, 2] == -1).all() and (values[0, :2] == 1).all() and (values[1] == 2).all()
    np.testing.assert_array_equal(positions, [[10, 5, 0], [1, 2, 3]])
    empty, days = pad_series([np.zeros((0, 3, 4, 4), np.float32)], [np.zeros(0, np.float32)], pad_value=0)
    assert empty.shape == (1, 1, 3, 4, 4) and days.tolist() == [[0.0]]


def write_sentinel2_folder(folder: Path) -> None:
    """Per-date GeoTIFFs at 10 m around the scene: B2 = (x of the pixel centre - 649000), the other
    bands 500, no cloud; plus a fully cloudy date whose B2 is 5000 higher (the filter must drop it)."""
    from tests.data.sentinel2.generate import write_geotiff_date

    folder.mkdir()
    bounds = (649800.0, 6859800.0, 650200.0, 6860200.0)
    cols = np.arange(40)
    b2 = np.broadcast_to(bounds[0] + 10 * cols + 5 - 649000, (40, 40)).astype(np.float32)
    for day, cloud, extra in (
        ("2021-03-10", 0, 0),
        ("2021-05-20", 0, 0),
        ("2021-07-05", 0, 0),
        ("2021-09-10", 100, 5000),
    ):
        data = np.full((10, 40, 40), 500, np.float32)
        data[0] = b2 + extra
        masks = np.zeros((2, 40, 40), np.uint8)
        masks[1] = cloud
        write_geotiff_date(folder / f"S2_{day}.tif", "EPSG:2154", bounds, data, masks)


def test_utt_bundle_gets_each_tiles_sentinel2_window_and_dates(tmp_path: Path) -> None:
    """A U-T&T-shaped bundle adds 0.01 x (max B2 of the tile's 8 x 8 window) to class 13 and
    dw x (max position) / 365 to class 12. B2 grows with x, so the bias differs from tile to tile
    column; the positions are the monthly means' days before 05-15: March 61, May 0, July -61."""
    from tests.bundles import make_utt_bundle

    data = np.random.default_rng(9).integers(0, 256, (5, 96, 128), dtype=np.uint8)
    path = write_raster(tmp_path / "ortho.tif", data)
    write_sentinel2_folder(tmp_path / "s2")
    s2_weights = np.zeros(13, np.float32)
    s2_weights[12] = 0.01
    dates_weights = np.zeros(13, np.float32)
    dates_weights[11] = 62.71  # class 12 logit -10 + 62.71 * 61 / 365 = 0.48: between class 13 logits
    make_utt_bundle(
        tmp_path / "utt.onnx", tile_size=32, sentinel2_window=8, sentinel2_weights=s2_weights,
        dates_weights=dates_weights,
    )  # fmt: skip
    result, steps = run(
        tmp_path, path, tmp_path / "utt.onnx", sentinel2=tmp_path / "s2", overlap=0, batch_size=3
    )
    assert result.tiles == 12
    assert any("Sentinel-2" in message for _, message in steps)
    weights, bias = default_weights(13, 5)
    expected = np.zeros((96, 128), np.uint8)
    xmin = 649960.0  # the series grid: the scene's bounds less 4 px of margin, on multiples of 10 m
    for i in range(4):
        x_centre = ORIGIN[0] + 6.4 * i + 3.2
        col0 = round((x_centre - xmin) / 10 - 4)
        window_max = xmin + 10 * (col0 + 7) + 5 - 649000
        series_bias = s2_weights * window_max + dates_weights * 61 / 365
        part = data[:, :, 32 * i : 32 * (i + 1)]
        logits = aerial_logits(part / 255.0, weights, bias + series_bias)
        expected[:, 32 * i : 32 * (i + 1)] = np.array(FLAIR_13.codes, np.uint8)[np.argmax(logits, axis=0)]
    with rasterio.open(result.class_raster) as src:
        classes = src.read(1)
    np.testing.assert_array_equal(classes, expected)
    assert {12, 13} <= set(np.unique(classes).tolist())  # both series terms change the map
    assert not any("cloudy" in w for w in result.warnings)
    assert_stage_times_add_up(result)


def assert_stage_times_add_up(result) -> None:
    """Every stage of a U-T&T run took time, and the calling thread's stages fit in the run's time."""
    main, lanes, reader = MAIN_STAGES, LANE_STAGES, READER_STAGES
    assert set(result.stages) == set(main) | set(lanes) | set(reader)
    assert all(result.stages[name] > 0 for name in (*main, *lanes, *reader))
    assert sum(result.stages[name] for name in main) <= result.seconds
    assert result.stages["waiting"] == result.waited_for_data


def test_all_cloudy_tiles_are_reported_and_unused_sentinel2_is_said(
    tmp_path: Path, scene, bundle: Path
) -> None:
    from tests.bundles import make_utt_bundle
    from tests.data.sentinel2.generate import write_geotiff_date

    path, _ = scene
    folder = tmp_path / "cloudy"
    folder.mkdir()
    for day in ("2021-04-02", "2021-06-12"):
        masks = np.zeros((2, 40, 40), np.uint8)
        masks[1] = 90
        data = np.full((10, 40, 40), 700, np.float32)
        write_geotiff_date(
            folder / f"S2_{day}.tif", "EPSG:2154", (649800.0, 6859800.0, 650200.0, 6860200.0), data, masks
        )
    make_utt_bundle(tmp_path / "utt.onnx", tile_size=32)
    result, _ = run(tmp_path, path, tmp_path / "utt.onnx", sentinel2=folder, output=tmp_path / "utt.tif")
    assert any(
        f"{result.tiles} of {result.tiles} tiles had only cloudy Sentinel-2 dates" in w
        for w in result.warnings
    )
    aerial_only, _ = run(tmp_path, path, bundle, sentinel2=folder, output=tmp_path / "unet.tif")
    assert any("aerial-only" in w for w in aerial_only.warnings)


def test_tiles_without_data_are_skipped_and_nodata(tmp_path: Path, bundle: Path) -> None:
    data = np.random.default_rng(4).integers(1, 256, (5, 64, 96), dtype=np.uint8)
    data[:, :, :40] = 0  # the first column of 32 px tiles has no data at all, the second some
    path = write_raster(tmp_path / "ortho.tif", data, nodata=0)
    result, _ = run(tmp_path, path, bundle, overlap=0)
    assert (result.tiles, result.empty_tiles) == (6, 2)
    expected = expected_classes(data)
    expected[:, :40] = 0
    with rasterio.open(result.class_raster) as src:
        np.testing.assert_array_equal(src.read(1), expected)


def test_every_read_of_a_run_has_gdals_block_cache_capped(tmp_path, scene, bundle) -> None:
    """GDAL's block cache is 5 % of RAM unless GDAL_CACHEMAX caps it, and a run's value checks read the
    image before the writer opens: predict caps it before its first read, on the calling thread and the
    reader thread (else peak memory grows with the map's area). GDAL itself is asked at each read."""
    import ctypes
    import threading

    from flair_qgis.core.gdal_runtime import mapped_gdal_libraries
    from flair_qgis.core.outputs import OutputOptions
    from flair_qgis.core.rasters import RasterioSource

    gdal = ctypes.CDLL(mapped_gdal_libraries()[0])
    gdal.GDALGetCacheMax64.restype = ctypes.c_int64
    seen: set[tuple[str, int]] = set()

    class Watched(RasterioSource):
        def read(self, *args, **kwargs):
            seen.add((threading.current_thread().name, gdal.GDALGetCacheMax64()))
            return super().read(*args, **kwargs)

    path, _ = scene
    capped = OutputOptions().gdal_cache_mb * 2**20
    # Whatever the process had before (GDAL's 5 % of RAM, or here a caller's 64 MB), the run reads capped.
    with rasterio.Env(GDAL_CACHEMAX=64 * 2**20), Watched(str(path)) as source:
        assert gdal.GDALGetCacheMax64() == 64 * 2**20
        run(tmp_path, source, bundle)
    assert seen == {("MainThread", capped), ("flair-reader", capped)}
