"""Time and peak memory to prepare Sentinel-2 series for 1 km² and 10 km² areas from 30 SAFE products.

    python -m bench.sentinel2 [--quick]

The products (JPEG2000, 12 x 12 km of tile 31TCJ at 10 m, 30 dates of 2021) are generated once by
tests/data/sentinel2/generate.py and cached in a temporary folder. Each measurement runs in its own
child process so its peak memory (max RSS) is its own. Two readers are compared on the same products:
- windowed: flair_qgis's load_series (GDAL warps only the blocks the area needs);
- baseline: decode every band's whole tile into memory, then warp that copy (a naive reader).
Both then cut and prepare the 40 x 40 window of every 102.4 m aerial tile of the area. Memory is reported
as the peak RSS and as its rise over the RSS after imports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

UTM = "EPSG:32631"
L93 = "EPSG:2154"
TILE = "31TCJ"
ORIGIN = (360000.0, 4824000.0)  # south-west corner of the generated products in UTM 31N
AERIAL_TILE = 102.4  # metres: 512 px at 0.2 m


def product_folder(n_dates: int, extent_km: float) -> Path:
    """Generate (once) `n_dates` SAFE products of extent_km x extent_km and return their folder."""
    from tests.data.sentinel2.generate import BANDS, write_safe_product

    folder = Path(tempfile.gettempdir()) / f"flair_qgis_bench_s2_{n_dates}x{extent_km:g}km"
    if (folder / ".complete").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    bounds = (ORIGIN[0], ORIGIN[1], ORIGIN[0] + extent_km * 1000, ORIGIN[1] + extent_km * 1000)
    rng = np.random.default_rng(0)
    start = np.datetime64("2021-01-05")
    for k in range(n_dates):
        day = str(start + np.timedelta64(int(k * 360 / n_dates), "D")).replace("-", "")
        level = 800 + 40 * k

        def values(band, x, y, level=level):
            return level + 150 * BANDS.index(band) + 300 * np.sin(x / 700.0) * np.cos(y / 900.0)

        cloud_level = int(rng.choice([0, 0, 0, 30, 90]))

        def cloud(x, y, cloud_level=cloud_level):
            return np.where(np.sin(x / 1500.0) > 0, cloud_level, 0)

        write_safe_product(folder, day, TILE, UTM, bounds, values, cloud_fn=cloud)
        print(f"[bench] generated product {k + 1}/{n_dates}", file=sys.stderr, flush=True)
    (folder / ".complete").write_text("ok")
    return folder


def area_bounds(extent_km: float, area_km2: float) -> tuple[float, float, float, float]:
    """A square of `area_km2` in Lambert-93 centred on the generated products."""
    from rasterio.warp import transform

    cx, cy = ORIGIN[0] + extent_km * 500, ORIGIN[1] + extent_km * 500
    (x,), (y,) = transform(UTM, L93, [cx], [cy])
    half = math.sqrt(area_km2) * 1000 / 2
    return (x - half, y - half, x + half, y + half)


def load_naive(catalog, crs: str, bounds, spec):
    """The baseline reader: every band decoded whole, then warped from memory onto the same grid."""
    import rasterio
    from rasterio.io import MemoryFile

    from flair_qgis.core.sentinel2.layout import MaskSource, ProductBand
    from flair_qgis.core.sentinel2.warp import (
        Sentinel2Grid,
        grid_for_bounds,
        paste_first_valid,
        read_band,
        read_mask,
    )

    grid: Sentinel2Grid = grid_for_bounds(crs, bounds, spec.gsd, spec.window_size / 2 * spec.gsd)

    def in_memory(path: str, band: int):
        with rasterio.open(path) as src:
            array = src.read(band)  # the whole tile
            profile = {**src.profile, "driver": "GTiff", "count": 1}
        memory = MemoryFile()
        with memory.open(**profile) as dst:
            dst.write(array, 1)
        return memory

    dates, stack, mask_stack = [], [], []
    for acquisition in catalog.acquisitions:
        layout = acquisition.layout
        data = np.empty((10, grid.height, grid.width), np.float32)
        masks = np.zeros((2, grid.height, grid.width), np.uint8)
        for index, source in enumerate(layout.bands):
            with in_memory(source.path, source.band) as memory:
                data[index] = read_band(
                    ProductBand(memory.name, 1, source.nodata, source.offset, source.gain), grid
                )
        for index, mask in enumerate(layout.masks):
            if mask is not None:
                with in_memory(mask.path, mask.band) as memory:
                    masks[index] = read_mask(
                        MaskSource(memory.name, 1, mask.kind, mask.bits, mask.classes), grid
                    )
        mosaic = np.full_like(data, np.nan)
        mosaic_masks = np.zeros_like(masks)
        paste_first_valid(mosaic, mosaic_masks, data, masks)
        dates.append(acquisition.date)
        stack.append(mosaic)
        mask_stack.append(mosaic_masks)
    from flair_qgis.core.sentinel2.load import Sentinel2Series

    return Sentinel2Series(dates, grid, np.stack(stack), np.stack(mask_stack))


def measure(folder: Path, extent_km: float, area_km2: float, reader: str) -> dict[str, float]:
    """One measurement (run in a child process): read the series, then prepare every tile's window."""
    from flair_qgis.core.bundle_spec import flair2_sentinel2_input
    from flair_qgis.core.sentinel2 import discover, load_series, prepare_window

    spec = flair2_sentinel2_input()
    bounds = area_bounds(extent_km, area_km2)
    start_mib = current_rss_mib()
    start = time.perf_counter()
    catalog = discover(folder)
    series = (
        load_series(catalog, L93, bounds, spec)
        if reader == "windowed"
        else load_naive(catalog, L93, bounds, spec)
    )
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    tiles = 0
    x = bounds[0] + AERIAL_TILE / 2
    while x < bounds[2]:
        y = bounds[1] + AERIAL_TILE / 2
        while y < bounds[3]:
            data, masks = series.window(x, y, spec.window_size)
            prepared = prepare_window(data, masks, series.dates, spec)
            assert np.isfinite(prepared.values).all()
            tiles += 1
            y += AERIAL_TILE
        x += AERIAL_TILE
    windows_s = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "read_s": read_s,
        "windows_s": windows_s,
        "tiles": tiles,
        "dates": len(series.dates),
        "grid": f"{series.grid.width} x {series.grid.height}",
        "peak_mib": peak_mib,
        "added_mib": peak_mib - start_mib,
    }


def current_rss_mib() -> float:
    """Resident memory of this process now (MiB), from /proc (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_child(folder: Path, extent_km: float, area_km2: float, reader: str) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "bench.sentinel2",
        "--child",
        str(folder),
        str(extent_km),
        str(area_km2),
        reader,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 products of 5 x 5 km: a smoke run")
    parser.add_argument(
        "--child", nargs=4, metavar=("FOLDER", "EXTENT", "AREA", "READER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        folder, extent, area, reader = args.child
        print(json.dumps(measure(Path(folder), float(extent), float(area), reader)))
        return 0
    n_dates, extent_km = (4, 5.0) if args.quick else (30, 12.0)
    start = time.perf_counter()
    folder = product_folder(n_dates, extent_km)
    print(f"[bench] products ready in {time.perf_counter() - start:.0f} s: {folder}", file=sys.stderr)
    print(
        f"{n_dates} SAFE products (JPEG2000, {extent_km:g} x {extent_km:g} km of tile {TILE} at 10 m), "
        "series prepared on a Lambert-93 grid; every 102.4 m aerial tile's 40 x 40 window then filtered, "
        "averaged per month and normalised.\n"
    )
    print(
        "| area | reader | grid (px) | dates | read (s) | windows (s) | tiles | peak RSS (MiB) | peak over start (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for area_km2 in (1.0, 10.0):
        results = {
            reader: run_child(folder, extent_km, area_km2, reader) for reader in ("windowed", "baseline")
        }
        for reader, r in results.items():
            print(
                f"| {area_km2:g} km² | {reader} | {r['grid']} | {r['dates']} | {r['read_s']:.2f} | "
                f"{r['windows_s']:.2f} | {r['tiles']} | {r['peak_mib']:.0f} | {r['added_mib']:.0f} |"
            )
        w, b = results["windowed"], results["baseline"]
        ratios.append((area_km2, b["read_s"] / w["read_s"], b["added_mib"] / max(w["added_mib"], 1.0)))
    print()
    for area_km2, time_ratio, memory_ratio in ratios:
        print(
            f"- {area_km2:g} km²: reading time baseline / windowed = {time_ratio:.1f}; "
            f"memory added by the run, baseline / windowed = {memory_ratio:.1f}."
        )
    print(
        "\nThe windows column runs the same code for both readers on equal series (the two readers give "
        "identical arrays): differences there are not the reader's. Real products are 110 x 110 km: the baseline's whole-band "
        "decoding grows with the tile, the windowed reading with the area only."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
