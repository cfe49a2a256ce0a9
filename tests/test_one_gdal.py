"""One GDAL per process (docs/gdal.md). The development environment's rasterio is the distribution's, on
QGIS's GDAL; PyPI's rasterio wheel, which bundles a GDAL of its own, sits apart in the environment
(scripts/setup-env.sh) so that these tests can run it: alone in a process (a second GDAL version making
the same map) and beside QGIS's GDAL (refused by the command line and by `qgis_process`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from flair_qgis.core.gdal_runtime import GdalRuntime, gdal_runtime, mapped_gdal_libraries
from tests.one_gdal import CENTRE, qgis_process_watching_gdal, sentinel2_bundle, utm_product
from tests.qgis_profile import make_profile
from tests.rasters import write_raster

REPO = Path(__file__).resolve().parent.parent
#: PyPI's rasterio wheel (its own GDAL), installed apart by scripts/setup-env.sh.
PYPI_RASTERIO = Path(sys.prefix) / "pypi-rasterio"


def pypi_rasterio() -> Path:
    assert (PYPI_RASTERIO / "rasterio").is_dir(), (
        f"{PYPI_RASTERIO} is missing: the environment predates it; `make env` builds a new one"
    )
    return PYPI_RASTERIO


def python(*args: str, rasterio_first: Path | None = None, cwd: Path | None = None):
    """This environment's Python on the checkout, with another rasterio first on the path if given."""
    paths = ([str(rasterio_first)] if rasterio_first else []) + [str(REPO), str(REPO / "training")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=600
    )


MAPS = """\
55d0c8a00000-55d0c8a01000 r--p 00000000 fd:01 1234 /usr/bin/python3.11
7f10a0000000-7f10a0400000 r-xp 00000000 fd:01 2345 /usr/lib/x86_64-linux-gnu/libgdal.so.32.3.6.2
7f10a0400000-7f10a0500000 r--p 00400000 fd:01 2345 /usr/lib/x86_64-linux-gnu/libgdal.so.32.3.6.2
7f10a1000000-7f10a1100000 r-xp 00000000 fd:01 3456 /usr/lib/x86_64-linux-gnu/gdalplugins/gdal_netCDF.so
7f10a2000000-7f10a2100000 r-xp 00000000 fd:01 4567 /usr/lib/python3/dist-packages/osgeo/_gdal.cpython-311-x86_64-linux-gnu.so
7f10a3000000-7f10a3100000 rw-p 00000000 00:00 0
"""
WHEEL_LINE = (
    "7f10a4000000-7f10a4800000 r-xp 00000000 fd:01 5678 "
    "/venv/lib/python3.11/site-packages/rasterio.libs/libgdal-7ad4e5a4.so.36.3.10.3\n"
)


def test_the_gdal_libraries_of_a_process_are_read_from_its_mappings(tmp_path):
    one = tmp_path / "one"
    one.write_text(MAPS)
    assert mapped_gdal_libraries(one) == ["/usr/lib/x86_64-linux-gnu/libgdal.so.32.3.6.2"]
    two = tmp_path / "two"
    two.write_text(MAPS + WHEEL_LINE)
    assert len(mapped_gdal_libraries(two)) == 2
    assert mapped_gdal_libraries(tmp_path / "absent") is None


def test_a_second_gdal_is_named_with_its_versions_and_places():
    alone = GdalRuntime("3.10.3", "/venv/rasterio", None, ("/venv/rasterio.libs/libgdal-7a.so.36",))
    assert alone.second_gdal() is None
    mixed = GdalRuntime(
        "3.10.3", "/venv/rasterio", "3.6.2", ("/usr/lib/libgdal.so.32", "/venv/libgdal-7a.so")
    )
    assert "2 GDAL libraries loaded" in mixed.second_gdal() and "/venv/rasterio" in mixed.second_gdal()
    elsewhere = GdalRuntime("3.10.3", "/venv/rasterio", "3.8.4", None)  # no /proc: the versions tell
    assert "GDAL 3.10.3" in elsewhere.second_gdal() and "GDAL 3.8.4" in elsewhere.second_gdal()


def test_this_environment_runs_one_gdal():
    from osgeo import gdal

    runtime = gdal_runtime()
    assert runtime.bindings_version == gdal.__version__ == rasterio.__gdal_version__
    assert runtime.libraries is not None and len(runtime.libraries) == 1
    assert runtime.second_gdal() is None


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 5-band aerial image and a UTM Sentinel-2 product under it, and a U-T&T bundle that uses both."""
    folder = tmp_path_factory.mktemp("one-gdal")
    rng = np.random.default_rng(7)
    image = rng.integers(0, 255, (5, 128, 128), dtype=np.uint8)
    aerial = write_raster(folder / "ortho.tif", image, origin=CENTRE)
    bundle = sentinel2_bundle(folder / "utt.onnx")
    return {"folder": folder, "aerial": aerial, "bundle": bundle, "sentinel2": utm_product(folder / "s2")}


def predict_args(scene: dict, out: Path) -> list[str]:
    return ["predict", "--quiet", "--device", "cpu", "--confidence", "--aerial", str(scene["aerial"]),
            "--model", str(scene["bundle"]), "--sentinel2", str(scene["sentinel2"]), "--out", str(out)]  # fmt: skip


WARP = """
import sys
import numpy as np
import rasterio
from flair_qgis.core.sentinel2 import discover
from flair_qgis.core.sentinel2.warp import grid_for_bounds, read_layout
grid = grid_for_bounds("EPSG:2154", (650700.0, 6861700.0, 651300.0, 6862300.0), 10.0, 50.0)
stack = [np.concatenate(read_layout(a.layout, grid)) for a in discover(sys.argv[1]).acquisitions]
np.save(sys.argv[2], np.stack(stack))
print(rasterio.__gdal_version__)
"""


@pytest.mark.slow
def test_another_gdal_version_alone_warps_the_same_series_and_makes_the_same_map(scene):
    """Debian's rasterio (this environment's GDAL) against PyPI's, alone in its process (GDAL 3.10):
    the warped Sentinel-2 pixels and the map are the same to the bit."""
    folder, wheel = scene["folder"], pypi_rasterio()
    versions = []
    for name, first in (("system", None), ("pypi", wheel)):
        warped = python(
            "-c", WARP, str(scene["sentinel2"]), str(folder / f"{name}.npy"), rasterio_first=first
        )
        assert warped.returncode == 0, warped.stderr
        versions.append(warped.stdout.strip())
        done = python("-m", "flair_qgis", *predict_args(scene, folder / f"{name}.tif"), rasterio_first=first)
        assert done.returncode == 0, done.stdout + done.stderr
    assert versions[0] == rasterio.__gdal_version__ and versions[1] != versions[0], versions
    system, pypi = np.load(folder / "system.npy"), np.load(folder / "pypi.npy")
    assert np.isfinite(system).any()
    np.testing.assert_array_equal(pypi, system)
    for suffix in (".tif", ".confidence.tif"):
        with rasterio.open(folder / f"system{suffix}") as a, rasterio.open(folder / f"pypi{suffix}") as b:
            assert (a.transform, a.crs) == (b.transform, b.crs)
            np.testing.assert_array_equal(b.read(), a.read())


MIXED = """
import sys
from osgeo import gdal  # GDAL's Python bindings first, as in QGIS
from flair_qgis.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_command_line_refuses_a_rasterio_with_its_own_gdal_and_writes_nothing(scene):
    out = scene["folder"] / "mixed.tif"
    done = python("-c", MIXED, *predict_args(scene, out), rasterio_first=pypi_rasterio())
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("Error: This process has 2 GDAL libraries loaded"), done.stderr
    assert str(PYPI_RASTERIO.resolve() / "rasterio") in done.stderr
    assert "Hint: Use the rasterio built on this GDAL" in done.stderr and "python3-rasterio" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(scene["folder"].glob("mixed*"))


@pytest.mark.slow
def test_qgis_process_refuses_a_rasterio_with_its_own_gdal(scene, tmp_path):
    """The check that holds `qgis_process` to one GDAL fails when a second is loaded: PyPI's rasterio
    first on QGIS's Python path maps two libgdal files, and the run is refused, nothing written."""
    out = tmp_path / "map.tif"
    arguments = [f"AERIAL={scene['aerial']}", f"BUNDLE={scene['bundle']}", f"SENTINEL2={scene['sentinel2']}"]
    log = tmp_path / "qgis_process.log"
    code, libraries = qgis_process_watching_gdal(
        make_profile(tmp_path / "qgis"),
        ["run", "flair:landcover", "--", *arguments, f"OUTPUT={out}"],
        log,
        first_on_path=pypi_rasterio(),
    )
    assert len(libraries) == 2, libraries
    assert code != 0
    assert "GDAL libraries loaded" in log.read_text() and "python3-rasterio" in log.read_text()
    assert not out.exists()
