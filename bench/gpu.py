"""The engine on a GPU, in one call of under 8 minutes: the U-T&T of the published size in fp32 and fp16 on
ONNX Runtime's CUDA and TensorRT providers, with batch sizes chosen for the GPU's memory; tiles/s and
km²/min of whole runs, the GPU's utilisation sampled with nvidia-smi, and the time the inference waited
for the reader thread (what limits the run when it is not the GPU).

    python -m bench.gpu [--km2 4] [--budget 420] [--out results.md]

Needs only this repository and a Python with numpy, rasterio, affine and onnxruntime-gpu, with CUDA's and
cuDNN's libraries where ONNX Runtime finds them (a PyTorch built for the same CUDA major version brings
them: it is imported first when present; torch is not needed otherwise). A GPU machine without a package
index gets those packages in parts through `bench/gpu-offline.sh`. Before timing anything, each provider
is checked to start a session (a one-operator model): one that does not is reported with what it needs,
and without CUDA nothing runs (status 2).

The bundles are bench/data/utt_fp32.onnx.xz and utt_fp16.onnx.xz, the training package's U-T&T exported
by `flair-train`'s export (fp16 with --fp16), whose large weight tensors were then refilled with one
repeated block of random values so that they compress (`python -m bench.gpu --build-bundles`, with
torch, writes them again). Dense GPU kernels take as long whatever the weights, so the speed is that of a
trained model; the maps are not meant to be read. TensorRT builds its engines once (a few minutes) and
keeps them in the user's cache folder (~/.cache/flair_qgis/tensorrt): a second call starts in seconds.
On a machine without an NVIDIA GPU or without onnxruntime-gpu it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import lzma
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BUNDLES = {"fp32": DATA / "utt_fp32.onnx.xz", "fp16": DATA / "utt_fp16.onnx.xz"}
#: GPU memory one 512 px U-T&T tile needs while it runs, in MiB, measured by a batch of 2 when it can be
#: (this is the guess until then).
TILE_MIB = {"fp32": 700.0, "fp16": 400.0}
NO_GPU = 2
TILE = 512
#: Worker processes of the sharded cases (the product's run-plan on this machine, every worker on GPU 0,
#: each with its own reader thread): how far more readers take one GPU.
WORKERS = (4, 8)
#: Shard size of those cases: 25 shards over the 4 km² scene.
SHARD_PX = 2048


def gpu_problem() -> str | None:
    """Why this machine cannot run the GPU benchmark, or None when it can."""
    import onnxruntime as ort

    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU here (nvidia-smi is not installed)"
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    if listed.returncode != 0 or "GPU" not in listed.stdout:
        return f"no NVIDIA GPU here (nvidia-smi -L: {(listed.stderr or listed.stdout).strip() or 'no GPU listed'})"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return (
            f"this ONNX Runtime ({ort.__version__}) has no CUDA provider "
            f"(providers: {', '.join(ort.get_available_providers())}): install onnxruntime-gpu"
        )
    return None


def load_gpu_libraries() -> None:
    """Make CUDA's and cuDNN's libraries loadable by ONNX Runtime's CUDA provider. A PyTorch built for CUDA
    loads them when it is imported, and the provider then finds them in the process (a machine set up for
    deep learning often has them only inside PyTorch's Python packages); without PyTorch, ONNX Runtime's
    preload_dlls looks for them in the nvidia-* Python packages. Either may be missing: the providers'
    check below then says what did not start."""
    with contextlib.suppress(Exception):
        import torch  # noqa: F401

    folders = nvidia_library_folders()
    if folders:  # for the sharded cases' worker processes, which import ONNX Runtime without torch
        inherited = os.environ.get("LD_LIBRARY_PATH")
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(
            [*map(str, folders), *([inherited] if inherited else [])]
        )
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(Exception):
            preload()


def nvidia_library_folders() -> list[Path]:
    """The lib folders of the nvidia-* Python packages (CUDA's runtime, cuBLAS, cuDNN, ...) on this
    Python's path: where PyTorch's CUDA builds and onnxruntime-gpu's [cuda,cudnn] extras put them."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    return sorted({lib for root in roots for lib in Path(root).glob("*/lib") if lib.is_dir()})


PROBE_MODEL = DATA / "probe_relu.onnx"


def tiny_model() -> bytes:
    """A one-operator ONNX model (Relu on 1 x 8 floats, bench/data/probe_relu.onnx, written by
    --build-bundles), to see whether a provider starts without building a TensorRT engine for the U-T&T."""
    return PROBE_MODEL.read_bytes()


def write_probe_model() -> None:
    from onnx import TensorProto, helper

    tensor = [1, 8]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, tensor)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, tensor)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bench.gpu")
    model.ir_version = 8
    PROBE_MODEL.write_bytes(model.SerializeToString())


#: What each provider needs beyond onnxruntime-gpu, said when it does not start.
PROVIDER_NEEDS = {
    "cuda": "CUDA 12 or 13 and cuDNN 9 libraries of the major version this onnxruntime-gpu was built for",
    "tensorrt": "TensorRT 10's libraries (libnvinfer, libnvonnxparser), e.g. from the tensorrt Python packages",
}


def providers_that_start() -> tuple[list[str], dict[str, str]]:
    """Of "cuda" and "tensorrt", those whose ONNX Runtime provider starts a session here, and for each
    other one why not."""
    import onnxruntime as ort

    from flair_qgis.core.runtime import ALIASES, CPU

    started, why = [], {}
    options = ort.SessionOptions()
    options.log_severity_level = 3
    model = tiny_model()
    for short in ("cuda", "tensorrt"):
        provider = ALIASES[short]
        if provider not in ort.get_available_providers():
            why[short] = f"this ONNX Runtime has no {provider}"
            continue
        try:
            session = ort.InferenceSession(model, options, providers=[provider, CPU])
            runs_on = session.get_providers()[0]
        except Exception as exc:
            runs_on = f"nothing ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        if runs_on == provider:
            started.append(short)
        else:
            why[short] = (
                f"{provider} did not start (a session ran on {runs_on}): it needs {PROVIDER_NEEDS[short]}"
            )
    return started, why


class GpuSampler:
    """nvidia-smi's utilisation and memory of GPU 0, every 200 ms, while a case runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        self._process = subprocess.Popen(
            ["nvidia-smi", "-i", "0", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
             "-lms", "200"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            parts = [p.strip() for p in line.split(",")]
            try:
                self.samples.append((float(parts[0]), float(parts[1])))
            except (ValueError, IndexError):
                continue

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=10)

    @property
    def utilisation(self) -> tuple[float, float]:
        values = [u for u, _ in self.samples] or [math.nan]
        return sum(values) / len(values), max(values)

    @property
    def peak_memory_mib(self) -> float:
        return max([m for _, m in self.samples] or [math.nan])


def free_memory_mib() -> float:
    done = subprocess.run(
        ["nvidia-smi", "-i", "0", "--query-gpu=memory.free,name", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout.split(",")[0])


def gpu_name() -> str:
    done = subprocess.run(
        ["nvidia-smi", "-i", "0", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip()


def unpacked_bundle(precision: str, folder: Path) -> Path:
    """The benchmark's U-T&T bundle of `precision`, decompressed into `folder` once."""
    target = folder / f"utt_{precision}.onnx"
    if not target.exists():
        partial = target.with_suffix(".part")
        partial.write_bytes(lzma.decompress(BUNDLES[precision].read_bytes()))
        partial.rename(target)
    return target


def batch_sizes(precision: str, free_mib: float, tile_mib: float) -> list[int]:
    """Batches to time: powers of two from 4 up to what 60 % of the free memory holds (at most 64)."""
    largest = max(1, min(64, int(0.6 * free_mib / tile_mib)))
    sizes = [b for b in (4, 8, 16, 32, 64) if b <= largest]
    return sizes or [largest]


def run_case(scene: dict[str, Any], bundle: Path, device: str, batch: int, output: Path) -> dict[str, Any]:
    from flair_qgis.core.predict import PredictionRequest, predict

    request = PredictionRequest(
        aerial=scene["ortho"], bundle=bundle, output=output, sentinel2=scene["sentinel2"], device=device,
        batch_size=batch, overwrite=True,
    )  # fmt: skip
    with GpuSampler() as sampler:
        start = time.perf_counter()
        result = predict(request)
        seconds = time.perf_counter() - start
    mean_util, max_util = sampler.utilisation
    return {
        "provider": result.provider,
        "tiles": result.tiles,
        "seconds": seconds,
        "km2": result.grid.width * result.grid.height * 0.04 / 1e6,
        "waited": result.waited_for_data,
        "start_up": result.stages.get("start-up", 0.0),
        "inference": result.stages.get("inference", 0.0),
        "util_mean": mean_util,
        "util_max": max_util,
        "memory_mib": sampler.peak_memory_mib,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--km2", type=float, default=4.0, help="area of the synthetic scene (4 km² = 529 tiles)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=420,
        help="seconds after which no new case starts (420; the first always runs)",
    )
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "flair_qgis" / "bench_gpu")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    parser.add_argument("--build-bundles", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_bundles:
        build_bundles()
        return 0
    problem = gpu_problem()
    if problem:
        print(f"bench.gpu: cannot run: {problem}. Nothing was measured.", file=sys.stderr)
        return NO_GPU
    load_gpu_libraries()
    providers, unavailable = providers_that_start()
    if "cuda" not in providers:
        print(f"bench.gpu: cannot run: {unavailable['cuda']}. Nothing was measured.", file=sys.stderr)
        return NO_GPU
    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    scene = write_scene(args.workdir, args.km2)
    rows, skipped = [], []
    for label, case in cases(providers, scene, args.workdir, unavailable):
        if rows and time.perf_counter() - started > args.budget:  # the first case always runs
            skipped.append(label)
            continue
        print(f"[bench.gpu] {label}", file=sys.stderr, flush=True)
        try:
            rows.append({"label": label, **case()})
        except Exception as exc:  # a provider that fails is a result too
            rows.append({"label": label, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
    text = report(rows, skipped, unavailable, scene, time.perf_counter() - started)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def cases(
    providers: list[str], scene: dict[str, Any], workdir: Path, unavailable: dict[str, str]
) -> list[tuple[str, Any]]:
    """The cases in the order they run (what tells most first, in case the budget runs out): CUDA fp16 at
    the largest batch, the same in WORKERS[-1] worker processes, then the rest."""
    free = free_memory_mib()
    batches = {p: batch_sizes(p, free, TILE_MIB[p]) for p in ("fp16", "fp32")}

    def single(provider: str, precision: str, batch: int) -> tuple[str, Any]:
        def case() -> dict[str, Any]:
            bundle = unpacked_bundle(precision, workdir)
            figures = run_case(scene, bundle, provider, batch, workdir / "map.tif")
            return {"precision": precision, "batch": batch, **figures}

        return f"{provider} {precision} batch {batch}", case

    def sharded(workers: int) -> tuple[str, Any]:
        batch = batch_sizes("fp16", free / workers, TILE_MIB["fp16"])[-1]  # the workers share the memory

        def case() -> dict[str, Any]:
            bundle = unpacked_bundle("fp16", workdir)
            figures = run_plan_case(scene, bundle, batch, workers, workdir / f"plan_{workers}")
            return {"precision": "fp16", "batch": batch, **figures}

        return f"cuda fp16 batch {batch}, run-plan local:{workers}", case

    biggest = {p: b[-1] for p, b in batches.items()}
    middle = {p: b[len(b) // 2] for p, b in batches.items()}
    no_dask = dask_problem()
    if no_dask is not None:
        unavailable["run-plan"] = no_dask
    order = [single("cuda", "fp16", biggest["fp16"])]
    if no_dask is None:
        order.append(sharded(WORKERS[-1]))
    order += [single("cuda", "fp16", middle["fp16"]), single("cuda", "fp32", biggest["fp32"])]
    if no_dask is None:
        order += [sharded(w) for w in WORKERS[:-1]]
    if "tensorrt" in providers:
        order.append(single("tensorrt", "fp16", biggest["fp16"]))
    order.append(single("cuda", "fp32", middle["fp32"]))
    if "tensorrt" in providers:
        order.append(single("tensorrt", "fp32", biggest["fp32"]))
    unique: dict[str, Any] = {}  # a middle batch may be the biggest: that case runs once
    for label, case in order:
        unique.setdefault(label, case)
    return list(unique.items())


def dask_problem() -> str | None:
    """Why the sharded cases cannot run here (the product's run-plan needs Dask), or None."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        return (
            f"Dask cannot be imported here (no module {exc.name}): pip install 'flair-qgis[distributed]' "
            "(bench/gpu-offline.sh packs Dask; psutil, msgpack, PyYAML and the like are taken from the machine)"
        )
    return None


def run_plan_case(
    scene: dict[str, Any], bundle: Path, batch: int, workers: int, folder: Path
) -> dict[str, Any]:
    """The product's sharded run (`plan`, then `run-plan --scheduler local:N`, which merges) over the scene,
    every worker on GPU 0 with its own reader thread. Its seconds are the whole run-plan call; its
    start-up, all of it outside the shards' span (the Dask cluster's and the workers' sessions' start, the
    merge), read from the shards' records."""
    import json

    shutil.rmtree(folder, ignore_errors=True)  # committed shards of an earlier call would be skipped
    folder.mkdir(parents=True)
    plan = folder / "plan.json"
    cli = [sys.executable, "-m", "flair_qgis"]
    planned = subprocess.run(
        [*cli, "plan", str(plan), "--aerial", str(scene["ortho"]), "--sentinel2", str(scene["sentinel2"]),
         "--model", str(bundle), "--device", "cuda", "--batch-size", str(batch),
         "--shard-width", str(SHARD_PX), "--shard-height", str(SHARD_PX)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if planned.returncode != 0:
        raise RuntimeError(f"plan failed: {_last_line(planned.stderr)}")
    with GpuSampler() as sampler:
        start = time.perf_counter()
        ran = subprocess.run(
            [*cli, "run-plan", str(plan), "--scheduler", f"local:{workers}", "--quiet"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    if ran.returncode != 0:
        raise RuntimeError(f"run-plan failed: {_last_line(ran.stderr)}")
    grid = json.loads(plan.read_text(encoding="utf-8"))
    done = [json.loads(p.read_text(encoding="utf-8")) for p in (folder / "shards").glob("*.done.json")]
    ran_on = ", ".join(sorted({d["provider"] for d in done}))  # what each worker's session ran on
    run_tiles = sum(d["tiles"] for d in done)  # the shards' margins make it more than the scene's
    # from the first shard's start (its worker's session made) to the last shard's end
    span = max(d["started"] + d["seconds"] for d in done) - min(d["started"] for d in done)
    mean_util, max_util = sampler.utilisation
    return {
        "provider": f"{ran_on}, {workers} workers, {len(done)} shards ({run_tiles} tiles run)",
        "tiles": scene["tiles"],
        "seconds": seconds,
        "km2": grid["grid"]["width"] * grid["grid"]["height"] * 0.04 / 1e6,
        "waited": None,
        "start_up": max(0.0, seconds - span),
        "util_mean": mean_util,
        "util_max": max_util,
        "memory_mib": sampler.peak_memory_mib,
    }


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def write_scene(workdir: Path, km2: float) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent))
    from bench.engine import GSD, write_ortho, write_sentinel2

    side = round(math.sqrt(km2 * 1e6) / GSD)
    ortho = write_ortho(workdir / f"ortho_{km2:g}km2.tif", side)
    sentinel2 = write_sentinel2(workdir / f"s2_{km2:g}km2", side * GSD)
    from flair_qgis.core.tiling import TileGrid

    tiles = len(TileGrid(side, side, TILE, TILE // 8))  # the engine's default overlap
    return {"ortho": ortho, "sentinel2": sentinel2, "km2": km2, "tiles": tiles}


def report(
    rows: list[dict[str, Any]],
    skipped: list[str],
    unavailable: dict[str, str],
    scene: dict[str, Any],
    elapsed: float,
) -> str:
    lines = [
        f"GPU: {gpu_name()}; U-T&T of the published size (weights refilled, see bench/gpu.py), "
        f"{scene['km2']:g} km² at 0.2 m, 12 monthly Sentinel-2 dates; whole runs of predict() (the first "
        "TensorRT run of a shape includes building its engine unless it was cached).",
        "",
        "| case | provider that ran | tiles | seconds | start-up s | tiles/s | km²/min | GPU util mean / max % "
        "| waited for data s (share) | peak GPU memory MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['label']} | failed: {row['error']} | | | | | | | | |")
            continue
        running = row["seconds"] - row["start_up"]
        waited = "in the workers" if row["waited"] is None else (
            f"{row['waited']:.1f} ({100 * row['waited'] / row['seconds']:.0f} %)"
        )  # fmt: skip
        lines.append(
            f"| {row['label']} | {row['provider']} | {row['tiles']} | {row['seconds']:.1f} | {row['start_up']:.1f} | "
            f"{row['tiles'] / running:.1f} | {row['km2'] / (running / 60):.1f} | {row['util_mean']:.0f} / "
            f"{row['util_max']:.0f} | {waited} | {row['memory_mib']:.0f} |"
        )
    done = [r for r in rows if "error" not in r]
    lines.append("")
    lines.append(
        "tiles/s and km²/min count the run after its start-up (session creation, TensorRT engine build); "
        "in the run-plan rows, start-up is what lies outside the shards' span (from the first shard's start, "
        "its worker's session made, to the last one's end): Dask's start, the workers' sessions and the merge."
    )
    if done:
        best = max(done, key=lambda r: r["km2"] / (r["seconds"] - r["start_up"]))
        rate = best["km2"] / ((best["seconds"] - best["start_up"]) / 60)
        limit = limiting(best)
        verdict = "meets" if rate >= 100 else "misses"
        lines.append(
            f"- Fastest: {best['label']}, **{rate:.1f} km²/min** ({verdict} the 100 km²/min goal); limited by {limit}."
        )
    if skipped:
        lines.append(f"- Not run (the {elapsed:.0f} s budget was spent): {', '.join(skipped)}.")
    for provider, reason in unavailable.items():
        lines.append(f"- Not run on {provider}: {reason}.")
    lines.append(f"- Whole call: {elapsed:.0f} s.")
    return "\n".join(lines)


def limiting(best: dict[str, Any]) -> str:
    """What limits the fastest case, in words: the reader thread when the GPU waited for data a quarter
    of the run or more, else the GPU; for a sharded run, its GPU utilisation says which."""
    if best["waited"] is None:
        busy = best["util_mean"]
        return (
            f"the GPU ({busy:.0f} % busy on average)"
            if busy >= 80
            else f"the CPU side of the workers (aerial reading, Sentinel-2 windows, blending and writing): "
            f"the GPU was {busy:.0f} % busy on average"
        )
    share = best["waited"] / best["seconds"]
    if share > 0.25:
        return (
            "the reader thread (aerial reading and Sentinel-2 windows on the CPU): the GPU waited "
            f"{100 * share:.0f} % of the run"
        )
    return f"the GPU (it waited for data {100 * share:.0f} % of the run)"


def build_bundles() -> None:
    """Write bench/data/utt_{fp32,fp16}.onnx.xz (needs torch and the training package) and the providers'
    probe model."""
    import tempfile

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from flair_qgis.core.bundle_spec import flair2_aerial_input, flair2_sentinel2_input
    from flair_training.export import bundle_spec, export_bundle
    from flair_training.models import UTT

    DATA.mkdir(exist_ok=True)
    write_probe_model()
    torch.manual_seed(0)
    model = UTT().eval()
    spec = bundle_spec(flair2_aerial_input(512), flair2_sentinel2_input(40), name="U-T&T GPU benchmark",
                       provenance={"generator": "bench/gpu.py --build-bundles: weights refilled, for timing only"})  # fmt: skip
    block = np.random.default_rng(0).standard_normal(4096) * 0.02
    with tempfile.TemporaryDirectory() as folder:
        for precision in ("fp32", "fp16"):
            path = Path(folder) / f"{precision}.onnx"
            export_bundle(model, spec, path, fp16=precision == "fp16")
            proto = onnx.load(str(path))
            for init in proto.graph.initializer:
                array = numpy_helper.to_array(init)
                if array.dtype.kind == "f" and array.size > block.size:
                    refilled = np.resize(block, array.size).reshape(array.shape).astype(array.dtype)
                    init.CopyFrom(numpy_helper.from_array(refilled, init.name))
            BUNDLES[precision].write_bytes(lzma.compress(proto.SerializeToString(), preset=9))
            print(f"wrote {BUNDLES[precision]} ({BUNDLES[precision].stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    sys.exit(main())
