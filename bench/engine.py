"""Engine benchmark: peak memory of `predict()` against area, and U-T&T throughput of the engine (fp32 and
int8 bundles) against the strongest plain torch loop and, aerial only, against Deepness's approach, all
measured in the same run on the same tiles (bench/README.md describes every case).

    python -m bench.engine [--quick] [--areas 1,4,16] [--heavy-tiles 12] [--repeats 3] [--overlap 64]
                           [--levers] [--throughput] [--profile] [--workdir DIR] [--device cpu|gpu]

Cases, each in its own child process (its peak RSS is its own):
- memory: the engine over the WHOLE of each area with a cheap known-answer bundle (a 1x1 convolution at
  512 px tiles): the same reading, blending, stitching and writing as any model, so the peak shows how
  memory grows with the area (target: 16 km2 within 1.3x of 1 km2); then the same with a U-T&T-shaped
  known-answer bundle and a year of Sentinel-2 (12 per-date GeoTIFFs) over each area.
- throughput: the `--heavy-tiles` tiles of the 1 km2 scene, every case `--repeats` times interleaved
  (bench/baselines.py holds the torch loop and Deepness's approach); `--levers` adds ONNX Runtime
  settings the engine does not use; the engine's time split closes the section (`--profile` prints only
  the splits of one U-T&T run and one aerial-only run).
Generated data (ortho GeoTIFFs, tiled and compressed, written window by window; Sentinel-2 per-date
GeoTIFFs; the exported bundles) lives in a temporary folder unless --workdir is given (reused then).
"""

from __future__ import annotations

import argparse
import importlib
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

from bench.baselines import deepness_loop, export_bundles, torch_loop
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


#: The libraries each timed case runs on, imported by its child process before the clock starts, so
#: that a case's seconds are its run and not Python's imports (torch and the training package's model
#: code take seconds to import, ONNX Runtime and the engine a fraction of one; the import time is
#: reported on its own).
CASE_IMPORTS = {
    "engine": ("onnxruntime", "rasterio", "flair_qgis.core.predict"),
    "torch": ("torch", "rasterio", "flair_qgis.core.sentinel2", "flair_training.models"),
    "deepness": ("onnxruntime", "rasterio", "flair_qgis.core.predict"),
}


def child(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this (child) process and return its figures."""
    imported = time.perf_counter()
    for module in CASE_IMPORTS.get(case["kind"], ()):
        importlib.import_module(module)
    started = time.perf_counter()
    if case["kind"] == "export":
        return export_bundles(
            Path(case["workdir"]), Path(case["aerial"]), Path(case["sentinel2"]), tuple(case["area"])
        )
    if case["kind"] == "warm":
        from flair_qgis.core.runtime import create_runner

        for bundle in case["bundles"]:
            create_runner(bundle, case.get("device", "cpu"))
        return {}
    if case.get("trial_only"):  # the torch loop's precision trial: its choice, nothing timed
        return torch_loop(case)
    run = {"engine": _engine_case, "torch": torch_loop, "deepness": deepness_loop}[case["kind"]]
    figures = run(case)
    figures["seconds"] = time.perf_counter() - started
    figures["import_seconds"] = started - imported
    # Seconds per tile once running: from the end of the first tile (the first batch of a batched loop:
    # `first_tiles` of them) to the end of the last.
    done_first = figures.pop("first_tiles", 1)
    first, last = figures.pop("first"), figures.pop("last")
    if figures["tiles"] > done_first:
        figures["steady_seconds_per_tile"] = (last - first) / (figures["tiles"] - done_first)
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

    if case.get("session_config"):
        _with_session_config(case["session_config"])
    if case.get("lanes"):  # the lever: batches run side by side on the CPU (runtime.CPU_LANES)
        import flair_qgis.core.runtime as runtime

        runtime.CPU_LANES = case["lanes"]

    request = PredictionRequest(
        aerial=case["aerial"], bundle=case["bundle"], output=case["output"], sentinel2=case.get("sentinel2"),
        area=_area(case), device=case.get("device", "cpu"), overlap=case["overlap"], threads=case.get("threads"), overwrite=True,
        batch_size=case.get("batch"),
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
        "stages": result.stages,
    }
    if case.get("verify"):
        figures["mismatches"] = verify_known_answer(Path(case["aerial"]), result.class_raster)
    return figures


def _with_session_config(entries: dict[str, str]) -> None:
    """Every ONNX Runtime session of this (child) process gets these session config entries: how the
    benchmark weighs session options the engine does not set."""
    import onnxruntime as ort

    base = ort.SessionOptions

    class Options(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            for key, value in entries.items():
                self.add_session_config_entry(key, value)

    ort.SessionOptions = Options


def stage_split(figures: dict[str, Any]) -> str:
    """The time split of one engine run (PredictionResult.stages) as Markdown: the calling thread's stages
    add up to the run's wall time; the softmax runs in the inference lanes after each batch (the calling
    thread's inference includes what it waits of it), the reader thread's stages run meanwhile (their
    shares are of the same wall time)."""
    from flair_qgis.core.predict import LANE_STAGES, MAIN_STAGES, READER_STAGES

    stages, wall = figures["stages"], figures["seconds"]
    accounted = sum(stages[name] for name in MAIN_STAGES)
    lines = [
        f"Where the time of one engine run goes ({figures['tiles']} tiles, {wall:.1f} s wall time in its child "
        "process, measured by the engine's stage timers):",
        "",
        "| thread | stage | seconds | share of wall time |",
        "|---|---|---|---|",
    ]
    rows = [("inference", name) for name in MAIN_STAGES]
    rows.append(("inference", "other (checks, grid, bookkeeping)"))
    rows += [("inference lanes (within inference)", name) for name in LANE_STAGES]
    rows += [("reader (overlapped)", name) for name in READER_STAGES]
    for thread, name in rows:
        seconds = stages.get(name, wall - accounted)
        lines.append(f"| {thread} | {name} | {seconds:.2f} | {100 * seconds / wall:.0f} % |")
    return "\n".join(lines)


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


# --- parent ----------------------------------------------------------------------------------------


def run_child(case: dict[str, Any]) -> dict[str, Any]:
    """Run `case` in a child process. The plugin's cache folder (the optimised graphs of CPU sessions,
    runtime.optimised_graph_path) is case["cache"], or an empty temporary folder (a first run on the
    machine) when the case has none."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "training"), os.environ.get("PYTHONPATH", "")]),
    )
    with tempfile.TemporaryDirectory(prefix="flair_bench_cache_") as empty:
        env["XDG_CACHE_HOME"] = case.get("cache") or empty
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
    parser.add_argument("--repeats", type=int, help="runs of each throughput case, interleaved (3; quick 1)")
    parser.add_argument(
        "--torch-batch",
        type=int,
        default=1,
        help="tiles per batch of the torch loop (1: with two lanes, batches of 1, 2, 3 and 4 tiles were "
        "timed here and 1 was the fastest)",
    )
    parser.add_argument(
        "--throughput", action="store_true", help="only the throughput cases (no memory cases)"
    )
    parser.add_argument(
        "--levers",
        action="store_true",
        help="also time ONNX Runtime settings the engine does not use (threads not spinning, 1 thread, batch 2)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only a U-T&T and an aerial-only engine run on the --heavy-tiles tiles, and where their time goes",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    areas = [float(a) for a in (args.areas or ("0.04,0.16" if args.quick else "1,4,16")).split(",")]
    heavy_tiles = args.heavy_tiles or (2 if args.quick else 12)
    args.repeats = args.repeats or (1 if args.quick else 3)
    run = _profile if args.profile else _run
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(args.workdir, areas, heavy_tiles, args)
    with tempfile.TemporaryDirectory(prefix="flair_bench_") as folder:
        return run(Path(folder), areas, heavy_tiles, args)


def prepare_throughput(workdir: Path, areas: list[float], heavy_tiles: int, overlap: int) -> dict[str, Any]:
    """The scene, its Sentinel-2 folder, the benchmark's tiles and the bundles (exported once per workdir:
    the U-T&T fp32 and int8, the aerial-only U-Net), with the int8 bundle's agreement record."""
    side = round(math.sqrt(areas[0] * 1e6) / GSD)
    ortho = write_ortho(workdir / f"ortho_{areas[0]:g}km2.tif", side)
    sentinel2 = write_sentinel2(workdir / f"s2_{areas[0]:g}km2", side * GSD)
    bounds, n_tiles, _ = heavy_area(heavy_tiles, overlap)
    if bounds[2] > ORIGIN[0] + side * GSD or bounds[1] < ORIGIN[1] - side * GSD:
        raise SystemExit(f"--heavy-tiles {heavy_tiles} does not fit in the {areas[0]:g} km2 scene")
    record = workdir / f"int8_{bounds[0]:.1f}_{bounds[1]:.1f}.json"
    if not record.exists() or not (workdir / "unet.onnx").exists():
        _log("exporting the U-T&T (fp32 and int8, calibrated on the scene) and the U-Net (a few minutes)")
        figures = run_child(dict(name="export", kind="export", workdir=str(workdir), aerial=str(ortho),
                                 sentinel2=str(sentinel2), area=bounds))  # fmt: skip
        figures.pop("seconds", None), figures.pop("peak_rss_mb", None)
        record.write_text(json.dumps(figures))
    # The engine's CPU sessions load the graph ONNX Runtime optimised on an earlier run (runtime.py), as
    # a user's second run does: made here once, in the benchmark's own cache folder.
    cache = workdir / "cache"
    bundles = [str(workdir / name) for name in ("utt.onnx", "utt_int8.onnx", "unet.onnx")]
    run_child(dict(name="optimised graphs", kind="warm", bundles=bundles, cache=str(cache)))
    common = dict(aerial=str(ortho), area=bounds, overlap=overlap, cache=str(cache))
    return dict(ortho=ortho, sentinel2=sentinel2, bounds=bounds, tiles=n_tiles, common=common, km2=areas[0],
                int8=json.loads(record.read_text()))  # fmt: skip


def _profile(workdir: Path, areas: list[float], heavy_tiles: int, args: argparse.Namespace) -> int:
    """One U-T&T engine run and one aerial-only (U-Net) engine run on the throughput tiles, and their
    time splits."""
    scene = prepare_throughput(workdir, areas, heavy_tiles, args.overlap)
    _log(f"profile: engine (ONNX Runtime) on {scene['tiles']} U-T&T tiles")
    engine = run_child(dict(name="utt engine", kind="engine", bundle=str(workdir / "utt.onnx"),
                            output=str(workdir / "map_utt.tif"), sentinel2=str(scene["sentinel2"]),
                            threads=args.threads, device=args.device, **scene["common"]))  # fmt: skip
    print(f"U-T&T fp32. {stage_split(engine)}")
    _log(f"profile: engine (ONNX Runtime) on {scene['tiles']} aerial-only U-Net tiles")
    unet = run_child(dict(name="unet engine", kind="engine", bundle=str(workdir / "unet.onnx"),
                          output=str(workdir / "map_unet.tif"), threads=args.threads, device=args.device,
                          **scene["common"]))  # fmt: skip
    print(f"\nAerial-only U-Net ResNet34 fp32. {stage_split(unet)}")
    print(_load_line())
    return 0


def _load_line() -> str:
    load = os.getloadavg()
    return (
        f"- Machine load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
        f"on {os.cpu_count()} cores (other work on the machine slows the cases down)."
    )


def _log(message: str) -> None:
    print(f"[bench.engine] {message}", file=sys.stderr, flush=True)


def _run(workdir: Path, areas: list[float], heavy_tiles: int, args: argparse.Namespace) -> int:
    if args.throughput:
        print(f"{run_throughput(workdir, areas, heavy_tiles, args)}\n{_load_line()}")
        return 0
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
    throughput = run_throughput(workdir, areas, heavy_tiles, args)
    print(f"{memory_report(rows, areas, overlap)}\n\n{throughput}\n{_load_line()}")
    return 0


def throughput_cases(workdir: Path, scene: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The cases timed on the same tiles: (label, model, child case)."""
    s2 = dict(sentinel2=str(scene["sentinel2"]), threads=args.threads, device=args.device, **scene["common"])
    aerial_only = dict(threads=args.threads, device=args.device, **scene["common"])
    cases = [
        ("engine", "U-T&T fp32", dict(kind="engine", bundle=str(workdir / "utt.onnx"), **s2)),
        ("engine", "U-T&T int8", dict(kind="engine", bundle=str(workdir / "utt_int8.onnx"), **s2)),
        ("torch loop (strongest plain torch)", "U-T&T (torch)",
         dict(kind="torch", weights=str(workdir / "utt.pt"), batch=args.torch_batch, **s2)),
        ("engine, aerial only", "U-Net ResNet34 fp32", dict(kind="engine", bundle=str(workdir / "unet.onnx"), **aerial_only)),
        ("Deepness approach, aerial only", "U-Net ResNet34 fp32",
         dict(kind="deepness", bundle=str(workdir / "unet.onnx"), **aerial_only)),
        ("engine, aerial only, first run (graph not cached)", "U-Net ResNet34 fp32",
         dict(kind="engine", bundle=str(workdir / "unet.onnx"), **dict(aerial_only, cache=None))),
    ]  # fmt: skip
    if args.levers:
        utt = dict(kind="engine", bundle=str(workdir / "utt.onnx"), **s2)
        cases += [
            ("engine, ONNX Runtime threads not spinning", "U-T&T fp32",
             dict(utt, session_config={"session.intra_op.allow_spinning": "0"})),
            ("engine, 1 ONNX Runtime thread (a core left to the reader)", "U-T&T fp32", dict(utt, threads=1)),
            ("engine, batches of 2 tiles", "U-T&T fp32", dict(utt, batch=2)),
            ("engine, one inference lane (one batch at a time)", "U-T&T fp32", dict(utt, lanes=1)),
        ]  # fmt: skip
    for i, (label, _, case) in enumerate(cases):
        case.update(name=label, output=str(workdir / f"map_case{i}.tif"))
    return [dict(label=label, model=model, case=case) for label, model, case in cases]


def run_throughput(workdir: Path, areas: list[float], heavy_tiles: int, args: argparse.Namespace) -> str:
    """Every throughput case `--repeats` times, interleaved (case 1, 2, ... then again), so that a change in
    the machine's load reaches all of them; the median run of each is reported."""
    scene = prepare_throughput(workdir, areas, heavy_tiles, args.overlap)
    cases = throughput_cases(workdir, scene, args)
    # The torch loop's precision (bf16 autocast or fp32) is chosen once, by a trial on its first batch
    # before the timed runs, as a user settles it once: its timed runs do not pay the trial.
    for item in cases:
        if item["case"]["kind"] == "torch":
            _log("throughput: the torch loop's precision trial (bf16 autocast against fp32)")
            trial = run_child(dict(item["case"], name="torch precision trial", trial_only=True))
            item["case"]["autocast"] = trial["autocast"]
    runs: list[list[dict[str, Any]]] = [[] for _ in cases]
    for repeat in range(args.repeats):
        for i, item in enumerate(cases):
            _log(f"throughput, run {repeat + 1} of {args.repeats}: {item['label']}, {item['model']}")
            runs[i].append(run_child(item["case"]))
    for item, measured in zip(cases, runs, strict=True):
        measured.sort(key=lambda figures: figures["seconds"])
        item["figures"] = measured[len(measured) // 2]
        item["all_seconds"] = [figures["seconds"] for figures in measured]
    return throughput_report(cases, scene, args)


def map_agreement(first: str, second: str) -> float:
    """Share of the pixels of two class rasters of the same grid that have the same class."""
    import rasterio

    with rasterio.open(first) as a, rasterio.open(second) as b:
        one, two = a.read(1), b.read(1)
    if one.shape != two.shape:
        raise RuntimeError(f"{first} and {second} have different grids: {one.shape}, {two.shape}")
    return float((one == two).mean())


def throughput_report(cases: list[dict[str, Any]], scene: dict[str, Any], args: argparse.Namespace) -> str:
    by_label = {(c["label"], c["model"]): c for c in cases}
    engine, int8 = by_label[("engine", "U-T&T fp32")], by_label[("engine", "U-T&T int8")]
    loop = by_label[("torch loop (strongest plain torch)", "U-T&T (torch)")]
    unet = by_label[("engine, aerial only", "U-Net ResNet34 fp32")]
    deepness = by_label[("Deepness approach, aerial only", "U-Net ResNet34 fp32")]
    tiles = engine["figures"]["tiles"]
    lines = [
        f"Throughput: the same {tiles} tiles of {TILE} px (overlap {args.overlap} px) of the {scene['km2']:g} km² scene for every case, "
        f"each case {args.repeats} times interleaved, the median run shown (seconds of every run in the last column); "
        "whole runs of each case's child process once its libraries are imported (start-up, reading, inference, "
        "blending, writing the class GeoTIFF; the imports are timed apart, bench.engine.CASE_IMPORTS); "
        "s/tile once running: from the end of the first tile to the end of the last. Random weights of the published sizes (U-T&T: U-Net ResNet34 + U-TAE, "
        f"T = 12 monthly dates). Torch loop: {loop['figures']['settings']}.",
        "",
        "| case | model | tiles | seconds | s/tile once running | tiles/s | km²/min | peak RSS MB | imports (s) "
        "| every run (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        f = c["figures"]
        lines.append(
            f"| {c['label']} | {c['model']} | {f['tiles']} | {f['seconds']:.1f} | "
            f"{f.get('steady_seconds_per_tile', f['seconds'] / f['tiles']):.3f} | {f['tiles'] / f['seconds']:.2f} | "
            f"{f['km2'] / (f['seconds'] / 60):.3f} | {f['peak_rss_mb']:.0f} | {f['import_seconds']:.1f} | "
            f"{', '.join(f'{s:.1f}' for s in c['all_seconds'])} |"
        )
    lines.append("")
    ratio = loop["figures"]["seconds"] / engine["figures"]["seconds"]
    lines.append(f"- U-T&T, engine fp32 vs the strongest plain torch loop (measured): **{ratio:.2f}x** "
                 f"({'meets' if ratio >= 2 else 'misses'} the 2x target).")  # fmt: skip
    steady = [c["figures"].get("steady_seconds_per_tile") for c in (loop, engine)]
    if all(steady):
        lines.append(f"- Once running (seconds per tile after the first), engine fp32 vs the torch loop: "
                     f"**{steady[0] / steady[1]:.2f}x**.")  # fmt: skip
    ratio = loop["figures"]["seconds"] / int8["figures"]["seconds"]
    lines.append(f"- U-T&T, engine int8 vs the strongest plain torch loop (measured): **{ratio:.2f}x** "
                 f"({'meets' if ratio >= 3 else 'misses'} the 3x aim); int8 vs fp32 engine: "
                 f"**{engine['figures']['seconds'] / int8['figures']['seconds']:.2f}x**.")  # fmt: skip
    record = scene["int8"]
    lines.append(
        f"- int8 bundle: class agreement with the fp32 bundle at export {100 * record['class_agreement']:.2f} % on "
        f"{record['held_out_tiles']} held-out tiles ({record['calibration']}); on the timed tiles' maps "
        f"{100 * map_agreement(engine['case']['output'], int8['case']['output']):.2f} % of the pixels have the same class."
    )
    lines.append(
        f"- Same output: the torch loop's map and the engine's fp32 map agree on "
        f"{100 * map_agreement(engine['case']['output'], loop['case']['output']):.2f} % of the pixels."
    )
    lines.append(
        f"- Imports, timed apart and in no seconds above: torch and the training package's model code "
        f"{loop['figures']['import_seconds']:.1f} s, ONNX Runtime and the engine "
        f"{engine['figures']['import_seconds']:.1f} s (the plugin pays them once per QGIS session)."
    )
    ratio = deepness["figures"]["seconds"] / unet["figures"]["seconds"]
    lines.append(
        f"- Aerial only, engine vs Deepness's approach (measured): **{ratio:.2f}x** "
        f"({'ahead' if ratio > 1 else 'not ahead'}); their maps agree on "
        f"{100 * map_agreement(unet['case']['output'], deepness['case']['output']):.2f} % of the pixels "
        "(Deepness does not blend overlaps: it keeps each tile's centre)."
    )
    cold = by_label[("engine, aerial only, first run (graph not cached)", "U-Net ResNet34 fp32")]
    ratio = deepness["figures"]["seconds"] / cold["figures"]["seconds"]
    lines.append(
        "- The engine's cases load the graph ONNX Runtime optimised for this machine on an earlier run "
        "(runtime.optimised_graph_path), as a second run does; on a first run, which optimises it: aerial "
        f"only, engine vs Deepness's approach **{ratio:.2f}x**; start-up "
        f"{cold['figures']['stages']['start-up']:.2f} s against {unet['figures']['stages']['start-up']:.2f} s."
    )
    for c in cases[6:]:
        ratio = engine["figures"]["seconds"] / c["figures"]["seconds"]
        lines.append(f"- Lever: {c['label']}: **{ratio:.2f}x** the engine's default (above 1: faster).")
    per_tile = int8["figures"].get("steady_seconds_per_tile", int8["figures"]["seconds"] / tiles)
    lines.append(
        f"- EXTRAPOLATED from the int8 engine run ({per_tile:.2f} s per tile once running): 1 km² = "
        f"{tiles_for(5000, args.overlap)} tiles ≈ {tiles_for(5000, args.overlap) * per_tile / 60:.1f} min on this machine."
    )
    lines += ["", stage_split(engine["figures"])]
    return "\n".join(lines)


def memory_report(rows: list[dict[str, Any]], areas: list[float], overlap: int) -> str:
    """The memory cases' Markdown table and ratios."""
    lines = [
        f"Memory: the engine over whole areas, tiles of {TILE} px at {GSD} m with {overlap} px overlap, on the "
        "CPU; figures measured in this run. Peak RSS is each case's own child process (VmHWM).",
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
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
