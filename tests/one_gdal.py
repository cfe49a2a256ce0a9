"""What the one-GDAL tests share (tests/test_one_gdal.py, tests/plugin/test_one_map.py): a Sentinel-2
product in UTM to warp onto the Lambert-93 aerial grid, a U-T&T bundle that both inputs steer, and a
`qgis_process` run whose GDAL libraries are read from its memory mappings while it runs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
from rasterio.warp import transform_bounds

from flair_qgis.core.gdal_runtime import mapped_gdal_libraries
from tests.bundles import make_utt_bundle
from tests.data.sentinel2.generate import write_safe_product
from tests.qgis_profile import QGIS_PROCESS, qgis_environment

#: Lambert-93 point the products are centred on (the plugin tests' scene, tests/plugin/rasters.py).
CENTRE = (651000.0, 6862000.0)
UTM = "EPSG:32631"
VINEYARD = 9


def utm_product(folder: Path) -> Path:
    """An L2A product in UTM 31N over the scene and a margin, its reflectance varying from pixel to pixel
    (a smooth field plus a fine pattern), a cloud probability on some pixels."""
    xmin, ymin, xmax, ymax = CENTRE[0] - 300, CENTRE[1] - 300, CENTRE[0] + 300, CENTRE[1] + 300
    bounds = transform_bounds("EPSG:2154", UTM, xmin, ymin, xmax, ymax)
    bounds = tuple(round(value / 60) * 60 for value in bounds)

    def reflectance(band, x, y):
        period = int(band[1:].rstrip("A")) % 5 + 1
        return 1500 + 400 * np.sin(x / (37.0 * period)) * np.cos(y / 53.0) + (x * 7 + y * 13) % 97 * 3

    def clouds(x, y):
        return np.where((x + y) % 300 > 260, 70, 0)

    write_safe_product(folder, "20210601", "31UDQ", UTM, bounds, reflectance, cloud_fn=clouds)
    write_safe_product(folder, "20210815", "31UDQ", UTM, bounds, lambda b, x, y: reflectance(b, y, x))
    return folder


def sentinel2_bundle(path: Path) -> Path:
    """A U-T&T bundle whose vineyard logit follows the window's brightest B2, close to the aerial classes'
    logits: the map and its confidence change with the warped Sentinel-2 pixels."""
    weights = np.zeros(13, np.float32)
    weights[VINEYARD - 1] = 0.006
    make_utt_bundle(path, tile_size=64, sentinel2_window=8, sentinel2_weights=weights)
    return path


def qgis_process_watching_gdal(
    profiles: Path, arguments: list[str], log: Path, first_on_path: Path | None = None
) -> tuple[int, set[str]]:
    """Run `qgis_process` (with `first_on_path` ahead of everything on QGIS's Python path) and read its
    memory mappings while it runs: its exit code and every GDAL library file it had mapped."""
    (profiles / "runtime").mkdir(mode=0o700, exist_ok=True)
    environment = qgis_environment(profiles)
    if first_on_path is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(first_on_path), environment["PYTHONPATH"]])
    seen: set[str] = set()
    with log.open("w") as output:
        process = subprocess.Popen([QGIS_PROCESS, *arguments], env=environment, stdout=output, stderr=output)
        deadline = time.monotonic() + 240
        while process.poll() is None and time.monotonic() < deadline:
            seen.update(mapped_gdal_libraries(Path(f"/proc/{process.pid}/maps")) or ())
            time.sleep(0.02)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    return code, seen
