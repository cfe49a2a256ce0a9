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


@pytest.fixture
def quick_utt():
    """The quick preset's U-T&T at 32 px tiles (random weights, seed 0) and its bundle description."""
    from flair_training.config import aerial_spec, load_config, sentinel2_spec
    from flair_training.export import bundle_spec
    from flair_training.lightning_module import build_model

    config = load_config("quick", ["data.tile_size=32"])
    torch.manual_seed(0)
    return build_model(config).eval(), bundle_spec(aerial_spec(config), sentinel2_spec(config))
