"""`python -m bench.gpu` on a machine without an NVIDIA GPU: it says so and exits 2, without a traceback;
and its bundles are real U-T&T bundles that the engine opens."""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA GPU")
def test_without_a_gpu_it_says_so_and_exits_2(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--workdir", str(tmp_path / "work")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        "bench.gpu: cannot run: no NVIDIA GPU here" in done.stderr and "Nothing was measured" in done.stderr
    )
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "work").exists()  # nothing was written either


def test_its_bundles_are_u_t_and_t_bundles_in_fp32_and_fp16(tmp_path) -> None:
    from bench.gpu import BUNDLES
    from flair_qgis.core.bundle import load_bundle

    for precision, packed in BUNDLES.items():
        path = tmp_path / f"{precision}.onnx"
        path.write_bytes(lzma.decompress(packed.read_bytes()))
        bundle = load_bundle(path)
        assert bundle.spec.precision == precision and bundle.spec.architecture == "utt"
        assert bundle.spec.aerial.tile_size == 512 and bundle.spec.sentinel2.window_size == 40
