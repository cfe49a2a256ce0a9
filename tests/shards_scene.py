"""The scene of the sharded-run tests: a U-T&T bundle whose Sentinel-2 term differs from tile to tile,
an aerial GeoTIFF, two Sentinel-2 dates, a polygon area, small chunks and regions, and the plan and single
run over it that the sharded runs are compared with. Real files, real ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from flair_qgis.core.area import AreaOfInterest
from flair_qgis.core.predict import PredictionRequest, predict
from flair_qgis.core.shards import Plan, make_plan
from tests.bundles import make_utt_bundle
from tests.data.sentinel2.generate import write_geotiff_date
from tests.rasters import ORIGIN, write_raster

TILE, OVERLAP, WINDOW = 64, 16, 8
#: 640 x 512 px, the area's grid 610 x 490 px: 13 x 11 tiles of 64 px every 48 px; column chunks of 5
#: tiles (3 chunks), Sentinel-2 regions of 6 tile rows (2 bands); shards of 1 chunk by 6 tile rows:
#: 3 x 2 shards of unequal sizes, whose edges cut through the tiles' overlaps.
WIDTH, HEIGHT = 640, 512
SIZES = {"chunk_width": 240, "region_height": 288}
SHARD = {"shard_width": 240, "shard_height": 288}
COVERED = (649800.0, 6859600.0, 650400.0, 6860200.0)


def write_sentinel2(folder: Path) -> Path:
    """Two clear dates at 10 m whose B2 grows to the east and the south, so the class-13 bias the
    bundle adds from a tile's window differs from tile to tile and blending matters."""
    folder.mkdir()
    bounds = COVERED
    cols, rows = round((bounds[2] - bounds[0]) / 10), round((bounds[3] - bounds[1]) / 10)
    x = bounds[0] + 10 * np.arange(cols) + 5
    y = bounds[3] - 10 * np.arange(rows) - 5
    b2 = ((x[None, :] - 649800) + 2 * (6860200 - y[:, None])).astype(np.float32)
    for day in ("2021-03-10", "2021-07-05"):
        data = np.full((10, rows, cols), 500, np.float32)
        data[0] = b2
        write_geotiff_date(folder / f"S2_{day}.tif", "EPSG:2154", bounds, data, np.zeros((2, rows, cols)))
    return folder


def write_scene(root: Path) -> dict[str, Path]:
    """The aerial image, the bundle and the Sentinel-2 folder, in `root`."""
    data = np.random.default_rng(5).integers(0, 256, (5, HEIGHT, WIDTH), dtype=np.uint8)
    aerial = write_raster(root / "ortho.tif", data)
    weights = np.zeros(13, np.float32)
    weights[12] = 0.012
    make_utt_bundle(root / "utt.onnx", tile_size=TILE, sentinel2_window=WINDOW, sentinel2_weights=weights)
    return {"aerial": aerial, "bundle": root / "utt.onnx", "sentinel2": write_sentinel2(root / "s2")}


#: A polygon area (not a box), so the area mask is cut across shard edges too.
AREA = AreaOfInterest.from_wkt(
    f"POLYGON(({ORIGIN[0] + 3} {ORIGIN[1] - 2}, {ORIGIN[0] + 125} {ORIGIN[1] - 9}, "
    f"{ORIGIN[0] + 110} {ORIGIN[1] - 100}, {ORIGIN[0] + 8} {ORIGIN[1] - 90}, {ORIGIN[0] + 3} {ORIGIN[1] - 2}))",
    "EPSG:2154",
)


def write_single_run(scene: dict[str, Path], out: Path) -> Path:
    """One predict() over the whole area (with confidence) to `out`; returns it."""
    request = PredictionRequest(
        aerial=scene["aerial"],
        bundle=scene["bundle"],
        output=out,
        sentinel2=scene["sentinel2"],
        area=AREA,
        overlap=OVERLAP,
        outputs={"confidence"},
    )
    predict(request, **SIZES)
    return out


def plan_for(scene: dict[str, Path], folder: Path, **options) -> Plan:
    """The plan of the scene (3 x 2 shards) at folder/plan.json; `options` go to make_plan."""
    folder.mkdir(parents=True, exist_ok=True)
    return make_plan(
        folder / "plan.json",
        str(scene["aerial"]),
        scene["bundle"],
        sentinel2=scene["sentinel2"],
        area=AREA,
        overlap=OVERLAP,
        confidence=True,
        **SIZES,
        **SHARD,
        **options,
    )


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()
