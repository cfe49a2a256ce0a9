"""Aerial imagery in: the bundle's bands composed from one or several rasters on one grid at the
bundle's resolution and value range, and the area of interest that decides which pixels are mapped.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.vrt
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from .bundle_spec import AerialInput
from .errors import InputError
from .gdal_runtime import RASTERIO_ERRORS
from .geodesy import SCALE_TOLERANCE, scale_from_segments

log = logging.getLogger(__name__)

#: (xmin, ymin, xmax, ymax) in some CRS's units.
Bounds = tuple[float, float, float, float]

#: Tolerance, in pixels, under which a coordinate counts as lying on a pixel edge.
_SNAP_EPS = 1e-6


@dataclass(frozen=True)
class OutputGrid:
    """A north-up pixel grid: the map's CRS (WKT), the transform of its top-left pixel, its size, and
    `scale`, how much the CRS stretches ground distances at the map's centre (1 when within
    SCALE_TOLERANCE of 1)."""

    crs: str
    transform: Affine
    width: int
    height: int
    scale: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def resolution(self) -> float:
        """Pixel size in CRS units."""
        return abs(self.transform.a)

    @property
    def bounds(self) -> Bounds:
        return window_bounds(self.transform, self.window)

    @property
    def window(self) -> Window:
        """The whole grid as a window."""
        return Window(0, 0, self.width, self.height)

    @property
    def pixel_area_m2(self) -> float:
        """Ground area of one pixel in square metres (the CRS's area divided by the scale squared)."""
        factor = _metres_per_unit(self.crs) / self.scale
        return abs(self.transform.a * self.transform.e - self.transform.b * self.transform.d) * factor**2

    def window_transform(self, window: Window) -> Affine:
        return window_transform(self.transform, window)

    def window_bounds(self, window: Window) -> Bounds:
        return window_bounds(self.transform, window)


# Transform arithmetic is written out on the coefficients: it must not depend on Affine's operators,
# which some affine/attrs pairs found in QGIS installations cannot run.


def window_transform(transform: Affine, window: Window) -> Affine:
    """The transform of `window`'s top-left pixel."""
    col, row = window.col_off, window.row_off
    t = transform
    return Affine(t.a, t.b, t.c + t.a * col + t.b * row, t.d, t.e, t.f + t.d * col + t.e * row)


def window_bounds(transform: Affine, window: Window) -> Bounds:
    """(xmin, ymin, xmax, ymax) of `window` on a north-up grid."""
    x0 = transform.c + transform.a * window.col_off
    y0 = transform.f + transform.e * window.row_off
    x1 = x0 + transform.a * window.width
    y1 = y0 + transform.e * window.height
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def transform_from_bounds(bounds: Bounds, shape: tuple[int, int]) -> Affine:
    """The north-up transform of a rows x cols grid exactly covering `bounds`."""
    xmin, ymin, xmax, ymax = bounds
    return Affine((xmax - xmin) / shape[1], 0.0, xmin, 0.0, -(ymax - ymin) / shape[0], ymax)


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


@dataclass(frozen=True)
class BandSource:
    """One bundle band taken from band `band` (1-based) of `source`; `input_range` overrides the
    native value range of the band (see the module docstring)."""

    source: RasterSource
    band: int
    input_range: tuple[float, float] | None = None


AerialArgument = str | Path | RasterSource | Sequence[BandSource | tuple[Any, int]]


def native_range(dtype: str, declared: tuple[float, float] | None = None) -> tuple[float, float] | None:
    """The range a band's values span before scaling, or None for floating-point bands (used as is).

    The rule: `declared` if given (a BandSource's input_range, else what the source declares, e.g. a
    GeoTIFF's NBITS: 12-bit data stored as uint16 -> 0..4095); else the full range of an unsigned
    integer type (uint8 0..255, uint16 0..65535), 0..max for a signed one. `to_value_range` then maps
    this range linearly onto the bundle's value_range and clips: 8-bit imagery goes as it is to a
    0..255 bundle, 16-bit imagery is divided by 257.
    """
    if declared is not None:
        return declared
    kind = np.dtype(dtype)
    if kind.kind == "u":
        return 0.0, float(np.iinfo(kind).max)
    if kind.kind == "i":
        return 0.0, float(np.iinfo(kind).max)
    return None


def to_value_range(
    values: np.ndarray, native: tuple[float, float] | None, target: tuple[float, float]
) -> np.ndarray:
    """Map `values` linearly from `native` onto `target` and clip to `target` (in place, float32)."""
    if native is not None and tuple(native) != tuple(target):
        ratio = (target[1] - target[0]) / (native[1] - native[0])
        values -= native[0]
        values *= ratio
        values += target[0]
    np.clip(values, target[0], target[1], out=values)
    return values


@functools.lru_cache(maxsize=256)
def same_crs(a: str, b: str) -> bool:
    """Whether two CRS definitions (WKT, "EPSG:n", PROJ) describe the same system."""
    if a == b:
        return True
    return _crs(a) == _crs(b)


@functools.lru_cache(maxsize=64)
def _crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except rasterio.errors.CRSError as exc:
        raise InputError(f"Unknown coordinate reference system: {text[:80]}", str(exc)) from exc


def crs_label(crs: str) -> str:
    """A short name for a CRS in messages: "EPSG:2154", else the name in its WKT."""
    try:
        epsg = _crs(crs).to_epsg()
    except InputError:
        epsg = None
    if epsg:
        return f"EPSG:{epsg}"
    match = re.match(r'\s*\w+\s*\[\s*"([^"]*)"', crs)
    return f"'{match.group(1)}'" if match else f"'{crs[:40]}'"


def _metres_per_unit(crs: str) -> float:
    parsed = _crs(crs)
    if parsed.is_geographic:
        raise InputError(
            "The aerial image is in a geographic CRS (degrees); the map needs a projected CRS in metres.",
            "Reproject the image to a projected CRS (e.g. Lambert-93, EPSG:2154).",
        )
    try:
        return float(parsed.linear_units_factor[1])
    except rasterio.errors.CRSError:
        return 1.0


def ground_scale(crs: str, x: float, y: float) -> float:
    """The projection's scale factor at (x, y) of the projected `crs`: a CRS distance there over the
    ground distance it stands for (about 1.52 for EPSG:3857 in Paris, 0.9999 for Lambert-93). The
    geometric mean of the east-west and north-south factors, measured on two 20-unit segments centred on
    the point, on the WGS 84 ellipsoid. 1.0 when the point cannot be placed on the ellipsoid."""
    d = 10.0
    xs, ys = [x - d, x + d, x, x], [y, y, y - d, y + d]
    try:
        lons, lats = rasterio.warp.transform(_crs(crs), _crs("EPSG:4326"), xs, ys)
    except RASTERIO_ERRORS:
        return 1.0
    if not all(math.isfinite(v) for v in (*lons, *lats)):
        return 1.0
    return scale_from_segments(lons, lats, 2 * d * _metres_per_unit(crs))


def _map_scale(crs: str, x: float, y: float) -> float:
    """ground_scale, or exactly 1.0 when it is within SCALE_TOLERANCE of 1 (the map is then on the CRS's
    own metres, as it always was for Lambert-93 and UTM)."""
    scale = ground_scale(crs, x, y)
    return scale if abs(scale - 1) > SCALE_TOLERANCE else 1.0


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
    if abs(col - round(col)) > _SNAP_EPS or abs(row - round(row)) > _SNAP_EPS:
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
    if col0 < -_SNAP_EPS or row0 < -_SNAP_EPS or col1 > width + _SNAP_EPS or row1 > height + _SNAP_EPS:
        return None
    return Window(
        max(col0, 0.0), max(row0, 0.0), min(col1, width) - max(col0, 0.0), min(row1, height) - max(row0, 0.0)
    )


def _footprint(source: RasterSource, crs: str) -> Bounds:
    """The source's extent in `crs`, or InputError when its CRS cannot be transformed to `crs`."""
    left, bottom, right, top = window_bounds(source.transform, Window(0, 0, source.width, source.height))
    if same_crs(source.crs, crs):
        return left, bottom, right, top
    try:
        bounds = rasterio.warp.transform_bounds(
            _crs(source.crs), _crs(crs), left, bottom, right, top, densify_pts=21
        )
    except RASTERIO_ERRORS as exc:
        raise InputError(
            f"{source.name} is in {crs_label(source.crs)}, which cannot be transformed to the map's CRS "
            f"{crs_label(crs)} (no coordinate operation between them).",
            "Reproject it to the CRS of the first aerial source.",
        ) from exc
    if not all(math.isfinite(v) for v in bounds):
        raise InputError(
            f"{source.name} cannot be placed in the map's CRS (its extent does not transform).",
            "Reproject it to the CRS of the first aerial source.",
        )
    return bounds


def _centre(bounds: Bounds) -> tuple[float, float]:
    return (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2


def _pixel_span(low: float, high: float, origin: float, size: float) -> tuple[int, int]:
    """First and one-past-last pixel index of the pixels of width `size` from `origin` that touch the
    interval [low, high] (an edge within _SNAP_EPS of a pixel edge counts as on it)."""
    first = math.floor((low - origin) / size + _SNAP_EPS)
    last = math.ceil((high - origin) / size - _SNAP_EPS)
    return first, last


class AerialComposition:
    """The bundle's aerial bands, each from its own source, read together on one grid.

    The grid is in the CRS of the first source, at the bundle's gsd, its pixels aligned on the first
    source's pixel edges. Sources in another CRS are reprojected on the fly (noted in `warnings`);
    sources at another resolution are resampled.
    """

    def __init__(
        self,
        band_sources: Sequence[BandSource],
        spec: AerialInput,
        *,
        resampling: str = "bilinear",
        owned: Sequence[RasterSource] = (),
    ) -> None:
        """`owned`: the sources this composition closes in close() (those open_aerial opened)."""
        self.spec = spec
        self.band_sources = tuple(band_sources)
        self.resampling = resampling
        self.warnings: list[str] = []
        self._owned = tuple(owned)
        if len(self.band_sources) != len(spec.bands):
            raise InputError(
                f"{len(self.band_sources)} aerial bands were given; the model needs {len(spec.bands)} "
                f"({', '.join(spec.bands)}).",
                "Give one source band per model band, in the model's order.",
            )
        for band_source, name in zip(self.band_sources, spec.bands, strict=True):
            count = band_source.source.count
            if not 1 <= band_source.band <= count:
                raise InputError(
                    f"Band {band_source.band} asked of {band_source.source.name} for '{name}', "
                    f"but it has {count} band{'s' if count > 1 else ''}.",
                    f"Choose a band between 1 and {count}.",
                )
        first = self.band_sources[0].source
        t = first.transform
        if t.b or t.d or t.a <= 0 or t.e >= 0:
            raise InputError(
                f"{first.name} is not a north-up raster (rotated or flipped); its grid cannot be the map's.",
                "Warp it to a north-up grid first (e.g. gdalwarp), or give a north-up raster first.",
            )
        self.crs = first.crs
        self._unit = _metres_per_unit(self.crs)
        self.bounds = self._common_extent()

    @property
    def sources(self) -> list[RasterSource]:
        """Each distinct source once, in order of first use."""
        unique: list[RasterSource] = []
        for band_source in self.band_sources:
            if not any(band_source.source is s for s in unique):
                unique.append(band_source.source)
        return unique

    @property
    def pixel_size(self) -> float:
        """The bundle's gsd in the units of the map's CRS, before its scale (see grid_for)."""
        return self.spec.gsd / self._unit

    def _common_extent(self) -> Bounds:
        extent: Bounds | None = None
        for source in self.sources:
            if not same_crs(source.crs, self.crs):
                note = (
                    f"{source.name} is in another CRS than {self.sources[0].name}; "
                    "it is reprojected on the fly."
                )
                self.warnings.append(note)
                log.warning(note)
            resolution = (
                abs(source.transform.a) * _metres_per_unit(source.crs) if _crs(source.crs).is_projected else 0
            )
            scale = _map_scale(source.crs, *_centre(_footprint(source, source.crs))) if resolution else 1.0
            resolution /= scale
            if resolution and not math.isclose(resolution, self.spec.gsd, rel_tol=1e-6):
                shown = f"{resolution:g} m" if scale == 1.0 else f"{resolution:.3g} m on the ground"
                self.warnings.append(
                    f"{source.name} is at {shown}; it is resampled to the model's {self.spec.gsd:g} m."
                )
            box = _footprint(source, self.crs)
            if extent is None:
                extent = box
                continue
            extent = (
                max(extent[0], box[0]),
                max(extent[1], box[1]),
                min(extent[2], box[2]),
                min(extent[3], box[3]),
            )
            if extent[0] >= extent[2] or extent[1] >= extent[3]:
                raise InputError(
                    f"The aerial sources do not overlap: {source.name} lies outside the others.",
                    "Choose sources that cover the same place.",
                )
        assert extent is not None
        return extent

    def grid_for(self, area: AreaOfInterest | None = None) -> OutputGrid:
        """The output grid covering `area` (all pixels it touches; the whole common extent when None),
        clipped to the sources' common extent. InputError when the area lies outside it.

        Its pixels are the bundle's gsd on the ground: where the CRS's scale at the area's centre departs
        from 1 by more than SCALE_TOLERANCE (EPSG:3857), they are gsd x scale in the CRS, and a warning
        says so."""
        origin = self.sources[0].transform
        area_bounds = area.bounds_in(self.crs) if area is not None else None
        scale = self._scale_at(area_bounds)
        size = self.pixel_size * scale
        cols = _pixel_span(self.bounds[0], self.bounds[2], origin.c, size)
        rows = _pixel_span(-self.bounds[3], -self.bounds[1], -origin.f, size)
        if area is not None:
            xmin, ymin, xmax, ymax = area_bounds
            area_cols = _pixel_span(xmin, xmax, origin.c, size)
            area_rows = _pixel_span(-ymax, -ymin, -origin.f, size)
            cols = (max(cols[0], area_cols[0]), min(cols[1], area_cols[1]))
            rows = (max(rows[0], area_rows[0]), min(rows[1], area_rows[1]))
            if cols[1] <= cols[0] or rows[1] <= rows[0]:
                raise InputError(
                    "The area of interest lies outside the aerial image "
                    f"(area {_fmt(area.bounds_in(self.crs))}, image {_fmt(self.bounds)}).",
                    "Choose an area inside the image, or check the area's CRS.",
                )
        transform = Affine(size, 0.0, origin.c + cols[0] * size, 0.0, -size, origin.f - rows[0] * size)
        if scale != 1.0:
            self._note(
                f"{crs_label(self.crs)} stretches ground distances by {scale:.3g} here: the map's pixels "
                f"are {size:.3g} {self._unit_name} in the CRS for the model's {self.spec.gsd:g} m on the "
                "ground, and its hectares are ground areas. Measure the map with ellipsoidal areas, or "
                "reproject the image to a local projection (e.g. Lambert-93, EPSG:2154) to keep true areas "
                "in the CRS."
            )
        return OutputGrid(self.crs, transform, cols[1] - cols[0], rows[1] - rows[0], scale)

    def _scale_at(self, area_bounds: Bounds | None) -> float:
        """The map's scale (see _map_scale) at the centre of the area's part of the common extent (of
        the whole extent when there is no area or they do not meet)."""
        xmin, ymin, xmax, ymax = self.bounds
        if area_bounds is not None:
            inner = (
                max(xmin, area_bounds[0]),
                max(ymin, area_bounds[1]),
                min(xmax, area_bounds[2]),
                min(ymax, area_bounds[3]),
            )
            if inner[0] <= inner[2] and inner[1] <= inner[3]:
                xmin, ymin, xmax, ymax = inner
        return _map_scale(self.crs, (xmin + xmax) / 2, (ymin + ymax) / 2)

    @property
    def _unit_name(self) -> str:
        return "m" if self._unit == 1.0 else "units"

    def _note(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    def read(self, grid: OutputGrid, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Raw bands on `window` of `grid` (which may reach beyond the grid).

        Returns (raw float32 bands x h x w in spec.value_range, valid bool h x w: every band has data).
        Invalid pixels hold value_range[0] in every band.
        """
        rows, cols = int(window.height), int(window.width)
        bounds = grid.window_bounds(window)
        raw = np.empty((len(self.band_sources), rows, cols), np.float32)
        valid = np.ones((rows, cols), bool)
        for source in self.sources:
            positions = [i for i, b in enumerate(self.band_sources) if b.source is source]
            bands = [self.band_sources[i].band for i in positions]
            data = source.read(bands, grid.crs, bounds, (rows, cols), self.resampling)
            valid &= ~np.ma.getmaskarray(data).any(axis=0)
            values = np.ma.getdata(data).astype(np.float32, copy=False)
            for k, i in enumerate(positions):
                band_source = self.band_sources[i]
                declared = band_source.input_range or source.value_ranges[band_source.band - 1]
                native = native_range(source.dtypes[band_source.band - 1], declared)
                raw[i] = to_value_range(values[k].copy(), native, self.spec.value_range)
        raw[:, ~valid] = self.spec.value_range[0]
        return raw, valid

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        """Model input from raw bands (bands x ... float32): the bundle's BandScaling, band by band."""
        return self.spec.scaling.apply(raw, axis=0)

    def close(self) -> None:
        """Close the sources this composition opened (not those handed to it)."""
        for source in self._owned:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> AerialComposition:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_aerial(
    spec: AerialInput, aerial: AerialArgument, *, resampling: str = "bilinear"
) -> AerialComposition:
    """The composition for `aerial`: one raster (path or RasterSource) whose bands are in the bundle's
    order, or one (path | RasterSource, band) or BandSource per bundle band. A path named several times
    is opened once."""
    opened: dict[str, RasterioSource] = {}

    def source_of(item: Any) -> RasterSource:
        if isinstance(item, (str, Path)):
            key = str(Path(item))
            if key not in opened:
                opened[key] = RasterioSource(item)
            return opened[key]
        if isinstance(item, RasterSource):
            return item
        raise InputError(f"Not an aerial source: {item!r}")

    if isinstance(aerial, (str, Path, RasterSource)):
        source = source_of(aerial)
        if source.count != len(spec.bands):
            raise InputError(
                f"{source.name} has {source.count} band{'s' if source.count > 1 else ''}; the model needs "
                f"{len(spec.bands)} ({', '.join(spec.bands)}).",
                "Give a raster with these bands in this order, or compose them from several rasters "
                "(e.g. RGB ortho bands 1,2,3 + IRC ortho band 1 + elevation band 1).",
            )
        band_sources = [BandSource(source, i + 1) for i in range(source.count)]
    else:
        band_sources = []
        for item in aerial:
            if isinstance(item, BandSource):
                band_sources.append(item)
            else:
                path_or_source, band = item
                band_sources.append(BandSource(source_of(path_or_source), int(band)))
    try:
        return AerialComposition(band_sources, spec, resampling=resampling, owned=list(opened.values()))
    except BaseException:
        for source in opened.values():
            source.close()
        raise


@dataclass(frozen=True)
class AreaOfInterest:
    """The area to map: a GeoJSON-like Polygon or MultiPolygon `geometry` in `crs` (any CRS definition
    rasterio understands). `is_box` marks an axis-aligned rectangle, mapped to every pixel it touches."""

    geometry: dict[str, Any]
    crs: str
    is_box: bool = field(default=False)
    _reprojected: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_bounds(cls, bounds: Sequence[float], crs: str) -> AreaOfInterest:
        if len(bounds) != 4:
            raise InputError(f"An area needs 4 bounds (xmin, ymin, xmax, ymax), got {list(bounds)}.")
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            raise InputError(
                f"The area's bounds must be finite numbers, got {[xmin, ymin, xmax, ymax]}.",
                "Give the four corners' coordinates in the area's CRS (no inf or nan).",
            )
        if not (xmin < xmax and ymin < ymax):
            raise InputError(
                f"The area's bounds are empty or inverted: {_fmt((xmin, ymin, xmax, ymax))}.",
                "Give xmin < xmax and ymin < ymax.",
            )
        _crs(crs)
        ring = [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]
        return cls({"type": "Polygon", "coordinates": [ring]}, crs, is_box=True)

    @classmethod
    def from_wkt(cls, wkt: str, crs: str) -> AreaOfInterest:
        """A POLYGON or MULTIPOLYGON in WKT (Z/M ordinates ignored)."""
        return cls(_polygonal(parse_wkt(wkt), "The WKT"), crs)

    @classmethod
    def from_geojson(cls, data: str | dict[str, Any], crs: str | None = None) -> AreaOfInterest:
        """A GeoJSON geometry, Feature or FeatureCollection (its polygons). Its CRS is `crs`, else the
        legacy "crs" member, else WGS 84 (RFC 7946)."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise InputError(f"The area is not valid GeoJSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError("The area is not a GeoJSON object.")
        named = (
            data.get("crs", {}).get("properties", {}).get("name")
            if isinstance(data.get("crs"), dict)
            else None
        )
        crs = crs or (_urn_to_crs(named) if named else "EPSG:4326")
        return cls(_polygonal(_geojson_geometry(data), "The GeoJSON"), crs)

    @classmethod
    def from_geojson_file(cls, path: str | Path, crs: str | None = None) -> AreaOfInterest:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"The area file {path} does not exist.")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"The area file {path} cannot be read: {exc}") from exc
        try:
            return cls.from_geojson(text, crs)
        except InputError as exc:
            raise InputError(f"{path}: {exc.message}", exc.hint) from exc

    def geometry_in(self, crs: str) -> dict[str, Any]:
        """The geometry in `crs` (box edges densified so a reprojected box keeps its shape)."""
        if same_crs(self.crs, crs):
            return self.geometry
        if crs not in self._reprojected:
            geometry = _densified(self.geometry) if self.is_box else self.geometry
            try:
                self._reprojected[crs] = rasterio.warp.transform_geom(_crs(self.crs), _crs(crs), geometry)
            except RASTERIO_ERRORS as exc:
                raise InputError(
                    f"The area cannot be transformed from {crs_label(self.crs)} to {crs_label(crs)}: {exc}"
                ) from exc
        return self._reprojected[crs]

    def bounds_in(self, crs: str) -> Bounds:
        xs, ys = zip(*(p[:2] for p in _points(self.geometry_in(crs)["coordinates"])), strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    def mask(self, grid: OutputGrid, window: Window | None = None) -> np.ndarray:
        """bool h x w over `window` of `grid` (whole grid when None): True for the pixels in the area
        (pixel centre inside a polygon; every touched pixel for a box in the grid's CRS)."""
        window = window or grid.window
        rows, cols = int(window.height), int(window.width)
        transform = grid.window_transform(window)
        if self.is_box and same_crs(self.crs, grid.crs):
            xmin, ymin, xmax, ymax = self.bounds_in(grid.crs)
            c0, c1 = _pixel_span(xmin, xmax, transform.c, transform.a)
            r0, r1 = _pixel_span(-ymax, -ymin, -transform.f, -transform.e)
            inside = np.zeros((rows, cols), bool)
            inside[max(r0, 0) : max(min(r1, rows), 0), max(c0, 0) : max(min(c1, cols), 0)] = True
            return inside
        return rasterio.features.geometry_mask(
            [self.geometry_in(grid.crs)], out_shape=(rows, cols), transform=transform, invert=True
        )


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in bounds) + ")"


def _urn_to_crs(name: str) -> str:
    """ "urn:ogc:def:crs:EPSG::2154" -> "EPSG:2154"; "urn:ogc:def:crs:OGC:1.3:CRS84" -> "OGC:CRS84"."""
    match = re.match(r"urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", name)
    if match:
        return f"EPSG:{match.group(1)}"
    if name.endswith("CRS84"):
        return "OGC:CRS84"
    return name


def _geojson_geometry(data: dict[str, Any]) -> dict[str, Any]:
    """The polygons of a GeoJSON object as one Polygon/MultiPolygon (other geometries dropped)."""
    kind = data.get("type")
    if kind == "FeatureCollection":
        polygons: list[Any] = []
        for feature in data.get("features") or []:
            geometry = _geojson_geometry(feature)
            if geometry.get("type") == "Polygon":
                polygons.append(geometry["coordinates"])
            elif geometry.get("type") == "MultiPolygon":
                polygons.extend(geometry["coordinates"])
        return {"type": "MultiPolygon", "coordinates": polygons}
    if kind == "Feature":
        return data.get("geometry") or {}
    if kind == "GeometryCollection":
        return _geojson_geometry(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": g} for g in data.get("geometries", [])],
            }
        )
    return data


def _polygonal(geometry: dict[str, Any], what: str) -> dict[str, Any]:
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon") or not coordinates:
        raise InputError(
            f"{what} area has no polygon (found {kind or 'nothing'}).", "Give a polygon or a bounding box."
        )
    points = list(_points(coordinates))
    if len(points) < 3 or not all(len(p) >= 2 and all(math.isfinite(v) for v in p[:2]) for p in points):
        raise InputError(f"{what} area's polygon is malformed.")
    coordinates = _drop_extra_ordinates(coordinates)
    polygons = [coordinates] if kind == "Polygon" else coordinates
    try:
        area = sum(abs(_ring_area(p[0])) - sum(abs(_ring_area(h)) for h in p[1:]) for p in polygons)
    except (TypeError, IndexError, ValueError) as exc:
        raise InputError(f"{what} area's polygon is malformed.") from exc
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    if area <= 1e-12 * extent**2:
        raise InputError(
            "The area's polygon has no area: its points lie on one line or one point "
            f"(extent {_fmt((min(xs), min(ys), max(xs), max(ys)))}).",
            "Give a polygon that encloses the area to map, or a bounding box with xmin < xmax and ymin < ymax.",
        )
    return {"type": kind, "coordinates": coordinates}


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    """Signed area of a closed or open ring (shoelace formula), in the square units of its CRS."""
    ox, oy = ring[0][0], ring[0][1]  # from the first point: no cancellation on large coordinates
    total = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise([*ring, ring[0]]):
        total += (x0 - ox) * (y1 - oy) - (x1 - ox) * (y0 - oy)
    return total / 2


def _drop_extra_ordinates(coordinates: Any) -> Any:
    if coordinates and isinstance(coordinates[0], (int, float)):
        return [float(coordinates[0]), float(coordinates[1])]
    return [_drop_extra_ordinates(c) for c in coordinates]


def _points(coordinates: Any) -> Iterator[Sequence[float]]:
    if coordinates and isinstance(coordinates[0], (int, float)):
        yield coordinates
        return
    for item in coordinates:
        yield from _points(item)


def _densified(geometry: dict[str, Any], steps: int = 20) -> dict[str, Any]:
    ring = geometry["coordinates"][0]
    points = []
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        points += [[x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps] for k in range(steps)]
    points.append(ring[-1])
    return {"type": "Polygon", "coordinates": [points]}


_WKT_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_wkt(wkt: str) -> dict[str, Any]:
    """A WKT POLYGON or MULTIPOLYGON (optionally Z/M, optionally EWKT "SRID=n;") as a GeoJSON dict."""
    text = re.sub(r"^\s*SRID=\d+;", "", wkt.strip(), flags=re.IGNORECASE)
    match = re.match(
        r"^\s*(MULTIPOLYGON|POLYGON)\s*(?:ZM|Z|M)?\s*(\(.*\))\s*$", text, re.IGNORECASE | re.DOTALL
    )
    if not match:
        raise InputError(f"Not a WKT polygon: {wkt[:60]!r}", "Write it as POLYGON ((x y, x y, ...)).")
    body = re.sub(
        rf"({_WKT_NUMBER})(?:\s+({_WKT_NUMBER}))+",
        lambda m: "[" + ",".join(m.group(0).split()) + "]",
        match.group(2),
    )
    body = body.replace("(", "[").replace(")", "]")
    try:
        coordinates = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InputError(f"Malformed WKT polygon: {wkt[:60]!r}") from exc
    kind = "MultiPolygon" if match.group(1).upper() == "MULTIPOLYGON" else "Polygon"
    return {"type": kind, "coordinates": coordinates}
