"""Behaviour is unchanged by restructuring: the command line run with the code of a base commit and with
this checkout's code writes, on the same inputs, the same maps pixel for pixel with the same
georeferencing (class raster, confidence, probabilities) and the same statistics.

The base commit's code is taken with `git archive`, so the test needs the repository's history; the base is
the last commit before the engine's modules were split (override with FLAIR_REFACTOR_BASE)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.bundles import make_aerial_bundle
from tests.rasters import ORIGIN, write_raster
from tests.shards_scene import OVERLAP, write_scene

REPO = Path(__file__).resolve().parent.parent
BASE = os.environ.get("FLAIR_REFACTOR_BASE", "8266b6c")


#: A polygon (not a box) over the U-T&T scene, so the area mask is cut across tiles, regions and chunks.
X0, Y0 = ORIGIN
POLYGON = [(X0 + 3, Y0 - 2), (X0 + 125, Y0 - 9), (X0 + 110, Y0 - 100), (X0 + 8, Y0 - 90), (X0 + 3, Y0 - 2)]


def polygon_feature(ring: list[tuple[float, float]]) -> dict:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}
    return {"type": "Feature", "crs": crs, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, check=False)


@pytest.fixture(scope="module")
def base_code(tmp_path_factory) -> Path:
    """The base commit's flair_qgis package, unpacked in a folder to put on PYTHONPATH."""
    if _git("rev-parse", "--verify", "--quiet", f"{BASE}^{{commit}}").returncode != 0:
        pytest.skip(f"the checkout has no git history holding the base commit {BASE} to compare with")
    folder = tmp_path_factory.mktemp("base")
    archive = folder / "base.tar"
    done = _git("archive", "--format=tar", f"--output={archive}", BASE, "flair_qgis")
    assert done.returncode == 0, done.stderr.decode()
    with tarfile.open(archive) as tar:
        tar.extractall(folder)  # the repository's own files
    return folder


def run_cli(code: Path, out: Path, *args: str) -> None:
    """`python -m flair_qgis predict ... --out out` with the package found first in `code`."""
    env = dict(os.environ, PYTHONPATH=str(code), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flair_qgis",
            "predict",
            *args,
            "--out",
            str(out),
            "--quiet",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=out.parent,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, f"{code}: {done.stderr}"


def assert_same_rasters(before: Path, after: Path) -> None:
    with rasterio.open(before) as old, rasterio.open(after) as new:
        assert (new.width, new.height, new.count) == (old.width, old.height, old.count), after.name
        assert new.crs == old.crs and new.transform == old.transform, after.name
        assert new.nodata == old.nodata and new.dtypes == old.dtypes, after.name
        np.testing.assert_array_equal(new.read(), old.read(), err_msg=after.name)


def compare(tmp_path: Path, base_code: Path, *args: str, written: tuple[str, ...]) -> None:
    """Run the CLI with the base code and with this checkout's code; every file `written` (relative
    names next to the map) must be there in both runs and equal."""
    runs = {}
    for name, code in (("before", base_code), ("after", REPO)):
        folder = tmp_path / name
        folder.mkdir()
        run_cli(code, folder / "map.tif", *args)
        runs[name] = folder
    for file in written:
        before, after = runs["before"] / file, runs["after"] / file
        assert before.is_file() and after.is_file(), file
        if file.endswith(".tif"):
            assert_same_rasters(before, after)
        else:
            assert after.read_text(encoding="utf-8") == before.read_text(encoding="utf-8"), file


def test_aerial_only_run_from_composed_bands_is_unchanged(tmp_path: Path, base_code: Path) -> None:
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    make_aerial_bundle(inputs / "unet.onnx", tile_size=32)
    rgb = write_raster(inputs / "rgb.tif", data[:3])
    nir = write_raster(inputs / "nir.tif", data[3])
    dem = write_raster(inputs / "dem.tif", data[4])
    compare(
        tmp_path, base_code,
        "--aerial", f"{rgb}:1,2,3", "--aerial", f"{nir}:1", "--aerial", f"{dem}:1",
        "--model", str(inputs / "unet.onnx"), "--overlap", "8", "--confidence", "--probabilities",
        "--area", f"{X0 + 1.3},{Y0 - 12.1},{X0 + 16.7},{Y0 - 0.5}@EPSG:2154",
        written=("map.tif", "map.confidence.tif", "map.probabilities.tif", "map.stats.csv"),
    )  # fmt: skip


def test_utt_run_with_a_sentinel2_folder_and_a_polygon_area_is_unchanged(
    tmp_path: Path, base_code: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    scene = write_scene(inputs)
    area = inputs / "area.geojson"
    area.write_text(json.dumps(polygon_feature(POLYGON)), encoding="utf-8")
    compare(
        tmp_path, base_code,
        "--aerial", str(scene["aerial"]), "--sentinel2", str(scene["sentinel2"]), "--model", str(scene["bundle"]),
        "--overlap", str(OVERLAP), "--confidence", "--area-file", str(area),
        written=("map.tif", "map.confidence.tif", "map.stats.csv"),
    )  # fmt: skip
