"""ONNX Runtime sessions on the device the user asks for, or the best one available, with batched runs
that survive a GPU running out of memory by splitting the batch; on the CPU, the graph ONNX Runtime
optimised for this machine is kept in the user's cache folder so that later runs skip the optimisation."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import queue
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from .bundle import unreadable
from .errors import FlairError, first_line

CPU = "CPUExecutionProvider"
#: How a user is told where the model runs (progress, the dialog, Processing): no ONNX Runtime class names.
DEVICE_LABELS = {
    "CPUExecutionProvider": "the CPU",
    "CUDAExecutionProvider": "the GPU (CUDA)",
    "TensorrtExecutionProvider": "the GPU (TensorRT)",
    "DmlExecutionProvider": "the GPU (DirectML)",
    "CoreMLExecutionProvider": "Apple's Core ML",
}


def device_label(provider: str) -> str:
    """Where an ONNX Runtime provider runs the model, in words ("the CPU", "the GPU (CUDA)")."""
    return DEVICE_LABELS.get(provider, provider.removesuffix("ExecutionProvider"))


#: Providers in the order "auto" prefers them (the first available one that starts wins).
PREFERRED = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    CPU,
)
GPU_PROVIDERS = PREFERRED[:-1]
#: Short names accepted for `device`, besides "auto", "gpu", "cpu" and full provider names.
ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}
#: Fragments of ONNX Runtime's error messages when an allocation on the device fails.
OUT_OF_MEMORY = ("out of memory", "failed to allocate", "outofmemory", "cudaerrormemoryallocation")


def available_devices() -> list[str]:
    """The ONNX Runtime providers this installation offers, in "auto"'s order of preference."""
    available = ort.get_available_providers()
    ordered = [p for p in PREFERRED if p in available]
    return ordered + [p for p in available if p not in ordered]


@dataclass(frozen=True)
class ProviderChoice:
    """The providers to try, in order, and why the requested one will not be used (None when it will)."""

    requested: str
    providers: tuple[str, ...]
    reason: str | None


def choose_providers(device: str = "auto", available: list[str] | None = None) -> ProviderChoice:
    """Translate `device` ("auto", "gpu", "cpu", a short name like "cuda", or a provider name) into the
    providers to hand ONNX Runtime, falling back to the CPU with a reason when the device is missing."""
    available = available_devices() if available is None else available
    key = device.strip()
    lowered = key.lower()
    if lowered == "auto":
        return ProviderChoice(device, tuple(p for p in PREFERRED if p in available), None)
    if lowered == "cpu":
        return ProviderChoice(device, (CPU,), None)
    if lowered == "gpu":
        gpus = [p for p in GPU_PROVIDERS if p in available]
        if gpus:
            return ProviderChoice(device, _with_fallbacks(gpus[0], available), None)
        return ProviderChoice(
            device,
            (CPU,),
            "no GPU provider is available in this ONNX Runtime "
            f"(available: {', '.join(available)}); install onnxruntime-gpu for CUDA",
        )
    provider = ALIASES.get(lowered, key)
    known = {p.lower(): p for p in [*PREFERRED, *available]}
    provider = known.get(provider.lower(), provider)
    if provider not in [*PREFERRED, *available]:
        raise FlairError(
            f"Unknown device '{device}'",
            "Use auto, gpu, cpu, cuda, tensorrt, directml, coreml or an ONNX Runtime provider name.",
        )
    if provider in available:
        return ProviderChoice(device, _with_fallbacks(provider, available), None)
    return ProviderChoice(
        device,
        (CPU,),
        f"{provider} is not available in this ONNX Runtime (available: {', '.join(available)})",
    )


def _with_fallbacks(provider: str, available: list[str]) -> tuple[str, ...]:
    """`provider`, then CUDA for the operators TensorRT leaves out, then the CPU."""
    if provider == CPU:
        return (CPU,)
    chain = [provider]
    if provider == "TensorrtExecutionProvider" and "CUDAExecutionProvider" in available:
        chain.append("CUDAExecutionProvider")
    return (*chain, CPU)


class Runner:
    """A session on a chosen provider that runs batches, splitting a batch when the device runs out of
    memory. `provider` is the provider that actually runs; `fallback_reason` why it is not the one asked."""

    def __init__(self, session: ort.InferenceSession, choice: ProviderChoice) -> None:
        self.session = session
        self.provider = session.get_providers()[0]
        self.fallback_reason = choice.reason
        wanted = choice.providers[0] if choice.providers else CPU
        if self.fallback_reason is None and self.provider != wanted:
            self.fallback_reason = (
                f"ONNX Runtime could not start {wanted} (missing or mismatched GPU libraries?) and "
                f"runs on {self.provider}"
            )
        self.splits = 0  # how many times a batch was split after running out of memory

    def run(self, output: str, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """Run one batch (every feed has the batch on axis 0) and return `output`, B x ...

        An ONNX Runtime failure other than memory raises FlairError with its first line."""
        try:
            return run_split(lambda part: self.session.run([output], dict(part))[0], feeds, self._count_split)
        except FlairError:
            raise
        except Exception as exc:  # onnxruntime's own exception types
            raise FlairError(
                f"ONNX Runtime failed to run the model on {self.provider}: {first_line(exc)}",
                "The bundle may not follow the input/output convention of docs/bundle.md.",
            ) from exc

    def _count_split(self) -> None:
        self.splits += 1


def run_split(
    run: Callable[[Mapping[str, np.ndarray]], np.ndarray],
    feeds: Mapping[str, np.ndarray],
    on_split: Callable[[], None] | None = None,
) -> np.ndarray:
    """Call `run(feeds)`; when it fails for lack of device memory, run the two halves of the batch
    (recursively, down to one item) and concatenate. One item that still does not fit raises FlairError."""
    try:
        return run(feeds)
    except FlairError:
        raise
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        size = len(next(iter(feeds.values())))
        if size <= 1:
            raise FlairError(
                "The device ran out of memory even for a batch of one tile",
                "Free the GPU's memory (close other programs) or run on the CPU (device cpu).",
            ) from exc
        if on_split is not None:
            on_split()
        half = size // 2
        first = run_split(run, {k: v[:half] for k, v in feeds.items()}, on_split)
        second = run_split(run, {k: v[half:] for k, v in feeds.items()}, on_split)
        return np.concatenate([first, second])


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an ONNX Runtime error says that an allocation failed."""
    text = str(exc).lower()
    return any(fragment in text for fragment in OUT_OF_MEMORY)


def user_cache_dir() -> Path:
    """This user's cache folder of the plugin: $XDG_CACHE_HOME/flair_qgis (~/.cache/flair_qgis)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flair_qgis"


def tensorrt_options(fp16: bool = False, shapes: Mapping[str, Sequence[Sequence[int]]] | None = None) -> dict:
    """TensorRT provider options: engines and timings cached in the user's cache folder (building an
    engine takes minutes; a cached one loads in seconds), fp16 kernels for an fp16 bundle, and with
    `shapes` (input name -> its min, opt and max shape) one optimisation profile covering every batch
    a run gives, so that no new engine is built in the middle of a run."""
    cache = user_cache_dir() / "tensorrt"
    cache.mkdir(parents=True, exist_ok=True)
    options = {
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(cache),
        "trt_fp16_enable": str(bool(fp16)),
    }
    if shapes:
        for key, index in (
            ("trt_profile_min_shapes", 0),
            ("trt_profile_opt_shapes", 1),
            ("trt_profile_max_shapes", 2),
        ):
            options[key] = ",".join(
                f"{name}:{'x'.join(map(str, dims[index]))}" for name, dims in shapes.items()
            )
    return options


#: How many optimised graphs the cache keeps (the most recently used; a U-T&T's is about 100 MB).
OPTIMISED_GRAPHS_KEPT = 3
#: Models smaller than this are optimised in milliseconds: their graphs are not cached.
OPTIMISED_GRAPH_MIN_BYTES = 1_000_000


def optimised_graph_path(model: Path) -> Path | None:
    """Where the CPU graph of `model` that ONNX Runtime optimised (ORT_ENABLE_ALL) is cached: named after
    the model's path, size and modification time, the ONNX Runtime version and this CPU (the optimised
    graph is laid out for its vector width), so that a changed model, another ONNX Runtime or another
    machine never reads a stale one. None for a small model, or when the cache folder cannot be made."""
    try:
        stat = model.stat()
        if stat.st_size < OPTIMISED_GRAPH_MIN_BYTES:
            return None
        folder = user_cache_dir() / "onnxruntime"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    key = "\n".join(
        [str(model.resolve()), str(stat.st_size), str(stat.st_mtime_ns), ort.__version__, _cpu_signature()]
    )
    return folder / f"{model.stem}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.onnx"


@functools.lru_cache(maxsize=1)
def _cpu_signature() -> str:
    """This CPU's model and instruction set extensions (what ONNX Runtime's kernels pick from)."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
        wanted = [line for line in lines if line.startswith(("model name", "flags"))][:2]
        if wanted:
            return "\n".join(wanted)
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _cpu_session(path: Path, options: ort.SessionOptions) -> ort.InferenceSession:
    """A CPU session of `path` with `options` (ORT_ENABLE_ALL): from the cached optimised graph when
    there is one (a U-T&T bundle's session starts in 0.15 s instead of 0.5 s here, with the same
    outputs bit for bit), else optimised and the result written to the cache for the next run."""
    cached = optimised_graph_path(path)
    if cached is not None and cached.is_file():
        reuse = ort.SessionOptions()
        reuse.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        reuse.log_severity_level = options.log_severity_level
        reuse.intra_op_num_threads = options.intra_op_num_threads
        reuse.inter_op_num_threads = options.inter_op_num_threads
        try:
            session = ort.InferenceSession(str(cached), reuse, providers=[CPU])
            os.utime(cached)  # recently used: kept by _prune_optimised_graphs
            return session
        except Exception:  # a damaged cache entry: optimise the model again
            cached.unlink(missing_ok=True)
    if cached is None:
        return ort.InferenceSession(str(path), options, providers=[CPU])
    partial = cached.with_name(f".{cached.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    options.optimized_model_filepath = str(partial)
    try:
        session = ort.InferenceSession(str(path), options, providers=[CPU])
    except Exception:
        partial.unlink(missing_ok=True)
        options.optimized_model_filepath = ""
        return ort.InferenceSession(str(path), options, providers=[CPU])  # it may fail for the model
    try:
        os.replace(partial, cached)
        _prune_optimised_graphs(cached.parent)
    except OSError:
        partial.unlink(missing_ok=True)
    return session


def _prune_optimised_graphs(folder: Path, keep: int = OPTIMISED_GRAPHS_KEPT) -> None:
    """Remove all but the `keep` most recently used optimised graphs, and partial files a day old."""
    graphs = sorted(folder.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in graphs[keep:]:
        old.unlink(missing_ok=True)
    for partial in folder.glob(".*.partial"):
        if time.time() - partial.stat().st_mtime > 86400:
            partial.unlink(missing_ok=True)


def create_runner(
    path: str | Path,
    device: str = "auto",
    threads: int | None = None,
    *,
    fp16: bool = False,
    shapes: Mapping[str, Sequence[Sequence[int]]] | None = None,
) -> Runner:
    """An ONNX Runtime session for the model at `path` on `device` (see choose_providers), with
    `threads` CPU threads for the operators (None or 0: ONNX Runtime's default, one per core). On
    TensorRT: `fp16` kernels and the input `shapes` profile of tensorrt_options. On the CPU alone, the
    optimised graph is cached (optimised_graph_path).

    Raises BundleError (bundle.unreadable) when ONNX Runtime cannot load the model even on the CPU."""
    choice = choose_providers(device)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        if threads < 0:
            raise FlairError(f"The number of threads must be positive, got {threads}")
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        providers = [
            (p, tensorrt_options(fp16, shapes)) if p == "TensorrtExecutionProvider" else p
            for p in choice.providers
        ]
        if choice.providers == (CPU,):
            session = _cpu_session(Path(path), options)
        else:
            session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:
        if choice.providers == (CPU,):
            raise unreadable(Path(path), exc) from exc
        try:
            session = ort.InferenceSession(str(path), options, providers=[CPU])
        except Exception as cpu_exc:
            raise unreadable(Path(path), cpu_exc) from cpu_exc
        choice = ProviderChoice(
            choice.requested, (CPU,), f"{choice.providers[0]} failed to start ({first_line(exc)})"
        )
    return Runner(session, choice)


# --- runs side by side on the CPU --------------------------------------------------------------------

#: Batches the CPU runs at once, each on a session of its own with its share of the threads. A U-T&T's
#: graph has many small operators (the U-TAE's, the decoder's) that threads share poorly: on 2 cores,
#: two single-threaded runs side by side did 1.16x to 1.28x the tiles of one run on both threads.
#: Measured on 2 cores only: on a larger CPU, `python -m bench.engine --throughput --levers` times "one
#: inference lane" against it.
CPU_LANES = 2
#: Fewer batches than this run in one lane: the second session's start is not paid back (U-T&T on 2
#: cores, medians of 3-4 interleaved runs, one lane against two: 4 tiles 2.03 s against 2.18 s, 9 tiles
#: 4.26 s against 3.94 s, 12 tiles 6.0 s against 5.68 s).
LANES_FROM_BATCHES = 8


def physical_cores() -> int:
    """The CPU cores this process may use, hyperthreads not counted (ONNX Runtime's own default for its
    threads); the logical CPUs where the physical ones cannot be told."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil  # not everywhere QGIS is; the fallback counts hyperthreads

        physical = psutil.cpu_count(logical=False)
    except Exception:
        physical = None
    return max(1, min(usable, physical or usable))


def lane_plan(
    provider: str, threads: int | None, batches: int = LANES_FROM_BATCHES
) -> tuple[int, int | None]:
    """(batches run at once, threads of each run's session) for `threads` CPU threads in all (None: one
    per physical core) and a run of `batches` batches. One lane on a GPU, with a single thread, or for a
    run of fewer than LANES_FROM_BATCHES batches."""
    if provider != CPU or batches < LANES_FROM_BATCHES:
        return 1, threads
    total = threads or physical_cores()
    lanes = min(CPU_LANES, total)
    if lanes < 2:
        return 1, threads
    return lanes, total // lanes


class Job(Protocol):
    """A submitted batch: result() waits for its output (or raises what its run raised)."""

    def result(self) -> Any: ...


class _Later:
    """A batch that runs when its result is asked for."""

    def __init__(self, run: Callable[[], Any]) -> None:
        self.result = run


class Lanes:
    """Batches run by up to `count` sessions of one model side by side, each batch's result handed back
    as a Job. `first` is the session already started (and checked); the others are made by `make()` in
    their thread when first needed, so they start while the first batch runs.

    With several lanes, or with `ahead` (a GPU: its runs leave the CPU free), batches run in threads of
    their own, and `depth` batches (the lanes, plus one) are kept submitted: the next batch runs while
    the caller blends and writes the last one. Otherwise a batch runs in the calling thread, when its
    result is asked for (one lane on the CPU, whose threads the run takes anyway)."""

    def __init__(
        self, first: Runner, make: Callable[[], Runner] | None = None, count: int = 1, *, ahead: bool = False
    ) -> None:
        self.count = count if make is not None else 1
        self._idle: queue.SimpleQueue[Runner] = queue.SimpleQueue()
        self._idle.put(first)
        self._made, self._make, self._lock = 1, make, threading.Lock()
        self.note: str | None = None  # why fewer lanes ran than planned, for the run's warnings
        threaded = self.count > 1 or ahead
        #: batches to keep submitted, so that no lane waits while the caller handles a result
        self.depth = self.count + 1 if threaded else 1
        self._pool = (
            ThreadPoolExecutor(self.count, thread_name_prefix="flair-inference") if threaded else None
        )

    def submit(
        self, output: str, feeds: Mapping[str, np.ndarray], then: Callable[[np.ndarray], Any] | None = None
    ) -> Job:
        """The batch `feeds` run for `output` (Runner.run) by a free lane, its output then handed to
        `then` in the same thread (the job's result is what `then` returns); with one lane on the CPU,
        all of it in the calling thread when the result is asked for."""
        if self._pool is not None:
            return self._pool.submit(self._run, output, feeds, then)
        return _Later(functools.partial(self._run, output, feeds, then))

    def _run(
        self, output: str, feeds: Mapping[str, np.ndarray], then: Callable[[np.ndarray], Any] | None
    ) -> Any:
        runner = self._take()
        try:
            result = runner.run(output, feeds)
        finally:
            self._idle.put(runner)
        return result if then is None else then(result)

    def _take(self) -> Runner:
        with contextlib.suppress(queue.Empty):
            return self._idle.get_nowait()
        with self._lock:
            if self._made < self.count and self._make is not None:
                self._made += 1
                try:
                    return self._make()
                except Exception as exc:  # e.g. no memory for another session: run on the ones there are
                    self.note = (
                        f"One batch ran at a time: another session could not start ({first_line(exc)})"
                    )
        return self._idle.get()

    def close(self) -> None:
        """Wait for the batches running; drop those not started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
