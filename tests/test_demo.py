"""`make demo`'s script runs end to end (scene, real qgis_process, styled map, quick-look, review polygons and
zones, review picture) on a small scene with a small real U-T&T bundle, so the README's command keeps
working and what it shows is there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from osgeo import ogr

from tests.bundles import make_utt_bundle

REPO = Path(__file__).resolve().parent.parent
MMU_M2 = 100.0  # the demo's minimum mapping unit


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=420,
        check=False,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """One demo run on a 200 m scene with 4 Sentinel-2 dates: its process and its output folder."""
    folder = tmp_path_factory.mktemp("demo")
    bundle = folder / "utt.onnx"
    make_utt_bundle(bundle, sentinel2_window=16)
    out = folder / "demo"
    completed = run_demo("--out", str(out), "--bundle", str(bundle), "--scene-size", "200", "--dates", "4")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed, out


def layer_rows(path: Path, layer_name: str) -> list[dict]:
    """Every feature of a GeoPackage layer as its fields plus `_area` (the geometry's area)."""
    dataset = ogr.Open(str(path))
    assert dataset is not None, f"OGR cannot open {path}"
    layer = dataset.GetLayerByName(layer_name)
    assert layer is not None, f"{path} has no layer {layer_name}"
    return [{**feature.items(), "_area": feature.GetGeometryRef().GetArea()} for feature in layer]


def test_the_demo_runs_a_bundle_through_qgis_process_and_renders_the_quicklook(demo) -> None:
    completed, out = demo
    classes = out / "results" / "land_cover.tif"
    with rasterio.open(classes) as src:
        values = np.unique(src.read(1))
        assert src.crs.to_epsg() == 2154
        assert (src.width, src.height) == (1000, 1000)  # 200 m at 0.2 m
    assert set(values.tolist()) <= set(range(0, 14)) and values.max() >= 1
    assert classes.with_suffix(".qml").is_file()
    png = out / "results" / "quicklook.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Time per step" in completed.stdout and "at the start" in completed.stdout  # load average
    assert "Running flair:landcover through the real qgis_process" in completed.stdout
    assert "pixel agreement" in completed.stdout


def test_the_demo_writes_the_land_cover_polygons_with_their_mean_confidence(demo) -> None:
    completed, out = demo
    path = out / "results" / "land_cover.polygons.gpkg"
    rows = layer_rows(path, "land_cover")
    assert rows
    assert {row["code"] for row in rows} <= set(range(1, 14))
    assert all(row["class_en"] and 0.0 <= row["mean_confidence"] <= 1.0 for row in rows)
    assert sum(row["_area"] for row in rows) == pytest.approx(200.0 * 200.0, rel=0.01)  # they cover the map
    assert f"{len(rows)} polygons" in completed.stdout
    assert str(path) in completed.stdout


def test_the_demo_polygons_are_no_smaller_than_the_minimum_mapping_unit(demo) -> None:
    _, out = demo
    rows = layer_rows(out / "results" / "land_cover.polygons.gpkg", "land_cover")
    small = [row["area_m2"] for row in rows if row["area_m2"] < MMU_M2]
    assert not small, f"{len(small)} of {len(rows)} polygons are under {MMU_M2:g} m²"


def test_the_demo_writes_the_zones_to_review_ranked_and_to_review(demo) -> None:
    completed, out = demo
    path = out / "results" / "land_cover.review.gpkg"
    rows = layer_rows(path, "review_zones")
    assert rows  # the small bundle's map is unsure: its confidence is under 0.5 somewhere
    assert sorted(row["rank"] for row in rows) == list(range(1, len(rows) + 1))
    assert {row["status"] for row in rows} == {"to review"}
    assert all(row["area_m2"] >= 50.0 and row["mean_confidence"] < 0.5 for row in rows)
    area = sum(row["area_m2"] for row in rows)
    assert f"{len(rows)} zones to review, {area:.0f} m²" in completed.stdout
    assert str(path) in completed.stdout


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # a PNG has no georeference
def test_the_demo_renders_the_review_picture_with_the_zones_outlined(demo) -> None:
    completed, out = demo
    png = out / "results" / "review.png"
    with rasterio.open(png) as src:
        pixels = src.read([1, 2, 3]).reshape(3, -1).T
    assert len(np.unique(pixels, axis=0)) > 100  # the aerial image and the polygons, not a blank page
    zone_outline = np.all(np.abs(pixels.astype(int) - (0xFF, 0x7F, 0x00)) <= 8, axis=1)
    assert zone_outline.sum() > 1000  # the orange outline of the zones to review and its legend swatch
    assert str(png) in completed.stdout


def test_a_missing_bundle_stops_the_demo_with_what_to_do(tmp_path: Path) -> None:
    completed = run_demo("--out", str(tmp_path / "demo"), "--bundle", str(tmp_path / "none.onnx"))
    assert completed.returncode != 0
    assert "no model bundle at" in completed.stderr and "none.onnx" in completed.stderr
    assert not (tmp_path / "demo").exists()
