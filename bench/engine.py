"""Engine benchmark: throughput and peak memory of `predict()` on 5-band 0.2 m imagery, against a plain
torch patch-by-patch loop like the FLAIR #2 reference's predict step, measured in the same run.

    python -m bench.engine [--quick] [--areas 1,4,16] [--heavy-tiles 12] [--overlap 64] [--workdir DIR]
                           [--device cpu|gpu]

On a machine with an NVIDIA GPU, `onnxruntime-gpu` and a CUDA build of torch, `--device gpu` runs the
engine on ONNX Runtime's best GPU provider and the torch loop on CUDA, so the ratio compares the two on
the GPU.

Cases, each in its own child process (its peak RSS is its own, read with getrusage):
- memory: the engine over the WHOLE of each area with a cheap known-answer bundle (a 1x1 convolution at
  512 px tiles): the same reading, blending, stitching and writing as any model, so the peak shows how
  memory grows with the area (target: 16 km2 within 1.3x of 1 km2); then the same with a U-T&T-shaped
  known-answer bundle and a year of Sentinel-2 (12 per-date GeoTIFFs) over each area, so the peak
  includes the Sentinel-2 series.
- throughput: the U-T&T of the training package (U-Net ResNet34 + U-TAE, random weights, T = 12 monthly
  dates) on the same `--heavy-tiles` tiles of the 1 km2 scene with their Sentinel-2 windows: exported to
  ONNX and run by the engine, and run in torch by the plain loop (read the window, / 255, Sentinel-2
  window prepared the same way, forward one patch, softmax, argmax). Their ratio is the speed-up (target
  1.5x on CPU). Minutes for whole areas are EXTRAPOLATED from the measured seconds per tile, and say so.
Generated data (ortho GeoTIFFs, tiled and compressed, written window by window; Sentinel-2 per-date
GeoTIFFs) lives in a temporary folder unless --workdir is given.
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
from typing import Any

import numpy as np

from flair_qgis.core.tiling import CHUNK_WIDTH

HERE = Path(__file__).resolve().parent
SENTINEL2_CASE = "engine + Sentinel-2, whole area"
REPO = HERE.parent
GSD = 0.2
TILE = 512
ORIGIN = (650000.0, 6870000.0)  # Lambert-93, round metres
CRS = "EPSG:2154"
MONTHS = tuple(
    f"2021-{m:02d}-{d:02d}"
    for m, d in zip(range(1, 13), (9, 13, 10, 14, 19, 8, 13, 17, 6, 21, 10, 15), strict=True)
)


# --- data ------------------------------------------------------------------------------------------


def write_ortho(path: Path, side: int) -> Path:
    """A side x side px 5-band uint8 ortho at 0.2 m: parcels of 40 m with their own colour and height,
    plus texture; tiled 512 px, DEFLATE, written one strip of 512 rows at a time."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    if path.exists():
        return path
    transform = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
    rng = np.random.default_rng(0)
    palette = rng.integers(20, 236, (997, 5), dtype=np.int16)
    profile = dict(driver="GTiff", width=side, height=side, count=5, dtype="uint8", crs=CRS, transform=transform,
                   tiled=True, blockxsize=512, blockysize=512, compress="deflate", predictor=2, interleave="pixel")  # fmt: skip
    partial = path.with_suffix(".partial.tif")
    with rasterio.open(partial, "w", **profile) as dst:
        cols = np.arange(side)
        for row0 in range(0, side, 512):
            rows = np.arange(row0, min(row0 + 512, side))
            parcel = (rows[:, None] // 200) * 7919 + (cols[None, :] // 200) * 104729
            colour = palette[parcel % 997]  # rows x cols x 5
            texture = ((rows[:, None] * 31 + cols[None, :] * 17) % 23 - 11).astype(np.int16)
            strip = np.clip(colour + texture[..., None], 0, 255).astype(np.uint8)
            dst.write(np.moveaxis(strip, 2, 0), window=Window(0, row0, side, len(rows)))
    partial.rename(path)
    return path


def write_sentinel2(folder: Path, side_m: float) -> Path:
    """Twelve monthly per-date GeoTIFFs at 10 m over the scene plus 1 km, with smooth reflectances and
    a cloudy corner on a few dates."""
    sys.path.insert(0, str(REPO))
    from tests.data.sentinel2.generate import write_geotiff_date

    if folder.exists():
        return folder
    folder.mkdir(parents=True)
    margin = 1000.0
    bounds = (
        ORIGIN[0] - margin,
        ORIGIN[1] - side_m - margin,
        ORIGIN[0] + side_m + margin,
        ORIGIN[1] + margin,
    )
    width = round((bounds[2] - bounds[0]) / 10)
    height = round((bounds[3] - bounds[1]) / 10)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for t, day in enumerate(MONTHS):
        data = np.empty((10, height, width), np.float32)
        for band in range(10):
            data[band] = 800 + 300 * band + 200 * np.sin(xx / 37 + band + t) * np.cos(yy / 23 - t)
        masks = np.zeros((2, height, width), np.uint8)
        if t % 4 == 1:
            masks[1, : height // 3, : width // 3] = 95
        write_geotiff_date(folder / f"S2_{day}.tif", CRS, bounds, data, masks)
    return folder


def utt_bundle(workdir: Path) -> tuple[Path, Path]:
    """The training package's U-T&T (random weights, seed 0) exported to ONNX with the bundle metadata,
    and its state dict for the torch loop."""
    onnx_path, weights_path = workdir / "utt.onnx", workdir / "utt.pt"
    if onnx_path.exists() and weights_path.exists():
        return onnx_path, weights_path
    import onnx
    import torch

    from flair_qgis.core.bundle_spec import (
        METADATA_KEY,
        BundleSpec,
        OutputSpec,
        flair2_aerial_input,
        flair2_sentinel2_input,
    )
    from flair_qgis.core.nomenclature import FLAIR_13
    from flair_training.models import UTT

    torch.manual_seed(0)
    model = UTT().eval()
    torch.save(model.state_dict(), weights_path)
    batch, dates = torch.export.Dim("batch"), torch.export.Dim("dates")
    example = (torch.rand(2, 5, TILE, TILE), torch.rand(2, 12, 10, 40, 40) * 3000, torch.zeros(2, 12))
    raw = workdir / "utt.raw.onnx"
    torch.onnx.export(
        logits_only(model), example, raw, input_names=["aerial", "sentinel2", "sentinel2_dates"],
        output_names=["logits"], dynamo=True, optimize=True,
        dynamic_shapes={"aerial": {0: batch}, "sentinel2": {0: batch, 1: dates}, "sentinel2_dates": {0: batch, 1: dates}},
    )  # fmt: skip
    spec = BundleSpec(
        model_name="U-T&T benchmark (random weights)", model_version="0", architecture="utt",
        aerial=flair2_aerial_input(TILE), sentinel2=flair2_sentinel2_input(40), aerial_metadata=None,
        output=OutputSpec("logits", "logits"), nomenclature=FLAIR_13, provenance={"source": "bench/engine.py"},
    )  # fmt: skip
    graph = onnx.load(raw)
    onnx.helper.set_model_props(graph, {METADATA_KEY: spec.to_json()})
    onnx.save(graph, onnx_path)
    raw.unlink()
    return onnx_path, weights_path


def logits_only(model: Any) -> Any:
    """The U-T&T's main output only (the auxiliary head is for training); torch is imported here so
    that the parent process never loads it."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, aerial, sentinel2, sentinel2_dates):
            return self.model(aerial, sentinel2, sentinel2_dates)[0]

    return Logits(model).eval()


def cheap_bundle(workdir: Path) -> Path:
    path = workdir / "cheap.onnx"
    if not path.exists():
        sys.path.insert(0, str(REPO))
        from tests.bundles import make_aerial_bundle

        make_aerial_bundle(path, tile_size=TILE)
    return path


def cheap_utt_bundle(workdir: Path) -> Path:
    """A known-answer bundle shaped like U-T&T (aerial tile + 40 px Sentinel-2 window + dates) whose
    network costs next to nothing: the memory cases then measure the Sentinel-2 side as well."""
    path = workdir / "cheap_utt.onnx"
    if not path.exists():
        sys.path.insert(0, str(REPO))
        from tests.bundles import make_utt_bundle

        make_utt_bundle(path, tile_size=TILE, sentinel2_window=40)
    return path


# --- child cases -----------------------------------------------------------------------------------


def child(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this (child) process and return its figures."""
    started = time.perf_counter()
    if case["kind"] == "export":
        utt_bundle(Path(case["workdir"]))
        return {}
    figures = _engine_case(case) if case["kind"] == "engine" else _torch_case(case)
    figures["seconds"] = time.perf_counter() - started
    # Seconds per tile once running: from the end of the first tile to the end of the last.
    if figures["tiles"] > 1:
        figures["steady_seconds_per_tile"] = (figures.pop("last") - figures.pop("first")) / (
            figures["tiles"] - 1
        )
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (reset by exec, unlike getrusage's maxrss, which
    Linux carries over from the parent across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _area(case: dict[str, Any]):
    from flair_qgis.core.area import AreaOfInterest

    return AreaOfInterest.from_bounds(case["area"], CRS) if case.get("area") else None


def _engine_case(case: dict[str, Any]) -> dict[str, Any]:
    from flair_qgis.core.predict import PredictionRequest, predict

    request = PredictionRequest(
        aerial=case["aerial"], bundle=case["bundle"], output=case["output"], sentinel2=case.get("sentinel2"),
        area=_area(case), device=case.get("device", "cpu"), overlap=case["overlap"], threads=case.get("threads"), overwrite=True,
    )  # fmt: skip
    times: list[float] = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Tile "):
            times.append(time.perf_counter())

    result = predict(request, progress=progress)
    grid = result.grid
    figures = {
        "tiles": result.tiles,
        "provider": result.provider,
        "km2": grid.width * grid.height * GSD**2 / 1e6,
        "first": times[0],
        "last": times[-1],
        "waited": result.waited_for_data,
    }
    if case.get("verify"):
        figures["mismatches"] = verify_known_answer(Path(case["aerial"]), result.class_raster)
    return figures


def verify_known_answer(ortho: Path, classes: Path, windows: int = 6, size: int = 300) -> int:
    """Pixels that differ from the cheap bundle's known answer (class = 1 + the index of the largest
    band) on random windows of the map, corners included: 0 when the whole-area run is right."""
    import rasterio
    from rasterio.windows import Window

    rng = np.random.default_rng(1)
    wrong = 0
    with rasterio.open(ortho) as src, rasterio.open(classes) as out:
        corners = [(0, 0), (out.width - size, out.height - size)]
        spots = corners + [
            (int(rng.integers(0, out.width - size)), int(rng.integers(0, out.height - size)))
            for _ in range(windows)
        ]
        for col, row in spots:
            window = Window(col, row, size, size)
            expected = np.argmax(src.read(window=window), axis=0) + 1
            wrong += int((out.read(1, window=window) != expected).sum())
    return wrong


def _torch_case(case: dict[str, Any]) -> dict[str, Any]:
    """The plain loop: for each tile of the same grid, read, scale, prepare its Sentinel-2 window, run the
    torch model on one patch, softmax and argmax (no blending, as the reference writes patches)."""
    import rasterio
    import torch
    from rasterio.windows import Window

    from flair_qgis.core.bundle_spec import flair2_sentinel2_input
    from flair_qgis.core.sentinel2 import load_series, prepare_window
    from flair_qgis.core.tiling import TileGrid
    from flair_training.models import UTT

    if case.get("threads"):
        torch.set_num_threads(case["threads"])
    device = torch.device("cuda" if case.get("device") == "gpu" else "cpu")
    model = logits_only(UTT())
    model.model.load_state_dict(torch.load(case["weights"]))
    model.eval().to(device)
    spec = flair2_sentinel2_input(40)
    xmin, ymin, xmax, ymax = case["area"]
    series = load_series(case["sentinel2"], CRS, (xmin, ymin, xmax, ymax), spec)
    with rasterio.open(case["aerial"]) as src:
        col0 = round((xmin - src.transform.c) / GSD)
        row0 = round((src.transform.f - ymax) / GSD)
        width, height = round((xmax - xmin) / GSD), round((ymax - ymin) / GSD)
        grid = TileGrid(width, height, TILE, case["overlap"])
        classes = np.zeros((height, width), np.uint8)
        times: list[float] = []
        with torch.inference_mode():
            for tile in grid:
                patch = (
                    src.read(window=Window(col0 + tile.x, row0 + tile.y, TILE, TILE)).astype(np.float32) / 255
                )
                cx = src.transform.c + (col0 + tile.x + TILE / 2) * GSD
                cy = src.transform.f - (row0 + tile.y + TILE / 2) * GSD
                data, masks = series.window(cx, cy, spec.window_size)
                prepared = prepare_window(data, masks, series.dates, spec)
                logits = model(
                    torch.from_numpy(patch)[None].to(device),
                    torch.from_numpy(np.ascontiguousarray(prepared.values, np.float32))[None].to(device),
                    torch.from_numpy(np.asarray(prepared.positions, np.float32))[None].to(device),
                )
                probabilities = torch.softmax(logits, dim=1)[0].cpu()
                h, w = tile.window.height, tile.window.width
                classes[tile.y : tile.y + h, tile.x : tile.x + w] = (
                    probabilities.argmax(0).numpy()[:h, :w] + 1
                )
                times.append(time.perf_counter())
    return {
        "tiles": len(grid),
        "provider": f"torch {device.type.upper()}",
        "km2": width * height * GSD**2 / 1e6,
        "first": times[0],
        "last": times[-1],
    }


# --- parent ----------------------------------------------------------------------------------------


def run_child(case: dict[str, Any]) -> dict[str, Any]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "training"), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.engine", "--child", json.dumps(case)],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"case {case['name']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def tiles_for(side_px: int, overlap: int) -> int:
    stride = TILE - overlap
    per_axis = 1 if side_px <= TILE else math.ceil((side_px - TILE) / stride) + 1
    return per_axis * per_axis


def heavy_area(tiles: int, overlap: int) -> tuple[tuple[float, float, float, float], int, int]:
    """A sub-area near the 1 km2 scene's top-left holding `tiles` tiles (as close to square as can be)."""
    cols = max(1, math.ceil(math.sqrt(tiles)))
    rows = max(1, math.ceil(tiles / cols))
    stride = TILE - overlap
    width, height = (cols - 1) * stride + TILE, (rows - 1) * stride + TILE
    x0, y0 = ORIGIN[0] + 16 * GSD, ORIGIN[1] - 16 * GSD
    return (x0, y0 - height * GSD, x0 + width * GSD, y0), rows * cols, width


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small areas and few tiles: a smoke run")
    parser.add_argument("--areas", help="areas in km2 for the memory cases (default 1,4,16; quick 0.04,0.16)")
    parser.add_argument(
        "--heavy-tiles", type=int, help="tiles for the U-T&T throughput cases (default 12; quick 2)"
    )
    parser.add_argument("--overlap", type=int, default=64, help="overlap in px between tiles (64)")
    parser.add_argument(
        "--threads", type=int, help="CPU threads for both ONNX Runtime and torch (default: all)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the generated data here (reused on the next run)")
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="where the engine and the torch loop run (cpu)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    areas = [float(a) for a in (args.areas or ("0.04,0.16" if args.quick else "1,4,16")).split(",")]
    heavy_tiles = args.heavy_tiles or (2 if args.quick else 12)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return _run(args.workdir, areas, heavy_tiles, args)
    with tempfile.TemporaryDirectory(prefix="flair_bench_") as folder:
        return _run(Path(folder), areas, heavy_tiles, args)


def _log(message: str) -> None:
    print(f"[bench.engine] {message}", file=sys.stderr, flush=True)


def _run(workdir: Path, areas: list[float], heavy_tiles: int, args: argparse.Namespace) -> int:
    overlap = args.overlap
    rows: list[dict[str, Any]] = []
    orthos = {}
    for km2 in areas:
        side = round(math.sqrt(km2 * 1e6) / GSD)
        _log(f"writing a {km2:g} km2 ortho ({side} x {side} px)")
        orthos[km2] = write_ortho(workdir / f"ortho_{km2:g}km2.tif", side)
    cheap = cheap_bundle(workdir)
    for km2 in areas:
        _log(f"memory case: engine over the whole {km2:g} km2")
        figures = run_child(dict(name=f"memory {km2:g}", kind="engine", aerial=str(orthos[km2]), bundle=str(cheap),
                                 output=str(workdir / f"map_{km2:g}.tif"), overlap=overlap, threads=args.threads,
                                 verify=True))  # fmt: skip
        rows.append(
            {"case": "engine, whole area", "model": "1x1 conv (I/O + blending)", "area": km2, **figures}
        )
    cheap_utt = cheap_utt_bundle(workdir)
    for km2 in areas:
        side = round(math.sqrt(km2 * 1e6) / GSD)
        sentinel2 = write_sentinel2(workdir / f"s2_{km2:g}km2", side * GSD)
        _log(f"memory case: engine with Sentinel-2 over the whole {km2:g} km2")
        figures = run_child(dict(name=f"memory s2 {km2:g}", kind="engine", aerial=str(orthos[km2]),
                                 bundle=str(cheap_utt), sentinel2=str(sentinel2),
                                 output=str(workdir / f"map_s2_{km2:g}.tif"), overlap=overlap,
                                 threads=args.threads))  # fmt: skip
        rows.append(
            {"case": SENTINEL2_CASE, "model": "U-T&T-shaped 1x1 conv + series", "area": km2, **figures}
        )
    base = areas[0]
    side = round(math.sqrt(base * 1e6) / GSD)
    bounds, n_tiles, _ = heavy_area(heavy_tiles, overlap)
    if bounds[2] > ORIGIN[0] + side * GSD or bounds[1] < ORIGIN[1] - side * GSD:
        raise SystemExit(f"--heavy-tiles {heavy_tiles} does not fit in the {base:g} km2 scene")
    _log("exporting the training package's U-T&T to ONNX (about a minute)")
    run_child(dict(name="export", kind="export", workdir=str(workdir)))
    utt, weights = workdir / "utt.onnx", workdir / "utt.pt"
    sentinel2 = write_sentinel2(workdir / f"s2_{base:g}km2", side * GSD)
    _log(f"throughput: engine (ONNX Runtime) on {n_tiles} U-T&T tiles")
    engine = run_child(dict(name="utt engine", kind="engine", aerial=str(orthos[base]), bundle=str(utt),
                            output=str(workdir / "map_utt.tif"), sentinel2=str(sentinel2), area=bounds,
                            overlap=overlap, threads=args.threads, device=args.device))  # fmt: skip
    _log(f"throughput: plain torch loop on the same {n_tiles} tiles")
    loop = run_child(dict(name="utt torch", kind="torch", aerial=str(orthos[base]), weights=str(weights),
                          sentinel2=str(sentinel2), area=bounds, overlap=overlap, threads=args.threads,
                          device=args.device))  # fmt: skip
    rows.append(
        {"case": "engine, sub-area", "model": "U-T&T (ONNX Runtime)", "area": engine["km2"], **engine}
    )
    rows.append({"case": "torch loop, sub-area", "model": "U-T&T (torch)", "area": loop["km2"], **loop})
    text = report(rows, areas, engine, loop, overlap)
    load = os.getloadavg()
    print(
        f"{text}\n- Machine load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
        f"on {os.cpu_count()} cores (other work on the machine slows the cases down)."
    )
    return 0


def report(
    rows: list[dict[str, Any]], areas: list[float], engine: dict[str, Any], loop: dict[str, Any], overlap: int
) -> str:
    """The Markdown table and ratios."""
    lines = [
        f"Tiles of {TILE} px at {GSD} m with {overlap} px overlap; U-T&T cases on {engine['provider']} and "
        f"{loop['provider']}; figures measured in this run unless "
        "marked EXTRAPOLATED. Peak RSS is each case's own child process (VmHWM).",
        "",
        "| case | model | area km² | tiles | seconds (all) | s/tile after the first | tiles/s | km²/min "
        "| peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rate = row["tiles"] / row["seconds"]
        per_min = row["area"] / (row["seconds"] / 60)
        steady = row.get("steady_seconds_per_tile")
        steady_text = "-" if steady is None else f"{steady:.3f}"
        lines.append(
            f"| {row['case']} | {row['model']} | {row['area']:.4g} | {row['tiles']} | {row['seconds']:.1f} | "
            f"{steady_text} | {rate:.2f} | {per_min:.3f} | {row['peak_rss_mb']:.0f} |"
        )
    lines.append("")
    memory = [r for r in rows if r["case"] == "engine, whole area"]
    for row in memory:
        lines.append(
            f"- Whole {row['area']:g} km² map checked against the known answer on 8 windows of 300 x 300 px "
            f"(corners included): {row['mismatches']} pixels differ."
        )
    with_sentinel2 = [r for r in rows if r["case"] == SENTINEL2_CASE]
    if len(with_sentinel2) >= 2:
        ratio = with_sentinel2[-1]["peak_rss_mb"] / with_sentinel2[0]["peak_rss_mb"]
        lines.append(
            f"- Peak memory with a year of Sentinel-2 (12 dates), {with_sentinel2[-1]['area']:g} km² / "
            f"{with_sentinel2[0]['area']:g} km² (whole areas, measured): **{ratio:.2f}x**."
        )
    if len(memory) >= 2:
        ratio = memory[-1]["peak_rss_mb"] / memory[0]["peak_rss_mb"]
        verdict = "meets" if ratio <= 1.3 else "misses"
        lines.append(
            f"- Peak memory, {memory[-1]['area']:g} km² / {memory[0]['area']:g} km² (whole areas, measured): "
            f"**{ratio:.2f}x** ({verdict} the 1.3x target)."
        )
        if math.sqrt(memory[0]["area"] * 1e6) / GSD < CHUNK_WIDTH:
            lines.append(
                f"  (the smaller area is narrower than one column chunk of {CHUNK_WIDTH} px, so its strip "
                "buffers are narrower too: compare areas of 1 km² and more)"
            )
    speedup = loop["seconds"] / engine["seconds"]
    verdict = "meets" if speedup >= 1.5 else "misses"
    lines.append(
        f"- U-T&T, engine vs plain torch loop on the same {engine['tiles']} tiles (measured, whole runs with "
        f"start-up): **{speedup:.2f}x** ({verdict} the 1.5x target)."
    )
    per_tile = engine["seconds"] / engine["tiles"]
    loop_per_tile = loop["seconds"] / loop["tiles"]
    if "steady_seconds_per_tile" in engine and "steady_seconds_per_tile" in loop:
        per_tile, loop_per_tile = engine["steady_seconds_per_tile"], loop["steady_seconds_per_tile"]
        lines.append(
            f"- Once running (after the first tile, measured): {per_tile:.2f} s per tile for the engine vs "
            f"{loop_per_tile:.2f} for the torch loop: **{loop_per_tile / per_tile:.2f}x**."
        )
    lines.append(
        f"- Reading ahead: the engine's inference waited {engine['waited']:.1f} s of {engine['seconds']:.1f} s for "
        "the reader thread (the first batch included)."
    )
    for km2 in areas:
        tiles = tiles_for(round(math.sqrt(km2 * 1e6) / GSD), overlap)
        minutes = tiles * per_tile / 60
        lines.append(
            f"- EXTRAPOLATED from {engine['tiles']} measured tiles ({per_tile:.2f} s/tile): U-T&T over {km2:g} km² "
            f"= {tiles} tiles ≈ {minutes:.1f} min with the engine ({km2 / minutes:.3f} km²/min, "
            f"{1 / per_tile:.2f} tiles/s), ≈ {tiles * loop_per_tile / 60:.1f} min with the torch loop."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
