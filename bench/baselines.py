"""The loops the engine is measured against in bench.engine, each run in its own child process on the very
tiles the engine runs, with the same overlap and the same kind of output (a class GeoTIFF written with
rasterio), and the bundles they share.

- `torch_loop`: the strongest plain-torch loop we know how to write on this machine: torch.inference_mode,
  tiles in batches run two at a time on the CPU (two threads, half of torch's threads each: what the
  engine does with its sessions, and 1.2x faster for torch too), channels-last weights and inputs, bf16
  autocast when a trial batch shows it faster here (the choice is printed), the Sentinel-2 series loaded
  once for the area (by as many threads as the engine's reader uses) and each tile's window prepared by
  flair_qgis.core.sentinel2 (the training code's own preprocessing), softmax in torch, the overlapping
  tiles blended with the engine's weights into one array, argmax, written with rasterio.
- `deepness_loop`: the Deepness QGIS plugin's way (PUTvision/qgis-plugin-deepness,
  processing/map_processor/map_processor_segmentation.py and models/model_base.py), on an aerial-only
  model since Deepness takes one input: one ONNX Runtime session with ORT_ENABLE_ALL and the default
  threads, the model's metadata read from it; tiles read one after the other in the same thread as the inference (Deepness reads each tile
  through QGIS's data provider; here rasterio reads the same window, which costs less), batch 1 (its
  default), values / 255 then standardised, NHWC -> NCHW, probabilities below the threshold (0.5) set to 0,
  argmax + 1 per tile, and each tile's central part (half the overlap cut on inner sides, no blending)
  copied into a uint8 array of the whole area; its median filter is off by default (size 1), so is here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

GSD, TILE, CRS = 0.2, 512, "EPSG:2154"


# --- bundles ----------------------------------------------------------------------------------------


def export_bundles(workdir: Path, scene: Path, sentinel2: Path, held_out_bounds: tuple) -> dict[str, Any]:
    """The training package's U-T&T and aerial-only U-Net (random weights, seed 0) exported with
    `flair_training.export.export_bundle` (its ONNX Runtime vs torch check included), and the U-T&T's
    int8 bundle calibrated on 16 tiles of the scene away from the benchmark's tiles and checked on 16
    others; returns the int8 bundle's agreement record."""
    import torch

    from flair_qgis.core.bundle_spec import flair2_aerial_input, flair2_sentinel2_input
    from flair_training.export import bundle_spec, export_bundle
    from flair_training.models import UTT, AerialUNet

    torch.manual_seed(0)
    utt = UTT().eval()
    torch.save(utt.state_dict(), workdir / "utt.pt")
    aerial = flair2_aerial_input(TILE)
    spec = bundle_spec(aerial, flair2_sentinel2_input(40), name="U-T&T benchmark (random weights)")
    export_bundle(utt, spec, workdir / "utt.onnx", overwrite=True)
    samples = scene_tiles(scene, sentinel2, spec, held_out_bounds)
    report = export_bundle(utt, spec, workdir / "utt_int8.onnx", overwrite=True, int8=samples)
    torch.manual_seed(0)
    unet = AerialUNet().eval()
    torch.save(unet.state_dict(), workdir / "unet.pt")
    export_bundle(
        unet, bundle_spec(aerial, None, name="U-Net benchmark"), workdir / "unet.onnx", overwrite=True
    )
    return report.quantization.to_dict()


def scene_tiles(scene: Path, sentinel2: Path, spec: Any, avoid: tuple, count: int = 16) -> Any:
    """Calibration and held-out tiles (TileSamples) read from the benchmark's scene at random places
    outside the `avoid` bounds (the benchmark's own tiles), prepared as the engine prepares them."""
    import rasterio
    from rasterio.windows import Window

    from flair_qgis.core.sentinel2 import load_series, prepare_window
    from flair_training.quantize import TileSamples

    rng = np.random.default_rng(7)
    feeds, tries = [], 0
    with rasterio.open(scene) as src:
        left, top = src.transform.c, src.transform.f
        series = load_series(str(sentinel2), CRS, tuple(src.bounds), spec.sentinel2)
        while len(feeds) < 2 * count:
            col, row = (int(v) for v in rng.integers(0, src.width - TILE + 1, 2))
            x0, y1 = left + col * GSD, top - row * GSD
            overlaps = (
                x0 < avoid[2] and x0 + TILE * GSD > avoid[0] and y1 > avoid[1] and y1 - TILE * GSD < avoid[3]
            )
            tries += 1
            if overlaps and tries < 1000:  # a scene too small for tiles apart (--quick) gives up on it
                continue
            raw = src.read(window=Window(col, row, TILE, TILE))
            data, masks = series.window(x0 + TILE * GSD / 2, y1 - TILE * GSD / 2, spec.sentinel2.window_size)
            prepared = prepare_window(data, masks, series.dates, spec.sentinel2)
            feeds.append({
                spec.aerial.name: spec.aerial.scaling.apply(raw)[None],
                spec.sentinel2.name: np.ascontiguousarray(prepared.values, np.float32)[None],
                spec.sentinel2.dates_name: np.asarray(prepared.positions, np.float32)[None],
            })  # fmt: skip
    apart = (
        "none of the timed tiles"
        if tries < 1000
        else "the scene is too small to keep them off the timed tiles"
    )
    source = f"{count} random tiles of the benchmark scene; held out: {count} others ({apart})"
    return TileSamples(feeds[:count], feeds[count:], source)


# --- the plain torch loop ---------------------------------------------------------------------------------


def torch_loop(case: dict[str, Any]) -> dict[str, Any]:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import rasterio
    import torch
    from rasterio.windows import Window

    from flair_qgis.core.bundle_spec import flair2_aerial_input, flair2_sentinel2_input
    from flair_qgis.core.runtime import CPU, lane_plan
    from flair_qgis.core.sentinel2 import load_series, prepare_window
    from flair_qgis.core.sentinel2.regions import READERS
    from flair_qgis.core.tiling import TileGrid, blend_weights
    from flair_training.models import UTT

    device = torch.device("cuda" if case.get("device") == "gpu" else "cpu")
    model = UTT()
    model.load_state_dict(torch.load(case["weights"]))
    model = model.eval().to(device).to(memory_format=torch.channels_last)
    aerial_spec, spec = flair2_aerial_input(TILE), flair2_sentinel2_input(40)
    xmin, ymin, xmax, ymax = case["area"]
    batch_size = case.get("batch", 4)
    # the engine's Sentinel-2 loading with as many reading threads as the engine gives it
    series = load_series(case["sentinel2"], CRS, (xmin, ymin, xmax, ymax), spec, readers=READERS)
    opened = threading.local()  # a rasterio dataset is not shared between threads: one per lane

    def dataset():
        if not hasattr(opened, "src"):
            opened.src = rasterio.open(case["aerial"])
        return opened.src

    with rasterio.open(case["aerial"]) as src:
        transform = src.transform
    col0, row0 = round((xmin - transform.c) / GSD), round((transform.f - ymax) / GSD)
    width, height = round((xmax - xmin) / GSD), round((ymax - ymin) / GSD)
    grid = TileGrid(width, height, TILE, case["overlap"])
    weights = torch.from_numpy(blend_weights(TILE, case["overlap"])).to(device)
    total = torch.zeros((13, height, width), device=device)
    weight_sum = torch.zeros((height, width), device=device)

    def inputs(tiles):
        patches, series_values, positions = [], [], []
        for tile in tiles:
            raw = dataset().read(window=Window(col0 + tile.x, row0 + tile.y, TILE, TILE))
            patches.append(aerial_spec.scaling.apply(raw))
            cx = transform.c + (col0 + tile.x + TILE / 2) * GSD
            cy = transform.f - (row0 + tile.y + TILE / 2) * GSD
            data, masks = series.window(cx, cy, spec.window_size)
            prepared = prepare_window(data, masks, series.dates, spec)
            series_values.append(np.ascontiguousarray(prepared.values, np.float32))
            positions.append(np.asarray(prepared.positions, np.float32))
        aerial = torch.from_numpy(np.stack(patches)).to(device).contiguous(memory_format=torch.channels_last)
        return (
            aerial,
            torch.from_numpy(np.stack(series_values)).to(device),
            torch.from_numpy(np.stack(positions)).to(device),
        )

    tiles = list(grid)
    batches = [tiles[i : i + batch_size] for i in range(0, len(tiles), batch_size)]
    # On the CPU, batches run side by side by the engine's rule (runtime.lane_plan: two lanes with half
    # the threads each, for runs long enough): torch's small operators share threads as poorly as ONNX
    # Runtime's.
    lanes, threads = (
        lane_plan(CPU, case.get("threads"), len(batches))
        if device.type == "cpu"
        else (1, case.get("threads"))
    )
    lanes = case.get("lanes", lanes)
    if lanes > 1 and threads:
        torch.set_num_threads(threads)
    elif case.get("threads"):
        torch.set_num_threads(case["threads"])
    if "autocast" in case:  # chosen once before the timed runs (precision_trial)
        autocast = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[case["autocast"]]
    else:
        autocast = _choose_autocast(model, inputs(batches[0]), device)
    if case.get("trial_only"):
        return {"autocast": {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[autocast]}

    def probabilities(batch):  # in a lane's thread: inference mode and autocast are per thread
        with (
            torch.inference_mode(),
            torch.autocast(device.type, dtype=autocast or torch.bfloat16, enabled=autocast is not None),
        ):
            return torch.softmax(model.segment(*inputs(batch)).float(), dim=1)

    times: list[float] = []
    with ThreadPoolExecutor(lanes) as pool, torch.inference_mode():
        for batch, batch_probabilities in zip(batches, pool.map(probabilities, batches), strict=True):
            for tile, p in zip(batch, batch_probabilities, strict=True):
                h, w = tile.window.height, tile.window.width
                total[:, tile.y : tile.y + h, tile.x : tile.x + w] += p[:, :h, :w] * weights[:h, :w]
                weight_sum[tile.y : tile.y + h, tile.x : tile.x + w] += weights[:h, :w]
            times.append(time.perf_counter())
    classes = (torch.argmax(total / weight_sum, dim=0) + 1).to(torch.uint8).cpu().numpy()
    _write_classes(case["output"], classes, transform, col0, row0)
    return {  # first and last: the ends of the first and of the last batch, as the engine's tiles
        "tiles": len(tiles),
        "provider": f"torch {device.type.upper()}",
        "settings": f"{lanes} lane{'s' if lanes > 1 else ''} of batches of {batch_size}"
        + (f" ({threads} thread{'s' if threads > 1 else ''} each)" if lanes > 1 and threads else "")
        + f", channels-last, {'bf16 autocast' if autocast else 'fp32 (bf16 autocast slower here)'}",
        "km2": width * height * GSD**2 / 1e6,
        "first": times[0],
        "first_tiles": len(batches[0]),
        "last": times[-1],
    }


def _choose_autocast(model, inputs, device) -> Any:
    """torch.bfloat16 when one batch under bf16 autocast runs faster than in fp32 on this machine (each
    timed after a warm-up run), else None. Mixed precision is what a competent user would try."""
    import torch

    if device.type == "cuda":
        return torch.float16
    seconds = {}
    with torch.inference_mode():
        for dtype in (None, torch.bfloat16):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                model.segment(*inputs)
                start = time.perf_counter()
                model.segment(*inputs)
                seconds[dtype] = time.perf_counter() - start
    return torch.bfloat16 if seconds[torch.bfloat16] < seconds[None] else None


def _write_classes(path: str, classes: np.ndarray, transform, col0: int, row0: int) -> None:
    import rasterio
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    height, width = classes.shape
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype="uint8", crs=CRS, nodata=0,
                   transform=window_transform(Window(col0, row0, width, height), transform), tiled=True,
                   blockxsize=512, blockysize=512, compress="deflate")  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(classes, 1)


# --- Deepness's approach ----------------------------------------------------------------------------------


def deepness_loop(case: dict[str, Any]) -> dict[str, Any]:
    import onnxruntime as ort
    import rasterio
    from rasterio.windows import Window

    from flair_qgis.core.bundle_spec import METADATA_KEY, BundleSpec
    from flair_qgis.core.predict import softmax
    from flair_qgis.core.tiling import TileGrid

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(case["bundle"], options=options, providers=["CPUExecutionProvider"])
    # Deepness reads its model's metadata from this one session (model_base.py's get_modelmeta())
    spec = BundleSpec.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    name = session.get_inputs()[0].name
    scaling = spec.aerial.scaling
    # Deepness standardises values / 255 with the model's mean and std: the same affine map as the bundle's
    mean = (np.asarray(scaling.mean, np.float32) / 255 / np.asarray(scaling.scale, np.float32)).reshape(
        1, 1, -1
    )
    std = (np.asarray(scaling.std, np.float32) / 255 / np.asarray(scaling.scale, np.float32)).reshape(
        1, 1, -1
    )
    xmin, ymin, xmax, ymax = case["area"]
    overlap = case["overlap"]
    times: list[float] = []
    with rasterio.open(case["aerial"]) as src:
        col0, row0 = round((xmin - src.transform.c) / GSD), round((src.transform.f - ymax) / GSD)
        width, height = round((xmax - xmin) / GSD), round((ymax - ymin) / GSD)
        grid = TileGrid(width, height, TILE, overlap)
        full = np.zeros((height, width), np.uint8)
        half = overlap // 2
        for tile in grid:  # read and infer in turn, in one thread
            raw = src.read(window=Window(col0 + tile.x, row0 + tile.y, TILE, TILE))
            image = np.moveaxis(raw, 0, 2)[None]  # Deepness's tiles are H x W x C
            values = (np.float32(image * (1.0 / 255.0)) - mean) / std
            batch = np.transpose(values, (0, 3, 1, 2)).astype(np.float32)
            result = softmax(session.run(None, {name: batch})[0])  # its models end in a softmax
            result[result < 0.5] = 0.0
            classes = np.argmax(result, axis=1)[0].astype(np.uint8) + 1
            y0 = 0 if tile.row == 0 else half
            x0 = 0 if tile.col == 0 else half
            y1 = TILE if tile.row == len(grid.ys) - 1 else TILE - half
            x1 = TILE if tile.col == len(grid.xs) - 1 else TILE - half
            full[tile.y + y0 : tile.y + y1, tile.x + x0 : tile.x + x1] = classes[y0:y1, x0:x1][
                : height - tile.y - y0, : width - tile.x - x0
            ]
            times.append(time.perf_counter())
        _write_classes(case["output"], full, src.transform, col0, row0)
    return {
        "tiles": len(grid),
        "provider": "Deepness approach, CPUExecutionProvider",
        "km2": width * height * GSD**2 / 1e6,
        "first": times[0],
        "last": times[-1],
    }
