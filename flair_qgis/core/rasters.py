"""Georeferenced rasters the engine reads: the RasterSource protocol (a file, or a QGIS layer on the
plugin's side), RasterioSource for files, and read failures in GDAL's own words.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import rasterio
import rasterio.errors
import rasterio.vrt
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from .errors import InputError
from .gdal_runtime import RASTERIO_ERRORS
from .geometry import SNAP_EPS, Bounds, same_crs, transform_from_bounds


@runtime_checkable
class RasterSource(Protocol):
    """A georeferenced raster the engine can read from: a file (RasterioSource) or a QGIS layer.

    Bands are 1-based. `read` must be safe to call from a reader thread other than the one that built
    the source.
    """

    @property
    def name(self) -> str:
        """What to call the source in messages (a path or a layer name)."""
        ...

    @property
    def crs(self) -> str:
        """Coordinate reference system as WKT."""
        ...

    @property
    def transform(self) -> Affine: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def count(self) -> int: ...

    @property
    def dtypes(self) -> tuple[str, ...]:
        """numpy dtype name per band ("uint8", "uint16", "float32"...)."""
        ...

    @property
    def nodata(self) -> tuple[float | None, ...]:
        """Nodata value per band, None where the band has none."""
        ...

    @property
    def descriptions(self) -> tuple[str | None, ...]: ...

    @property
    def value_ranges(self) -> tuple[tuple[float, float] | None, ...]:
        """The range each band declares for its values (e.g. 0..4095 for 12-bit data), or None."""
        ...

    def read(
        self, bands: Sequence[int], crs: str, bounds: Bounds, shape: tuple[int, int], resampling: str
    ) -> np.ma.MaskedArray:
        """Bands resampled onto the grid `shape` (rows, cols) covering `bounds` in `crs`.

        Returns float32 len(bands) x rows x cols, masked where the source has no data (nodata,
        outside its extent). `resampling` is a rasterio Resampling name ("bilinear", "nearest"...).
        """
        ...


class RasterioSource:
    """A raster file read with rasterio: opened lazily, one dataset handle per thread, windowed reads
    only: a plain window when the target grid is the file's own; a resampled fractional window in the
    same CRS; else (another CRS, or a window reaching past the file) a GDAL warp of that window."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list[rasterio.io.DatasetReader] = []
        self._profile: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"RasterioSource('{self.path}')"

    @property
    def name(self) -> str:
        return str(self.path)

    def _dataset(self) -> rasterio.io.DatasetReader:
        dataset = getattr(self._local, "dataset", None)
        if dataset is not None and not dataset.closed:
            return dataset
        if not self.path.exists():
            raise InputError(f"The raster {self.path} does not exist.", "Check the path of the aerial image.")
        if self.path.is_dir():
            raise InputError(f"{self.path} is a folder, not a raster file.")
        try:
            dataset = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                f"{self.path} cannot be read as a raster: {exc}",
                "The file may be corrupt, truncated or not an image; open it in a GIS to check.",
            ) from exc
        with self._lock:
            self._handles.append(dataset)
        self._local.dataset = dataset
        return dataset

    def _meta(self) -> dict[str, Any]:
        if self._profile is None:
            ds = self._dataset()
            if ds.crs is None:
                raise InputError(
                    f"{self.path} has no coordinate reference system.",
                    "Assign its CRS (e.g. with QGIS's 'Assign projection') and try again.",
                )
            ranges = []
            for band in range(1, ds.count + 1):
                nbits = ds.tags(band, ns="IMAGE_STRUCTURE").get("NBITS")
                ranges.append((0.0, float(2 ** int(nbits) - 1)) if nbits and nbits.isdigit() else None)
            self._profile = {
                "crs": ds.crs.to_wkt(),
                "transform": ds.transform,
                "width": ds.width,
                "height": ds.height,
                "count": ds.count,
                "dtypes": tuple(ds.dtypes),
                "nodata": tuple(ds.nodatavals),
                "descriptions": tuple(ds.descriptions),
                "value_ranges": tuple(ranges),
            }
        return self._profile

    @property
    def crs(self) -> str:
        return self._meta()["crs"]

    @property
    def transform(self) -> Affine:
        return self._meta()["transform"]

    @property
    def width(self) -> int:
        return self._meta()["width"]

    @property
    def height(self) -> int:
        return self._meta()["height"]

    @property
    def count(self) -> int:
        return self._meta()["count"]

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self._meta()["dtypes"]

    @property
    def nodata(self) -> tuple[float | None, ...]:
        return self._meta()["nodata"]

    @property
    def descriptions(self) -> tuple[str | None, ...]:
        return self._meta()["descriptions"]

    @property
    def value_ranges(self) -> tuple[tuple[float, float] | None, ...]:
        return self._meta()["value_ranges"]

    def read(
        self,
        bands: Sequence[int],
        crs: str,
        bounds: Bounds,
        shape: tuple[int, int],
        resampling: str = "bilinear",
    ) -> np.ma.MaskedArray:
        """See RasterSource.read: float32 len(bands) x rows x cols, masked where there is no data."""
        ds = self._dataset()
        target = transform_from_bounds(bounds, shape)
        try:
            if same_crs(self.crs, crs):
                offset = _aligned_offset(self.transform, target)
                if offset is not None:
                    return self._read_aligned(ds, list(bands), offset, shape)
                inner = _inner_window(self.transform, bounds, self.width, self.height)
                if inner is not None:
                    return self._read_rescaled(ds, list(bands), inner, shape, resampling)
            return self._read_warped(ds, list(bands), crs, target, shape, resampling)
        except RASTERIO_ERRORS as exc:
            raise self._read_error(ds, exc) from exc

    def _read_error(self, ds: rasterio.io.DatasetReader, exc: BaseException) -> InputError:
        """What went wrong in a read, in GDAL's words (rasterio's own says "See previous exception"):
        a source of a VRT that is missing is named; else the file may be damaged."""
        cause = _gdal_message(exc)
        missing = [name for name in _source_files(ds) if not Path(name).exists()]
        named = re.match(r"(.+): No such file or directory", cause)
        if not missing and named and not Path(named.group(1)).exists():
            missing = [named.group(1)]  # GDAL versions whose file list leaves out missing sources
        if missing:
            names = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            return InputError(
                f"Reading {self.path} failed: it refers to {names}, which "
                f"{'does' if len(missing) == 1 else 'do'} not exist (GDAL: {cause}).",
                f"Put the missing file{'s' if len(missing) > 1 else ''} back where the VRT expects "
                f"{'it' if len(missing) == 1 else 'them'}, or rebuild the VRT (gdalbuildvrt) from the files "
                "you have.",
            )
        return InputError(
            f"Reading {self.path} failed: {cause}",
            "The file, or a file it refers to, may be corrupt or truncated; open it in a GIS to check.",
        )

    def _read_aligned(
        self, ds: rasterio.io.DatasetReader, bands: list[int], offset: tuple[int, int], shape: tuple[int, int]
    ) -> np.ma.MaskedArray:
        """Pixels copied as they are: the target grid is the file's own grid, shifted by `offset`."""
        col, row = offset
        rows, cols = shape
        data = np.zeros((len(bands), rows, cols), np.float32)
        mask = np.ones((len(bands), rows, cols), bool)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + cols, ds.width), min(row + rows, ds.height)
        if c1 > c0 and r1 > r0:
            part = ds.read(bands, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
            inside = (slice(None), slice(r0 - row, r1 - row), slice(c0 - col, c1 - col))
            data[inside] = part.filled(0)
            mask[inside] = np.ma.getmaskarray(part)
        mask |= np.isnan(data)
        return np.ma.MaskedArray(data, mask)

    def _read_rescaled(
        self,
        ds: rasterio.io.DatasetReader,
        bands: list[int],
        window: Window,
        shape: tuple[int, int],
        resampling: str,
    ) -> np.ma.MaskedArray:
        """A fractional window of the file resampled by GDAL's RasterIO onto `shape`: the same values
        as a warp in the same CRS (to 1e-4), ten times faster."""
        out_shape = (len(bands), *shape)
        data = ds.read(
            bands, window=window, out_shape=out_shape, resampling=Resampling[resampling], out_dtype="float32"
        )
        # Nodata is left out of the interpolation; a pixel is invalid where its centre falls on nodata.
        mask = ds.read_masks(bands, window=window, out_shape=out_shape, resampling=Resampling.nearest) == 0
        mask |= np.isnan(data)
        data[mask] = 0
        return np.ma.MaskedArray(data, mask)

    def _read_warped(
        self,
        ds: rasterio.io.DatasetReader,
        bands: list[int],
        crs: str,
        target: Affine,
        shape: tuple[int, int],
        resampling: str,
    ) -> np.ma.MaskedArray:
        """Pixels warped by GDAL onto the target grid; GDAL reads only the part of the file it needs."""
        with rasterio.vrt.WarpedVRT(
            ds,
            crs=CRS.from_user_input(crs),
            transform=target,
            width=shape[1],
            height=shape[0],
            resampling=Resampling[resampling],
            src_nodata=ds.nodatavals[bands[0] - 1],
            nodata=np.nan,
            dtype="float32",
        ) as vrt:
            data = vrt.read(bands, masked=True)
        mask = np.ma.getmaskarray(data) | np.isnan(np.ma.getdata(data))
        return np.ma.MaskedArray(np.where(mask, 0, np.ma.getdata(data)).astype(np.float32), mask)

    def close(self) -> None:
        """Close every handle opened by any thread."""
        with self._lock:
            for dataset in self._handles:
                dataset.close()
            self._handles.clear()
        self._local = threading.local()

    def __enter__(self) -> RasterioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _source_files(ds: rasterio.io.DatasetReader) -> list[str]:
    """The plain files a dataset reads besides its own (a VRT's sources), as GDAL resolved them."""
    try:
        files = list(ds.files)
    except RASTERIO_ERRORS:
        return []
    own = Path(ds.name)
    return [f for f in files[1:] if not f.startswith("/vsi") and Path(f) != own]


def _gdal_message(exc: BaseException) -> str:
    """GDAL's own text for a failure: the first error in `exc`'s chain that is not rasterio's
    "See previous exception" wrapper, without the "Read or write failed." rasterio 1.3 puts before it."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        text = str(current)
        if text and "See previous exception" not in text:
            return text.removeprefix("Read or write failed. ")
        current = current.__cause__ or current.__context__
        seen += 1
    return str(exc)


def _aligned_offset(source: Affine, target: Affine) -> tuple[int, int] | None:
    """(col, row) of the target's top-left pixel in the source grid if both grids share their pixels."""
    if source.b or source.d or target.b or target.d:
        return None
    if not (
        math.isclose(source.a, target.a, rel_tol=1e-9) and math.isclose(source.e, target.e, rel_tol=1e-9)
    ):
        return None
    col = (target.c - source.c) / source.a
    row = (target.f - source.f) / source.e
    if abs(col - round(col)) > SNAP_EPS or abs(row - round(row)) > SNAP_EPS:
        return None
    return round(col), round(row)


def _inner_window(source: Affine, bounds: Bounds, width: int, height: int) -> Window | None:
    """`bounds` as a fractional window of a north-up source grid, if it lies inside the grid."""
    if source.b or source.d or source.a <= 0 or source.e >= 0:
        return None
    col0 = (bounds[0] - source.c) / source.a
    col1 = (bounds[2] - source.c) / source.a
    row0 = (bounds[3] - source.f) / source.e
    row1 = (bounds[1] - source.f) / source.e
    if col0 < -SNAP_EPS or row0 < -SNAP_EPS or col1 > width + SNAP_EPS or row1 > height + SNAP_EPS:
        return None
    return Window(
        max(col0, 0.0), max(row0, 0.0), min(col1, width) - max(col0, 0.0), min(row1, height) - max(row0, 0.0)
    )
