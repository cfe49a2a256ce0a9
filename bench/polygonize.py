"""Polygonize benchmark: peak memory and time of `flair:polygonize`'s work (sieve to a 1 m² minimum mapping
unit, polygonize, mean confidence) on synthetic FLAIR results of 1 and 16 km² at 0.2 m.

    python -m bench.polygonize [--quick] [--areas 1,16] [--workdir DIR]

Each area runs in its own child process (its peak RSS, read with getrusage, is its own); the result
rasters are generated beforehand, strip by strip, in another child. The figure is the ratio of peak
memory at 16 km² to 1 km² (bounded memory: close to 1 while the raster grows 16x). No simplification
(that step holds every polygon in memory, by design). --quick uses 0.04 and 0.16 km².
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GSD = 0.2
ORIGIN = (650000.0, 6870000.0)


def write_result(path: Path, side: int) -> Path:
    """A side x side px FLAIR result: 40 m parcels of one class each, 2 x 2 px specks of another class
    scattered in them (under the MMU), confidence lower on the specks; written 512 rows at a time."""
    from affine import Affine
    from rasterio.windows import Window

    from flair_qgis.core.geometry import OutputGrid
    from flair_qgis.core.nomenclature import FLAIR_13
    from flair_qgis.core.outputs import OutputPaths, OutputWriter

    paths = OutputPaths.for_classes(path, confidence=True)
    grid = OutputGrid("EPSG:2154", Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1]), side, side)
    cols = np.arange(side)
    with OutputWriter(paths, grid, FLAIR_13) as writer:
        for row0 in range(0, side, 512):
            rows = np.arange(row0, min(row0 + 512, side))
            parcel = (rows[:, None] // 200) * 7919 + (cols[None, :] // 200) * 104729
            classes = (parcel % 12 + 1).astype(np.uint8)
            speck = ((rows[:, None] // 2) * 31 + (cols[None, :] // 2) * 17) % 97 == 0
            classes[speck] = classes[speck] % 12 + 1
            confidence = np.where(speck, 0.35, 0.9).astype(np.float32)
            writer.write(Window(0, row0, side, len(rows)), classes, confidence)
        writer.commit()
    return path


def measure(path: Path) -> dict:
    """Run the polygonize step on the result at `path`; its time, peak RSS and polygon count."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless QGIS
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from flair_qgis.review.polygonize import polygonize_result

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    output = path.with_name(path.stem + ".polygons.gpkg")
    output.unlink(missing_ok=True)
    start = time.perf_counter()
    summary = polygonize_result(
        path, output, confidence=path.with_name(path.stem + ".confidence.tif"), mmu_m2=1.0
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak, "start_rss_mb": before, "polygons": summary.polygons}


def child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.polygonize", *args], cwd=REPO, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--areas", default=None, help="areas in km², comma-separated (default 1,16)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        write_result(args.generate, args.side)
        print(json.dumps({"ok": True}))
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    areas = [float(a) for a in (args.areas or ("0.04,0.16" if args.quick else "1,16")).split(",")]
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        rows = []
        for area in areas:
            side = round((area * 1e6) ** 0.5 / GSD)
            path = Path(folder) / f"map_{side}.tif"
            child("--generate", str(path), "--side", str(side))
            figures = child("--measure", str(path))
            rows.append((area, side, figures))
            for file in Path(folder).iterdir():
                file.unlink()
    print("| area (km²) | pixels | polygons | time (s) | peak RSS (MB) | RSS before the run (MB) |")
    print("|---|---|---|---|---|---|")
    for area, side, f in rows:
        print(f"| {area:g} | {side} x {side} | {f['polygons']} | {f['seconds']:.1f} | {f['peak_rss_mb']:.0f} "
              f"| {f['start_rss_mb']:.0f} |")  # fmt: skip
    first, last = rows[0][2], rows[-1][2]
    print(
        f"\nPeak memory ratio {rows[-1][0]:g} km² / {rows[0][0]:g} km²: "
        f"{last['peak_rss_mb'] / first['peak_rss_mb']:.2f} for {rows[-1][0] / rows[0][0]:g}x the pixels; "
        f"time ratio {last['seconds'] / first['seconds']:.1f}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
