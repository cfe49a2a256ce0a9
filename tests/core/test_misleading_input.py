"""Valid but misleading input, run for real through `python -m flair_qgis predict`: each case gives a
warning on stdout and in the run's statistics file, or a clear error when nothing can be mapped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.bundles import make_aerial_bundle
from tests.core.test_cli import python_m
from tests.rasters import write_raster


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    make_aerial_bundle(tmp_path / "unet.onnx", tile_size=32)
    return tmp_path / "unet.onnx"


def ortho(tmp_path: Path, name: str = "ortho.tif", **options) -> Path:
    """A 5-band 8-bit ortho of 90 x 70 px at 0.2 m in Lambert-93, random values over the whole range."""
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    return write_raster(tmp_path / name, data, **options)


def run_cli(tmp_path: Path, aerial: Path, bundle: Path, *extra: str, out: str = "map.tif"):
    return python_m(
        "predict", "--aerial", str(aerial), "--model", str(bundle), "--out", out, "--quiet", *extra,
        cwd=tmp_path,
    )  # fmt: skip


def printed_warnings(stdout: str) -> list[str]:
    return [line.removeprefix("Warning: ") for line in stdout.splitlines() if line.startswith("Warning: ")]


def statistics(tmp_path: Path, out: str = "map.tif") -> dict:
    return json.loads((tmp_path / out).with_suffix(".stats.json").read_text(encoding="utf-8"))


# --- the statistics file holds the run's warnings ------------------------------------------------------


def test_the_statistics_file_lists_the_warnings_the_cli_prints_in_their_order(tmp_path: Path, bundle) -> None:
    aerial = ortho(tmp_path)
    (tmp_path / "s2").mkdir()
    done = run_cli(tmp_path, aerial, bundle, "--sentinel2", "s2")
    assert done.returncode == 0, done.stderr
    warnings = printed_warnings(done.stdout)
    assert warnings == ["The model is aerial-only: the Sentinel-2 folder is not used."]
    assert statistics(tmp_path)["warnings"] == warnings


def test_a_run_without_warnings_has_an_empty_list(tmp_path: Path, bundle) -> None:
    done = run_cli(tmp_path, ortho(tmp_path), bundle)
    assert done.returncode == 0, done.stderr
    assert printed_warnings(done.stdout) == []
    assert statistics(tmp_path)["warnings"] == []


def test_several_warnings_keep_the_order_they_were_found_in(tmp_path: Path, bundle) -> None:
    coarse = ortho(tmp_path, resolution=0.25)
    (tmp_path / "s2").mkdir()
    done = run_cli(tmp_path, coarse, bundle, "--sentinel2", "s2")
    assert done.returncode == 0, done.stderr
    warnings = printed_warnings(done.stdout)
    assert len(warnings) == 2
    assert "resampled to the model's 0.2 m" in warnings[0] and "aerial-only" in warnings[1]
    assert statistics(tmp_path)["warnings"] == warnings
