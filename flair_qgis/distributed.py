"""A plan's shards run on Dask (docs/distributed.md): on this machine's cores (a LocalCluster), on a
running Dask scheduler, or on SLURM through dask-jobqueue. One task per shard; each worker keeps one ONNX
Runtime session for all its shards; Dask retries a shard whose worker died, and a shard already committed
is checked and skipped, so a run can be killed and resumed at any point.

Dask is an optional dependency (`pip install flair-qgis[distributed]`): it is imported only here, and
only when a plan is run. The QGIS plugin never imports this module.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .core.errors import FlairError, InputError
from .core.runtime import Runner, create_runner
from .core.shard_merge import MergedMap, merge_plan
from .core.shard_run import check_bundle, run_shard, shard_state
from .core.shards import Plan, read_plan

#: Resource each worker of a SLURM job advertises once, so that it runs one shard at a time however
#: many threads Dask gives it (the threads serve Dask's own work; ONNX Runtime has its own).
SHARD_RESOURCE = "flair_shard"


@dataclass(frozen=True)
class SlurmOptions:
    """The SLURM jobs that host the Dask workers: `jobs` jobs on partition `queue`, each one worker with
    `gpus_per_job` GPUs (0: CPU only; the worker uses one), `cores` CPU cores and `memory`, for `walltime`."""

    queue: str | None = None
    gpus_per_job: int = 0
    walltime: str = "02:00:00"
    jobs: int = 1
    cores: int = 8
    memory: str = "32GB"
    account: str | None = None


def slurm_cluster(options: SlurmOptions, **extra: Any) -> Any:
    """A dask_jobqueue.SLURMCluster for `options` (no job is submitted until it is scaled); `extra` goes
    to SLURMCluster (e.g. a scheduler address in tests)."""
    if options.gpus_per_job < 0 or options.jobs < 1 or options.cores < 1:
        raise InputError(
            f"SLURM jobs need at least 1 core and 0 or more GPUs, got {options.cores} cores, "
            f"{options.gpus_per_job} GPUs, {options.jobs} jobs."
        )
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise _missing_dask(exc) from exc
    directives = [f"--gres=gpu:{options.gpus_per_job}"] if options.gpus_per_job else []
    return SLURMCluster(
        queue=options.queue,
        account=options.account,
        cores=options.cores,
        processes=1,
        memory=options.memory,
        walltime=options.walltime,
        job_name="flair-shards",
        job_extra_directives=directives,
        worker_extra_args=["--resources", f"{SHARD_RESOURCE}=1"],
        python=sys.executable,
        **extra,
    )


@dataclass
class PlanRun:
    """What run_plan did: shards computed now, shards found committed, seconds, and the merged map."""

    computed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    seconds: float = 0.0
    km2: float = 0.0
    warnings: list[str] = field(default_factory=list)
    merged: MergedMap | None = None


def run_plan(
    plan_path: str | Path,
    scheduler: str = "local:2",
    *,
    slurm: SlurmOptions | None = None,
    restart: bool = False,
    verify: bool = False,
    merge: bool = True,
    cog: bool = False,
    stream: TextIO | None = None,
    quiet: bool = False,
) -> PlanRun:
    """Compute the shards of the plan at `plan_path` that are not committed yet, then merge them.

    scheduler: "local:N" (a LocalCluster of N worker processes on this machine), "tcp://host:port" (a
    running Dask scheduler) or "slurm" (a SLURMCluster from `slurm`). Shards computed for another
    bundle or other options (the plan was written again) raise InputError unless `restart`, which
    computes them again. `verify` compares every committed shard's files with their SHA-256 (otherwise
    only those whose size or time changed). Progress goes to `stream` (stderr) as a bar, unless `quiet`."""
    started = time.monotonic()
    plan = read_plan(plan_path)
    check_bundle(plan)
    states = {shard.index: shard_state(plan, shard, verify=verify) for shard in plan.shards}
    stale = [i for i, state in states.items() if state == "stale"]
    if stale and not restart:
        raise InputError(
            f"{len(stale)} of the {len(plan.shards)} shards in {plan.shards_folder} were computed for another "
            "bundle or other options than the plan's, or were changed since.",
            "Give --restart to discard them and compute them again, or write the plan to a new folder.",
        )
    run = PlanRun(skipped=[i for i, state in states.items() if state == "committed"])
    todo = [i for i, state in states.items() if state != "committed"]
    if todo:
        with _client(scheduler, slurm) as (client, threads, resources):
            _compute(client, plan, todo, threads, resources, run, stream or sys.stderr, quiet)
    if merge:
        run.merged = merge_plan(plan, cog=cog)
    run.seconds = time.monotonic() - started
    return run


def _compute(
    client: Any,
    plan: Plan,
    todo: list[int],
    threads: int | None,
    resources: dict[str, int] | None,
    run: PlanRun,
    stream: TextIO,
    quiet: bool,
) -> None:
    """One task per shard of `todo`; the bar counts shards, km² and km²/min as they complete."""
    from distributed import as_completed

    futures = [
        client.submit(
            compute_shard,
            str(plan.path),
            index,
            threads,
            key=f"flair-shard-{plan.fingerprint[:8]}-{index:05d}",
            pure=False,
            resources=resources,
        )
        for index in todo
    ]
    total_km2 = sum(plan.shard_area_km2(plan.shards[i]) for i in todo)
    if not quiet:
        print(f"{len(todo)} shards to compute ({total_km2:.2f} km²); {_dashboard(client)}", file=stream)
    bar = _bar(len(todo), stream, quiet)
    begun = time.monotonic()
    try:
        for future in as_completed(futures):
            outcome = future.result()
            future.release()
            if "error" in outcome:
                raise _error(outcome)
            (run.computed if outcome["status"] == "computed" else run.skipped).append(outcome["index"])
            run.km2 += outcome["km2"]
            run.warnings += [w for w in outcome["warnings"] if w not in run.warnings]
            minutes = (time.monotonic() - begun) / 60
            if bar is not None:
                bar.set_postfix_str(
                    f"{run.km2:.2f}/{total_km2:.2f} km², {run.km2 / max(minutes, 1e-9):.2f} km²/min"
                )
                bar.update(1)
    finally:
        for future in futures:
            future.cancel()
        if bar is not None:
            bar.close()


def _dashboard(client: Any) -> str:
    """Where Dask's dashboard shows the tasks, or what it needs (bokeh)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return "Dask's dashboard needs bokeh (pip install bokeh)"
    return f"Dask dashboard: {client.dashboard_link}"


def _bar(total: int, stream: TextIO, quiet: bool) -> Any:
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="shard", desc="Shards", file=stream, dynamic_ncols=True)


@contextlib.contextmanager
def _client(
    scheduler: str, slurm: SlurmOptions | None
) -> Iterator[tuple[Any, int | None, dict[str, int] | None]]:
    """A Dask client for `scheduler`, the ONNX Runtime threads each worker should use (None: the
    plan's) and the resources a shard task asks for (None: any worker, one task per thread)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise _missing_dask(exc) from exc
    if scheduler.startswith("local"):
        _, _, count = scheduler.partition(":")
        try:
            workers = int(count or os.cpu_count() or 1)
        except ValueError:
            workers = 0
        if workers < 1:
            raise InputError(f"--scheduler {scheduler}: expected local:N with N >= 1 worker processes")
        threads = max(1, (os.cpu_count() or 1) // workers)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            gpus = visible_gpus()
            if gpus:
                client.register_plugin(_one_gpu_per_worker(gpus), name="flair-one-gpu-per-worker")
            yield client, threads, None
    elif scheduler.startswith(("tcp://", "tls://")):
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InputError(
                f"No Dask scheduler answers at {scheduler}: {exc}",
                "Start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or check the address.",
            ) from exc
        with client:
            yield client, None, None
    elif scheduler == "slurm":
        options = slurm or SlurmOptions()
        with slurm_cluster(options) as cluster, Client(cluster) as client:
            cluster.scale(jobs=options.jobs)
            yield client, None, {SHARD_RESOURCE: 1}
    else:
        raise InputError(f"--scheduler {scheduler}: expected local:N, tcp://HOST:PORT or slurm")


def visible_gpus() -> list[str]:
    """The NVIDIA GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else those nvidia-smi lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listed.stdout.splitlines()) if line.startswith("GPU ")]


def _one_gpu_per_worker(gpus: list[str]) -> Any:
    """A Dask worker plugin that gives LocalCluster worker number i the GPU gpus[i % len(gpus)] (its
    CUDA_VISIBLE_DEVICES, set before the worker creates its ONNX Runtime session; a worker restarted
    after a crash gets it again)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class OneGpuPerWorker(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            try:
                index = int(worker.name)
            except (TypeError, ValueError):
                index = 0
            os.environ["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]

    return OneGpuPerWorker()


def _missing_dask(exc: ImportError) -> InputError:
    return InputError(
        f"Running a plan needs Dask, which is not installed ({exc.name}).",
        "Install it: pip install 'flair-qgis[distributed]' (dask, distributed, dask-jobqueue, tqdm).",
    )


def _error(outcome: dict[str, Any]) -> FlairError:
    from .core import errors

    message, hint = f"Shard {outcome['index']}: {outcome['error']}", outcome.get("hint")
    kind = getattr(errors, outcome.get("kind", ""), FlairError)
    if kind is errors.BundleError:
        return errors.BundleError(message, hint=hint)
    if not (isinstance(kind, type) and issubclass(kind, FlairError)) or kind is errors.Cancelled:
        kind = FlairError
    return kind(message, hint)


# ------------------------------------------------------------------------------- on the worker side

_RUNNERS: dict[tuple[str, str, str, int | None], Runner] = {}
_PLANS: dict[tuple[str, int], Plan] = {}
_LOCK = threading.Lock()


def compute_shard(plan_path: str, index: int, threads: int | None = None) -> dict[str, Any]:
    """The Dask task of one shard, run on a worker: the plan read once per worker, one ONNX Runtime
    session per worker (per bundle and device) reused across its shards. Returns ShardOutcome's
    fields, or the message and hint of a FlairError (which every shard would meet: the run stops)."""
    try:
        plan = _worker_plan(plan_path)
        runner = _worker_runner(plan, threads)
        outcome = run_shard(plan, index, runner, worker=_worker_name())
    except FlairError as exc:
        return {"index": index, "error": exc.message, "hint": exc.hint, "kind": type(exc).__name__}
    return asdict(outcome)


def _worker_plan(path: str) -> Plan:
    key = (path, os.stat(path).st_mtime_ns)
    with _LOCK:
        if key not in _PLANS:
            _PLANS[key] = read_plan(path)
        return _PLANS[key]


def _worker_runner(plan: Plan, threads: int | None) -> Runner:
    threads = plan.options.threads if plan.options.threads is not None else threads
    key = (plan.bundle, plan.bundle_sha256, plan.options.device, threads)
    with _LOCK:
        if key not in _RUNNERS:
            _RUNNERS[key] = create_runner(plan.bundle, plan.options.device, threads)
        return _RUNNERS[key]


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"
    return f"{worker.name} ({worker.address}, pid {os.getpid()})"
