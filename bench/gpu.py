"""The engine on a GPU, in one call of under 8 minutes: the U-T&T of the published size in fp32 and fp16 on
ONNX Runtime's CUDA and TensorRT providers, with batch sizes chosen for the GPU's memory; tiles/s and
km²/min of whole runs, the GPU's utilisation sampled with nvidia-smi, and the time the inference waited
for the reader thread (what limits the run when it is not the GPU).

    python -m bench.gpu [--km2 4] [--budget 420] [--out results.md]

Needs only this repository and a Python with numpy, rasterio, affine and onnxruntime-gpu (no torch): the
bundles are bench/data/utt_fp32.onnx.xz and utt_fp16.onnx.xz, the training package's U-T&T exported by
`flair-train`'s export (fp16 with --fp16), whose large weight tensors were then refilled with one
repeated block of random values so that they compress (`python -m bench.gpu --build-bundles`, with
torch, writes them again). Dense GPU kernels take as long whatever the weights, so the speed is that of a
trained model; the maps are not meant to be read. TensorRT builds its engines once (a few minutes) and
keeps them in the user's cache folder (~/.cache/flair_qgis/tensorrt): a second call starts in seconds.
On a machine without an NVIDIA GPU or without onnxruntime-gpu it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import lzma
import math
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
        "--budget", type=float, default=420, help="seconds after which no new case starts (420)"
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
    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    scene = write_scene(args.workdir, args.km2)
    rows, skipped = [], []
    for provider in ("cuda", "tensorrt"):
        for precision in ("fp16", "fp32"):
            bundle = unpacked_bundle(precision, args.workdir)
            sizes = batch_sizes(precision, free_memory_mib(), TILE_MIB[precision])
            for batch in (sizes[-1], sizes[len(sizes) // 2]) if provider == "cuda" else (sizes[-1],):
                label = f"{provider} {precision} batch {batch}"
                if time.perf_counter() - started > args.budget:
                    skipped.append(label)
                    continue
                print(f"[bench.gpu] {label}", file=sys.stderr, flush=True)
                try:
                    figures = run_case(scene, bundle, provider, batch, args.workdir / "map.tif")
                except Exception as exc:  # a provider that fails is a result too
                    rows.append({"label": label, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
                    continue
                rows.append({"label": label, "precision": precision, "batch": batch, **figures})
    text = report(rows, skipped, scene, time.perf_counter() - started)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def write_scene(workdir: Path, km2: float) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent))
    from bench.engine import GSD, write_ortho, write_sentinel2

    side = round(math.sqrt(km2 * 1e6) / GSD)
    ortho = write_ortho(workdir / f"ortho_{km2:g}km2.tif", side)
    sentinel2 = write_sentinel2(workdir / f"s2_{km2:g}km2", side * GSD)
    return {"ortho": ortho, "sentinel2": sentinel2, "km2": km2}


def report(rows: list[dict[str, Any]], skipped: list[str], scene: dict[str, Any], elapsed: float) -> str:
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
        lines.append(
            f"| {row['label']} | {row['provider']} | {row['tiles']} | {row['seconds']:.1f} | {row['start_up']:.1f} | "
            f"{row['tiles'] / running:.1f} | {row['km2'] / (running / 60):.1f} | {row['util_mean']:.0f} / "
            f"{row['util_max']:.0f} | {row['waited']:.1f} ({100 * row['waited'] / row['seconds']:.0f} %) | "
            f"{row['memory_mib']:.0f} |"
        )
    done = [r for r in rows if "error" not in r]
    lines.append("")
    lines.append(
        "tiles/s and km²/min count the run after its start-up (session creation, TensorRT engine build)."
    )
    if done:
        best = max(done, key=lambda r: r["km2"] / (r["seconds"] - r["start_up"]))
        rate = best["km2"] / ((best["seconds"] - best["start_up"]) / 60)
        share = best["waited"] / best["seconds"]
        limit = (
            "the reader thread (aerial reading and Sentinel-2 windows on the CPU): the GPU waited "
            f"{100 * share:.0f} % of the run"
            if share > 0.25
            else f"the GPU (it waited for data {100 * share:.0f} % of the run)"
        )
        verdict = "meets" if rate >= 100 else "misses"
        lines.append(
            f"- Fastest: {best['label']}, **{rate:.1f} km²/min** ({verdict} the 100 km²/min goal); limited by {limit}."
        )
    if skipped:
        lines.append(f"- Not run (the {elapsed:.0f} s budget was spent): {', '.join(skipped)}.")
    lines.append(f"- Whole call: {elapsed:.0f} s.")
    return "\n".join(lines)


def build_bundles() -> None:
    """Write bench/data/utt_{fp32,fp16}.onnx.xz (needs torch and the training package)."""
    import tempfile

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from flair_qgis.core.bundle_spec import flair2_aerial_input, flair2_sentinel2_input
    from flair_training.export import bundle_spec, export_bundle
    from flair_training.models import UTT

    DATA.mkdir(exist_ok=True)
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
