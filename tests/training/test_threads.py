"""`flair-train` sets OpenMP's passive waiting before torch loads it and sizes torch's threads to the cores
the process may run on, leaving the user's own settings alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = (
    "import os\n"
    "import flair_training.cli\n"
    "import torch\n"
    "from flair_training.threads import set_torch_threads\n"
    "{affinity}"
    "print(os.environ.get('OMP_WAIT_POLICY'), set_torch_threads())\n"
)


def run_check(affinity: str = "", **env: str) -> list[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    completed = subprocess.run(
        [sys.executable, "-c", CHECK.format(affinity=affinity)],
        capture_output=True,
        text=True,
        env={**environment, **env},
        check=True,
    )
    return completed.stdout.split()


def test_flair_train_waits_passively_and_uses_the_available_cores() -> None:
    policy, threads = run_check()
    assert policy == "PASSIVE"
    assert int(threads) == len(os.sched_getaffinity(0))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")
def test_torch_threads_follow_the_affinity_mask() -> None:
    first = min(os.sched_getaffinity(0))
    _, threads = run_check(affinity=f"os.sched_setaffinity(0, {{{first}}})\n")
    assert threads == "1"


def test_the_users_settings_win() -> None:
    policy, threads = run_check(OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1")
    assert (policy, threads) == ("ACTIVE", "1")
