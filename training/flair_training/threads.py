"""CPU threads for training on a machine that does other work: OpenMP threads that sleep while they
wait instead of spinning, and torch's threads sized to the cores this process may run on.

`prepare_openmp()` must run before torch is first imported (OpenMP reads its settings once, when torch
loads it): the `flair-train` entry point calls it first thing. `set_torch_threads()` runs when training
starts; a user's own OMP_WAIT_POLICY, OMP_NUM_THREADS or `trainer.threads` always wins.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, e.g. under taskset or a container's
    cpuset), which can be fewer than the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask to read
        return max(1, os.cpu_count() or 1)


def prepare_openmp() -> None:
    """Passive OpenMP waiting unless the user chose otherwise: an idle worker thread sleeps on a futex
    instead of spinning for its next parallel region, so it leaves the core to the thread (of this
    process or another) that has work; on an idle machine the cost is a wake-up per region."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def set_torch_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to `requested`, else to OMP_NUM_THREADS when the user set it, else
    to the cores available to this process; return the number set."""
    import torch

    if requested:
        threads = int(requested)
    elif os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    else:
        threads = available_cores()
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()
