"""Sharded-run benchmark: the same area as one predict() run, then as a plan run on Dask LocalClusters of
1 and 2 worker processes (each with cores / N ONNX Runtime threads), the merged map checked against the
single run pixel for pixel.

    python -m bench.shards [--quick] [--side 5000] [--shard 2560] [--workdir DIR]

Scene: bench/engine.py's 5-band ortho at 0.2 m and twelve monthly Sentinel-2 GeoTIFFs, the cheap
U-T&T-shaped known-answer bundle (512 px tiles, 40 px Sentinel-2 windows): the network costs next to
nothing, so the figures show the engine's reading, Sentinel-2 and writing work and what sharding adds to
it (margin tiles, margin Sentinel-2 regions, Dask, merge), not a model's speed. Sentinel-2 regions are
as tall as the shards (--shard), in the single run too. Sharding's cost per
shard = (the shards' own seconds on one worker - the single run's seconds) / shards. Estimates for larger areas come from measured seconds
per tile and say EXTRAPOLATED.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.engine import GSD, cheap_utt_bundle, write_ortho, write_sentinel2

#: Tiles of a département (~6,000 km²) and of metropolitan France (~550,000 km²) at 0.2 m, 512 px tiles
#: with 64 px overlap (448 px stride: 89.6 m).
DEPARTEMENT_KM2, FRANCE_KM2 = 6_000, 550_000
TILE_KM2 = (448 * GSD / 1000) ** 2
#: Seconds per tile once running of the engine with the U-T&T of the published size on 2 CPU cores,
#: fp32 and int8 bundles, measured by `make bench` on 2026-12-03 (bench/RESULTS.md, engine section).
UTT_CPU_S_PER_TILE = {"fp32": 0.343, "int8": 0.208}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller area: a smoke run")
    parser.add_argument("--side", type=int, default=5000, help="side of the square area in px (5000: 1 km²)")
    parser.add_argument("--shard", type=int, default=2560, help="shard size in px (rounded to the tiling)")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    side = 2500 if args.quick else args.side
    with tempfile.TemporaryDirectory(prefix="flair_bench_shards_") as temp:
        workdir = args.workdir or Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(_run(workdir, side, args.shard if not args.quick else 1280))
    return 0


def _run(workdir: Path, side: int, shard: int) -> str:
    import rasterio

    from flair_qgis.core.predict import PredictionRequest, predict
    from flair_qgis.core.shards import make_plan
    from flair_qgis.distributed import run_plan

    ortho = write_ortho(workdir / f"ortho_{side}.tif", side)
    sentinel2 = write_sentinel2(workdir / f"s2_{side}", side * GSD)
    bundle = cheap_utt_bundle(workdir)
    single = workdir / "single" / "map.tif"
    single.parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    request = PredictionRequest(
        aerial=ortho, bundle=bundle, output=single, sentinel2=sentinel2, overwrite=True
    )
    result = predict(request, region_height=shard)
    single_s = time.perf_counter() - started
    with rasterio.open(single) as src:
        expected = src.read(1)
    cores = os.cpu_count() or 1
    rows = []
    for workers in (1, 2):
        folder = workdir / f"local{workers}"
        folder.mkdir(exist_ok=True)
        plan = make_plan(
            folder / "plan.json",
            str(ortho),
            bundle,
            sentinel2=sentinel2,
            shard_width=shard,
            shard_height=shard,
            region_height=shard,
            overwrite=True,
        )
        for stale in (folder / "shards").glob("*.done.json"):
            stale.unlink()
        started = time.perf_counter()
        run = run_plan(plan.path, f"local:{workers}", stream=io.StringIO(), quiet=True)
        seconds = time.perf_counter() - started
        assert run.merged is not None
        with rasterio.open(run.merged.vrt) as src:
            differ = int((src.read(1) != expected).sum())
        records = [json.loads(p.read_text()) for p in (folder / "shards").glob("*.done.json")]
        shard_seconds = sum(r["seconds"] for r in records)
        rows.append((workers, max(1, cores // workers), len(plan.shards), seconds, differ, shard_seconds))
    km2 = side * side * GSD * GSD / 1e6
    lines = [
        f"Area {km2:.2f} km² ({side} x {side} px at {GSD} m), {result.tiles} tiles of 512 px, cheap U-T&T-shaped "
        f"bundle with 12 Sentinel-2 dates; {cores} CPU cores on this machine. Measured in this run.",
        "",
        "| run | workers | ONNX Runtime threads per worker | shards | seconds | km²/min | pixels differing from the single run |",
        "|---|---|---|---|---|---|---|",
        f"| single predict() | 1 process | default (all cores) | - | {single_s:.1f} | {km2 / single_s * 60:.2f} | - |",
    ]
    for workers, threads, shards, seconds, differ, _ in rows:
        lines.append(
            f"| run-plan local:{workers} | {workers} | {threads} | {shards} | {seconds:.1f} | "
            f"{km2 / seconds * 60:.2f} | {differ} |"
        )
    one, two = rows[0][3], rows[1][3]
    shards, computing = rows[0][2], rows[0][5]
    lines += [
        "",
        f"- 2 workers vs 1 (measured): **{one / two:.2f}x** faster, on {cores} cores in all.",
        f"- Sharding's own cost per shard (the shards' seconds in their completion records, one worker, vs "
        f"the single run: margin tiles, margin Sentinel-2 regions, per-shard set-up): "
        f"**{(computing - single_s) / shards:.2f} s**.",
        f"- Dask cluster start-up, scheduling and merge (local:1 wall time minus its shards' seconds): "
        f"**{one - computing:.1f} s** per run.",
        f"- Seconds per tile, single run (measured): {single_s / result.tiles:.3f}.",
    ]
    tiles_dept, tiles_france = DEPARTEMENT_KM2 / TILE_KM2, FRANCE_KM2 / TILE_KM2
    fp32, int8 = UTT_CPU_S_PER_TILE["fp32"], UTT_CPU_S_PER_TILE["int8"]
    lines += [
        f"- EXTRAPOLATED: a département (~{DEPARTEMENT_KM2:,} km², ~{tiles_dept:,.0f} tiles) with the real U-T&T at "
        f"{fp32} s per tile (fp32; {int8} s int8; the engine on 2 CPU cores, bench/RESULTS.md of 2026-12-03) takes "
        f"~{tiles_dept * fp32 / 3600:,.0f} core-pair hours (~{tiles_dept * int8 / 3600:,.0f} int8); on N such workers "
        f"that divided by N, plus ~8 % margin tiles. France (~{FRANCE_KM2:,} km², ~{tiles_france:,.0f} tiles): "
        f"~{tiles_france * fp32 / 3600:,.0f}/N hours (~{tiles_france * int8 / 3600:,.0f}/N int8). "
        "GPU figures need a per-tile cost measured on the GPU (`python -m bench.engine --device gpu`): "
        "hours = tiles x s per tile / N GPUs.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    np.seterr(all="ignore")
    sys.exit(main())
