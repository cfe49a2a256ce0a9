"""Sentinel-2 inputs that are valid but misleading reach the user as warnings of the run, printed by the
command line (`python -m flair_qgis predict` in a child process) and pushed to the log of the real
`qgis_process`: products the catalog skipped and an all-cloudy series. Real SAFE products and zips, a real
ONNX bundle run by ONNX Runtime."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from flair_qgis.core.sentinel2 import BANDS, discover
from flair_qgis.core.sentinel2.catalog import SKIPPED_WARNINGS
from tests.bundles import make_utt_bundle
from tests.data.sentinel2.generate import write_safe_l1c_product, write_safe_product
from tests.qgis_profile import make_profile, run_qgis_process
from tests.rasters import write_raster

REPO = Path(__file__).resolve().parents[2]
UTM = "EPSG:32631"
#: A 1.2 km square of tile 31TCJ (UTM zone 31N); the 12.8 m aerial below lies inside it in Lambert-93.
PRODUCT = (360000.0, 4830000.0, 361200.0, 4831200.0)
AERIAL_ORIGIN = (560400.0, 6281200.0)


def constant(level: float):
    return lambda band, x, y: np.full(x.shape, level + 10 * BANDS.index(band))


def cloudy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.full(x.shape, 90)


def predict_cli(folder: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    command = [
        sys.executable, "-m", "flair_qgis", "predict", "--aerial", "ortho.tif", "--sentinel2", str(folder),
        "--model", "utt.onnx", "--out", "map.tif", "--quiet",
    ]  # fmt: skip
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    data = np.random.default_rng(5).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    write_raster(tmp_path / "ortho.tif", data, origin=AERIAL_ORIGIN)
    make_utt_bundle(tmp_path / "utt.onnx", tile_size=32, sentinel2_window=8)
    return tmp_path


def test_skipped_products_are_warnings_the_command_line_prints(scene: Path) -> None:
    folder = scene / "s2"
    write_safe_product(folder, "20210410", "31TCJ", UTM, PRODUCT, constant(1000))
    write_safe_product(folder, "20210612", "31TCJ", UTM, PRODUCT, constant(1200), zipped=True)
    l1c = write_safe_l1c_product(folder, "20210510", "31TCJ", UTM, PRODUCT, constant(1100), zipped=True)
    corrupt = folder / "S2B_MSIL2A_20210702T105331_N0500_R051_T31TCJ_20230523T123456.zip"
    corrupt.write_bytes(b"PK\x03\x04 cut short by the browser")

    done = predict_cli(folder, scene)

    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stdout.splitlines() if line.startswith("Warning: Sentinel-2: skipped")]
    assert len(warnings) == 2, done.stdout
    [l1c_line] = [w for w in warnings if l1c.name in w]
    assert "Level-1C" in l1c_line and "Level-2A" in l1c_line
    [corrupt_line] = [w for w in warnings if corrupt.name in w]
    assert "corrupt or truncated zip" in corrupt_line
    with rasterio.open(scene / "map.tif") as src:
        assert (src.read(1) > 0).all()  # the two valid products were used: the map is whole


def test_many_skipped_items_are_named_up_to_a_limit_then_counted(tmp_path: Path) -> None:
    write_safe_product(tmp_path, "20210410", "31TCJ", UTM, PRODUCT, constant(1000))
    for index in range(SKIPPED_WARNINGS + 3):
        with zipfile.ZipFile(tmp_path / f"download_{index}.zip", "w") as archive:
            archive.writestr("readme.txt", "not a product")
    catalog = discover(tmp_path)
    warnings = catalog.skipped_warnings()
    assert len(catalog.skipped) == SKIPPED_WARNINGS + 3
    assert len(warnings) == SKIPPED_WARNINGS + 1
    assert all(w.startswith("Sentinel-2: skipped download_") for w in warnings[:-1])
    assert warnings[-1].startswith("Sentinel-2: 3 more items of ") and "download_5.zip" in warnings[-1]


def test_an_all_cloudy_series_is_a_warning_and_the_map_is_made(scene: Path) -> None:
    """What the README's troubleshooting promises: a warning, exit 0, a map."""
    folder = scene / "s2"
    write_safe_product(folder, "20210410", "31TCJ", UTM, PRODUCT, constant(1000), cloud_fn=cloudy)
    write_safe_product(
        folder, "20210612", "31TCJ", UTM, PRODUCT, constant(1200), cloud_fn=cloudy, zipped=True
    )

    done = predict_cli(folder, scene)

    assert done.returncode == 0, done.stderr
    assert re.search(r"^Warning: (\d+) of \1 tiles had only cloudy Sentinel-2 dates", done.stdout, re.M), (
        done.stdout
    )
    assert (scene / "map.tif").is_file()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "tiles had only cloudy Sentinel-2 dates" in readme and "every date cloudy" not in readme


@pytest.mark.slow
def test_skipped_products_are_pushed_to_the_processing_log_by_the_real_qgis_process(scene: Path) -> None:
    folder = scene / "s2"
    write_safe_product(folder, "20210410", "31TCJ", UTM, PRODUCT, constant(1000))
    l1c = write_safe_l1c_product(folder, "20210510", "31TCJ", UTM, PRODUCT, constant(1100), zipped=True)
    profiles = make_profile(scene / "qgis")

    done = run_qgis_process(
        profiles,
        *("run", "flair:landcover", "--", f"AERIAL={scene / 'ortho.tif'}", f"BUNDLE={scene / 'utt.onnx'}"),
        *(f"SENTINEL2={folder}", "DEVICE=2", f"OUTPUT={scene / 'out.tif'}"),
        timeout=180,
    )

    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert re.search(rf"Sentinel-2: skipped {re.escape(l1c.name)}: Level-1C", log), log[-3000:]
