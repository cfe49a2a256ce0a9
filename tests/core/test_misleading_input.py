"""Valid but misleading input, run for real through `python -m flair_qgis predict`: each case gives a
warning on stdout and in the run's statistics file, or a clear error when nothing can be mapped."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp

from flair_qgis.core.aerial import ground_scale
from tests.bundles import make_aerial_bundle
from tests.core.test_cli import python_m
from tests.core.test_predict import expected_classes
from tests.rasters import grid_transform, write_raster


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


# --- ground pixel size with the projection's scale factor ----------------------------------------------

PARIS = (2.35, 48.85)  # lon, lat


def projected(lonlat: tuple[float, float], crs: str) -> tuple[float, float]:
    xs, ys = rasterio.warp.transform("EPSG:4326", crs, [lonlat[0]], [lonlat[1]])
    return round(xs[0]), round(ys[0])


@pytest.mark.parametrize(
    ("crs", "lonlat", "expected", "tolerance"),
    [
        ("EPSG:32631", (3.0, 45.0), 0.9996, 1e-7),  # UTM's central meridian: its k0
        ("EPSG:2154", (3.0, 46.5), 0.99905, 1e-5),  # Lambert-93's central parallel: -1 m per km
        ("EPSG:3857", PARIS, 1 / math.cos(math.radians(PARIS[1])), 3e-3),  # the sphere's 1 / cos(lat)
    ],
)
def test_ground_scale_matches_the_projections_known_factors(crs, lonlat, expected, tolerance) -> None:
    assert ground_scale(crs, *projected(lonlat, crs)) == pytest.approx(expected, abs=tolerance)


def ground_area_m2(bounds: tuple[float, float, float, float], crs: str) -> float:
    """Area of a box of `crs` measured in Lambert-93 (whose scale in Paris is 0.99989)."""
    xmin, ymin, xmax, ymax = bounds
    ring = [[xmin + (xmax - xmin) * k / 50, ymin] for k in range(50)]
    ring += [[xmax, ymin + (ymax - ymin) * k / 50] for k in range(50)]
    ring += [[xmax - (xmax - xmin) * k / 50, ymax] for k in range(50)]
    ring += [[xmin, ymax - (ymax - ymin) * k / 50] for k in range(50)]
    xs, ys = rasterio.warp.transform(crs, "EPSG:2154", [p[0] for p in ring], [p[1] for p in ring])
    return abs(sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(xs)))) / 2


def test_web_mercator_over_france_maps_ground_pixels_and_ground_hectares(tmp_path: Path, bundle) -> None:
    x, y = projected(PARIS, "EPSG:3857")
    data = np.random.default_rng(3).integers(0, 256, (5, 80, 100), dtype=np.uint8)
    aerial = write_raster(tmp_path / "mercator.tif", data, crs="EPSG:3857", resolution=0.3, origin=(x, y))
    done = run_cli(tmp_path, aerial, bundle)
    assert done.returncode == 0, done.stderr

    with rasterio.open(tmp_path / "map.tif") as written:
        bounds, shape, classes = written.bounds, written.shape, written.read(1)
    # Lambert-93 measures the ground to 0.02 % in Paris: the model saw 0.2 m pixels there (EPSG:3857
    # stretches east-west and north-south distances 0.3 % apart: their mean is the gsd).
    xs, ys = rasterio.warp.transform(
        "EPSG:3857",
        "EPSG:2154",
        [bounds.left, bounds.right, bounds.left],
        [bounds.top, bounds.top, bounds.bottom],
    )
    across = math.hypot(xs[1] - xs[0], ys[1] - ys[0]) / shape[1]
    down = math.hypot(xs[2] - xs[0], ys[2] - ys[0]) / shape[0]
    assert across == pytest.approx(0.2, rel=3e-3) and down == pytest.approx(0.2, rel=3e-3)
    assert math.sqrt(across * down) == pytest.approx(0.2, rel=3e-4)

    document = statistics(tmp_path)
    assert document["classified_pixels"] == classes.size  # every pixel has data
    assert document["classified_hectares"] == pytest.approx(
        ground_area_m2(bounds, "EPSG:3857") / 1e4, rel=1e-3
    )
    assert document["pixel_area_m2"] == pytest.approx(0.04, rel=1e-3)
    warnings = printed_warnings(done.stdout)
    assert any(w.startswith("EPSG:3857 stretches ground distances by 1.52 here") for w in warnings), warnings
    assert document["warnings"] == warnings


@pytest.mark.parametrize(
    ("crs", "lonlat"),
    [("EPSG:2154", (9.2, 41.5)), ("EPSG:2154", (2.5, 51.0)), ("EPSG:32631", (6.0, 45.0))],
    ids=["lambert93-corsica", "lambert93-dunkirk", "utm31-zone-edge"],
)
def test_lambert93_and_utm_maps_do_not_change_where_their_scale_is_furthest_from_1(
    tmp_path: Path, bundle, crs: str, lonlat: tuple[float, float]
) -> None:
    origin = projected(lonlat, crs)
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    aerial = write_raster(tmp_path / "ortho.tif", data, crs=crs, origin=origin)
    done = run_cli(tmp_path, aerial, bundle)
    assert done.returncode == 0, done.stderr
    with rasterio.open(tmp_path / "map.tif") as written:
        assert written.transform == grid_transform(0.2, origin)
        np.testing.assert_array_equal(written.read(1), expected_classes(data))
    document = statistics(tmp_path)
    assert document["pixel_area_m2"] == 0.2 * 0.2 * 1.0  # the CRS's own area, as before
    assert document["warnings"] == []
