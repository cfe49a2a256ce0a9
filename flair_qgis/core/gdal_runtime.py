"""One GDAL per process: the engine refuses to run when rasterio's GDAL is not the GDAL the rest of the
process (QGIS, GDAL's Python bindings) runs on.

The engine reads and writes rasters with rasterio and the review tools with GDAL's Python bindings
(`osgeo`), which every QGIS ships. Both must sit on one libgdal. PyPI's rasterio wheels bundle a GDAL of
their own; loaded into a process that already holds another one (QGIS's, or osgeo's), their compiled
modules bind partly to the other library on Linux, and the maps come out wrong: coordinate operations
fail, resampled Sentinel-2 pixels differ, runs slow down many times. The design this enforces, and why, is
in docs/gdal.md: inside QGIS, rasterio is the one built on QGIS's GDAL (the distribution's package).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import rasterio
import rasterio.errors
from rasterio._err import CPLE_BaseError

from .errors import SetupError

#: What rasterio raises when GDAL fails: in rasterio 1.3 (Debian 12's) RasterioIOError is an OSError and
#: not a RasterioError, in 1.4 it is both; GDAL's own errors come through as CPLE_BaseError.
RASTERIO_ERRORS = (rasterio.errors.RasterioError, rasterio.errors.RasterioIOError, CPLE_BaseError)

#: Shared-library names of GDAL: libgdal.so.32 (Debian), libgdal-7ad4e5a4.so.36.3.10.3 (a wheel's bundled
#: copy), libgdal.36.dylib (macOS), gdal310.dll / gdal-abc123.dll (Windows). GDAL's driver plugins
#: (gdal_netCDF.so) are not libraries of their own.
_LIBRARY_NAME = re.compile(r"^(lib)?gdal(?![_a-z])[^/\\]*?\.(so|dylib|dll)([.\d]*)$", re.IGNORECASE)


def mapped_gdal_libraries(maps: Path = Path("/proc/self/maps")) -> list[str] | None:
    """The GDAL library files mapped into this process (Linux's /proc/self/maps), each once; None where
    the process's mappings cannot be read (another system)."""
    try:
        text = maps.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = set()
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and _LIBRARY_NAME.match(os.path.basename(fields[5].strip())):
            found.add(os.path.realpath(fields[5].strip()))
    return sorted(found)


@dataclass(frozen=True)
class GdalRuntime:
    """The GDALs this process runs: rasterio's, the Python bindings' (None when `osgeo` is not loaded
    and QGIS is not running), and the library files mapped (None where unknown)."""

    rasterio_version: str
    rasterio_location: str
    bindings_version: str | None
    libraries: tuple[str, ...] | None

    def second_gdal(self) -> str | None:
        """What is wrong when the process holds two GDALs, as a sentence; None when it holds one."""
        if self.libraries is not None and len(self.libraries) > 1:
            return (
                f"This process has {len(self.libraries)} GDAL libraries loaded "
                f"({', '.join(self.libraries)}): rasterio (GDAL {self.rasterio_version}, in "
                f"{self.rasterio_location}) brings its own instead of using the one QGIS and GDAL's Python "
                "bindings run on. Mixed in one process they make wrong maps."
            )
        if self.bindings_version is not None and self.bindings_version != self.rasterio_version:
            return (
                f"rasterio runs on GDAL {self.rasterio_version} (in {self.rasterio_location}) but QGIS and "
                f"GDAL's Python bindings run on GDAL {self.bindings_version}: two GDALs in one process make "
                "wrong maps."
            )
        return None


#: What to do about a second GDAL, whichever front end shows it.
SECOND_GDAL_HINT = (
    "Use the rasterio built on this GDAL and remove the other copy. In QGIS on Debian or Ubuntu: "
    "sudo apt install python3-rasterio, then remove the rasterio named above (python3 -m pip uninstall "
    "rasterio, or delete its folder); on Fedora: sudo dnf install python3-rasterio; with conda or OSGeo4W, "
    "their own rasterio package. Outside QGIS, take rasterio and GDAL's Python bindings from one source "
    "(the distribution's packages, or conda-forge), or leave GDAL's bindings out of the environment."
)


def gdal_environment() -> rasterio.Env:
    """The rasterio environment a command-line run works in: GDAL's messages go to Python's logging (in
    QGIS they go to its log) instead of straight to the terminal, and GDAL's own defaults stay (rasterio's
    environment would turn CHECK_WITH_INVERT_PROJ on and GTIFF_IMPLICIT_JPEG_OVR off), so that the command
    line reads and warps as QGIS does."""
    return rasterio.Env(CHECK_WITH_INVERT_PROJ=False, GTIFF_IMPLICIT_JPEG_OVR=True)


def gdal_runtime() -> GdalRuntime:
    """The GDALs of this process, as it is now (rasterio is imported; `osgeo` only when it is already
    loaded or QGIS runs, so that asking never loads a second GDAL)."""
    import rasterio

    bindings = None
    if "osgeo" in sys.modules or "qgis.core" in sys.modules:
        try:
            from osgeo import gdal

            bindings = gdal.__version__
        except ImportError:
            bindings = None
    libraries = mapped_gdal_libraries()
    return GdalRuntime(
        rasterio_version=rasterio.__gdal_version__,
        rasterio_location=str(Path(rasterio.__file__).resolve().parent),
        bindings_version=bindings,
        libraries=None if libraries is None else tuple(libraries),
    )


def require_one_gdal() -> None:
    """Raise SetupError, saying what to do, when this process holds two GDALs."""
    problem = gdal_runtime().second_gdal()
    if problem is not None:
        raise SetupError(problem, hint=SECOND_GDAL_HINT)
