"""U-T&T runs that read Sentinel-2 region by region: the same map as one whole-area series, regions of
bounded size each loaded once, and a region outside the coverage refused with nothing written. Real
GeoTIFFs, a real ONNX bundle through ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from flair_qgis.core.errors import Cancelled, InputError
from flair_qgis.core.predict import PredictionRequest, predict
from flair_qgis.core.sentinel2 import regions as regions_module
from flair_qgis.core.sentinel2 import tile_regions
from flair_qgis.core.tiling import TileGrid
from tests.bundles import make_utt_bundle
from tests.data.sentinel2.generate import write_geotiff_date
from tests.rasters import ORIGIN, write_raster

TILE = 128  # px of 0.2 m: 25.6 m
WINDOW = 8  # px of 10 m: a margin of 40 m around each region
#: 1024 x 768 px: 4 column chunks of 2 tiles (256 px) x 3 bands of 2 tile rows (256 px) = 12 regions.
WIDTH, HEIGHT, CHUNK, REGION = 1024, 768, 256, 256
COVERED = (649800.0, 6859600.0, 650400.0, 6860200.0)


def write_sentinel2(folder: Path, bounds: tuple[float, float, float, float] = COVERED) -> None:
    """Three clear dates at 10 m; B2 = (x - 649800) + 2 (6860200 - y) at the pixel centre grows to the
    east and the south, so each tile's window (and the class 13 bias the bundle adds from its maximum)
    depends on where the tile is."""
    folder.mkdir()
    cols = round((bounds[2] - bounds[0]) / 10)
    rows = round((bounds[3] - bounds[1]) / 10)
    x = bounds[0] + 10 * np.arange(cols) + 5
    y = bounds[3] - 10 * np.arange(rows) - 5
    b2 = ((x[None, :] - 649800) + 2 * (6860200 - y[:, None])).astype(np.float32)
    for day in ("2021-03-10", "2021-05-20", "2021-07-05"):
        data = np.full((10, rows, cols), 500, np.float32)
        data[0] = b2
        write_geotiff_date(folder / f"S2_{day}.tif", "EPSG:2154", bounds, data, np.zeros((2, rows, cols)))


@pytest.fixture
def utt_scene(tmp_path: Path) -> tuple[Path, Path]:
    data = np.random.default_rng(11).integers(0, 256, (5, HEIGHT, WIDTH), dtype=np.uint8)
    aerial = write_raster(tmp_path / "ortho.tif", data)
    s2_weights = np.zeros(13, np.float32)
    s2_weights[12] = 0.01
    make_utt_bundle(
        tmp_path / "utt.onnx", tile_size=TILE, sentinel2_window=WINDOW, sentinel2_weights=s2_weights
    )
    return aerial, tmp_path / "utt.onnx"


def run(
    aerial: Path, bundle: Path, sentinel2: Path, output: Path, steps: list | None = None, **sizes
) -> tuple:
    """predict() with overlap 0 (so the chunking cannot change a sum); progress goes to `steps`."""
    output.parent.mkdir(exist_ok=True)
    steps = [] if steps is None else steps
    request = PredictionRequest(aerial=aerial, bundle=bundle, output=output, sentinel2=sentinel2, overlap=0)
    result = predict(request, progress=lambda f, m: steps.append((f, m)), **sizes)
    return result, steps


def test_regions_cover_every_tile_in_processing_order() -> None:
    tiling = TileGrid(WIDTH, HEIGHT, TILE, 0, CHUNK)
    transform = Affine(0.2, 0, ORIGIN[0], 0, -0.2, ORIGIN[1])
    regions = tile_regions(tiling, transform, REGION)
    assert len(regions) == 12
    assert [(r.chunk, r.first_row, r.last_row) for r in regions[:4]] == [
        (0, 0, 1),
        (0, 2, 3),
        (0, 4, 5),
        (1, 0, 1),
    ]
    assert regions[0].bounds == pytest.approx((650000.0, 6860000.0 - 51.2, 650051.2, 6860000.0))
    assert regions[-1].bounds == pytest.approx((650153.6, 6860000.0 - 153.6, 650204.8, 6860000.0 - 102.4))


def test_regional_series_gives_the_map_of_one_whole_area_series(
    tmp_path: Path, utt_scene, monkeypatch
) -> None:
    aerial, bundle = utt_scene
    write_sentinel2(tmp_path / "s2")
    loaded: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
    real_load = regions_module.load_series

    def recording_load(*args, **kwargs):
        series = real_load(*args, **kwargs)
        loaded.append((series.data.shape, series.bounds))
        return series

    monkeypatch.setattr(regions_module, "load_series", recording_load)
    whole, _ = run(aerial, bundle, tmp_path / "s2", tmp_path / "whole" / "map.tif")
    assert len(loaded) == 1
    whole_shape = loaded.pop()[0]
    result, steps = run(
        aerial,
        bundle,
        tmp_path / "s2",
        tmp_path / "regions" / "map.tif",
        chunk_width=CHUNK,
        region_height=REGION,
    )
    assert result.tiles == whole.tiles == 48
    with rasterio.open(whole.class_raster) as src:
        expected = src.read(1)
    with rasterio.open(result.class_raster) as src:
        classes = src.read(1)
    np.testing.assert_array_equal(classes, expected)
    # The Sentinel-2 term changes the map from tile to tile, along rows and columns: a region handing a
    # tile another region's window would show.
    share_13 = (expected == 13).reshape(6, TILE, 8, TILE).mean(axis=(1, 3))
    assert ((share_13 > 0) & (share_13 < 1)).sum() >= 6
    assert (np.diff(share_13, axis=0) != 0).any() and (np.diff(share_13, axis=1) != 0).any()
    # Each of the 12 regions was read once, none the size of the whole area, each within its chunk and
    # band of rows plus a tile and the half-window margin on each side (+ 1 px of snapping).
    assert len(loaded) == 12
    assert [m for _, m in steps if "region" in m][:2] == [
        "Reading Sentinel-2 for region 1 of 12",
        "Reading Sentinel-2 for region 2 of 12",
    ]
    width_limit = (CHUNK + TILE) * 0.2 / 10 + WINDOW + 1
    height_limit = (REGION + TILE) * 0.2 / 10 + WINDOW + 1
    for shape, _ in loaded:
        assert shape[:2] == (3, 10)
        assert shape[3] <= width_limit and shape[2] <= height_limit
        assert shape[2] * shape[3] < whole_shape[2] * whole_shape[3] / 2
    # Together the regions still cover the whole area's series grid.
    xmin = min(b[0] for _, b in loaded)
    ymax = max(b[3] for _, b in loaded)
    assert (xmin, ymax) == (649960.0, 6860040.0)


def test_region_outside_the_sentinel2_coverage_is_refused_with_nothing_written(
    tmp_path: Path, utt_scene
) -> None:
    aerial, bundle = utt_scene
    write_sentinel2(tmp_path / "s2", (649800.0, 6859600.0, 650100.0, 6860200.0))  # the west chunk only
    output = tmp_path / "out" / "map.tif"
    steps: list[tuple[float, str]] = []
    with pytest.raises(InputError, match="of the area has no Sentinel-2 data"):
        run(aerial, bundle, tmp_path / "s2", output, steps, chunk_width=CHUNK, region_height=REGION)
    assert not output.exists()
    # The first chunk's tiles ran before the second chunk's region was found uncovered.
    assert any(m.startswith("Tile 6 of") for _, m in steps)
    assert list(output.parent.iterdir()) == []


def test_a_product_failing_in_every_region_is_warned_about_once(tmp_path: Path, utt_scene) -> None:
    aerial, bundle = utt_scene
    write_sentinel2(tmp_path / "s2")
    broken = write_geotiff_date(
        tmp_path / "s2" / "S2_2021-08-14.tif", "EPSG:2154", COVERED, np.full((10, 60, 60), 500, np.float32)
    )
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])
    result, _ = run(
        aerial, bundle, tmp_path / "s2", tmp_path / "out" / "map.tif", chunk_width=CHUNK, region_height=REGION
    )
    skipped = [w for w in result.warnings if broken.name in w]
    assert len(skipped) == 1 and "unreadable" in skipped[0]


def test_cancel_while_regions_are_read_leaves_nothing(tmp_path: Path, utt_scene) -> None:
    aerial, bundle = utt_scene
    write_sentinel2(tmp_path / "s2")
    output = tmp_path / "out" / "map.tif"
    output.parent.mkdir()
    steps: list[tuple[float, str]] = []
    request = PredictionRequest(
        aerial=aerial, bundle=bundle, output=output, sentinel2=tmp_path / "s2", overlap=0
    )
    with pytest.raises(Cancelled):
        predict(
            request,
            progress=lambda f, m: steps.append((f, m)),
            is_cancelled=lambda: any("region 3 of 12" in m for _, m in steps),
            chunk_width=CHUNK,
            region_height=REGION,
        )
    assert list(output.parent.iterdir()) == []
    assert not any("region 4 of 12" in m for _, m in steps)
