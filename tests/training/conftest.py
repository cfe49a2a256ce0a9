"""Fixtures of the training tests: a small synthetic FLAIR #2 dataset written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flair_training.synth import write_dataset


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 patches of 32 px (train domains D001..D005, test zones apart), 16 px Sentinel-2 windows."""
    root = tmp_path_factory.mktemp("flair2")
    write_dataset(root, patches=80, size=32, window=16, dates=20, seed=0)
    return root


@pytest.fixture
def one_thread():
    """torch on one thread: two threads spinning against each other cost far more on a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
