"""Multi-process training as on a cluster, on this machine's CPU: `flair-train fit` with Lightning's DDP on
2 processes (gloo) takes a few steps; both ranks end with the same weights and the checkpoint loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flair_training.lightning_module import SegmentationTask

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("ddp_run.py")


def test_ddp_on_two_cpu_processes_keeps_the_ranks_in_step(synthetic_root, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29531"}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), str(synthetic_root), str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "distributed_backend=gloo" in completed.stderr + completed.stdout
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    checkpoint = Path((tmp_path / "best.txt").read_text())
    task = SegmentationTask.load_from_checkpoint(checkpoint, map_location="cpu")
    weights = {k: v for k, v in task.state_dict().items()}
    assert all(torch.equal(weights[name], ranks[0][name]) for name in weights)
