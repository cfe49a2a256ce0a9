"""`make demo`'s script runs end to end (scene, real qgis_process, styled map, quick-look) on a small scene
with a small real U-T&T bundle, so the README's command keeps working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio

from tests.bundles import make_utt_bundle

REPO = Path(__file__).resolve().parent.parent


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_the_demo_runs_a_bundle_through_qgis_process_and_renders_the_quicklook(tmp_path: Path) -> None:
    bundle = tmp_path / "utt.onnx"
    make_utt_bundle(bundle, sentinel2_window=16)
    out = tmp_path / "demo"

    completed = run_demo("--out", str(out), "--bundle", str(bundle), "--scene-size", "200", "--dates", "4")

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    classes = out / "results" / "land_cover.tif"
    with rasterio.open(classes) as src:
        values = np.unique(src.read(1))
        assert src.crs.to_epsg() == 2154
        assert (src.width, src.height) == (1000, 1000)  # 200 m at 0.2 m
    assert set(values.tolist()) <= set(range(0, 14)) and values.max() >= 1
    assert classes.with_suffix(".qml").is_file()
    png = out / "results" / "quicklook.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Time per step:" in completed.stdout
    assert "Running flair:landcover through the real qgis_process" in completed.stdout
    assert "pixel agreement" in completed.stdout


def test_a_missing_bundle_stops_the_demo_with_what_to_do(tmp_path: Path) -> None:
    completed = run_demo("--out", str(tmp_path / "demo"), "--bundle", str(tmp_path / "none.onnx"))
    assert completed.returncode != 0
    assert "no model bundle at" in completed.stderr and "none.onnx" in completed.stderr
    assert not (tmp_path / "demo").exists()
