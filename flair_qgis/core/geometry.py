"""Where pixels are: north-up pixel grids and their windows, bounds from transforms, CRS parsing and
labels, and how much a projection stretches ground distances. Every rule of grid arithmetic lives here.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import rasterio.errors
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from .errors import InputError
from .gdal_runtime import RASTERIO_ERRORS
from .geodesy import SCALE_TOLERANCE, scale_from_segments

#: (xmin, ymin, xmax, ymax) in some CRS's units.
Bounds = tuple[float, float, float, float]

#: Tolerance, in pixels, under which a coordinate counts as lying on a pixel edge.
SNAP_EPS = 1e-6


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
        factor = metres_per_unit(self.crs) / self.scale
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


def raster_bounds(transform: Affine, width: int, height: int) -> Bounds:
    """(xmin, ymin, xmax, ymax) of a whole north-up raster of `width` x `height` pixels."""
    return window_bounds(transform, Window(0, 0, width, height))


def pixel_span(low: float, high: float, origin: float, size: float) -> tuple[int, int]:
    """First and one-past-last pixel index of the pixels of width `size` from `origin` that touch the
    interval [low, high] (an edge within SNAP_EPS of a pixel edge counts as on it)."""
    first = math.floor((low - origin) / size + SNAP_EPS)
    last = math.ceil((high - origin) / size - SNAP_EPS)
    return first, last


def centre(bounds: Bounds) -> tuple[float, float]:
    return (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2


def format_bounds(bounds: Sequence[float]) -> str:
    """Bounds in messages: "(xmin, ymin, xmax, ymax)" to the centimetre."""
    return "(" + ", ".join(f"{v:.2f}" for v in bounds) + ")"


@functools.lru_cache(maxsize=256)
def same_crs(a: str, b: str) -> bool:
    """Whether two CRS definitions (WKT, "EPSG:n", PROJ) describe the same system."""
    if a == b:
        return True
    return parse_crs(a) == parse_crs(b)


@functools.lru_cache(maxsize=64)
def parse_crs(text: str) -> CRS:
    """A CRS from any definition rasterio understands (WKT, "EPSG:n", PROJ); InputError if none."""
    try:
        return CRS.from_user_input(text)
    except rasterio.errors.CRSError as exc:
        raise InputError(f"Unknown coordinate reference system: {text[:80]}", str(exc)) from exc


def crs_label(crs: str) -> str:
    """A short name for a CRS in messages: "EPSG:2154", else the name in its WKT."""
    try:
        epsg = parse_crs(crs).to_epsg()
    except InputError:
        epsg = None
    if epsg:
        return f"EPSG:{epsg}"
    match = re.match(r'\s*\w+\s*\[\s*"([^"]*)"', crs)
    return f"'{match.group(1)}'" if match else f"'{crs[:40]}'"


def metres_per_unit(crs: str) -> float:
    """Metres in one unit of the projected `crs`; InputError for a geographic CRS (degrees)."""
    parsed = parse_crs(crs)
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
        lons, lats = rasterio.warp.transform(parse_crs(crs), parse_crs("EPSG:4326"), xs, ys)
    except RASTERIO_ERRORS:
        return 1.0
    if not all(math.isfinite(v) for v in (*lons, *lats)):
        return 1.0
    return scale_from_segments(lons, lats, 2 * d * metres_per_unit(crs))


def map_scale(crs: str, x: float, y: float) -> float:
    """ground_scale, or exactly 1.0 when it is within SCALE_TOLERANCE of 1 (the map is then on the CRS's
    own metres, as it always was for Lambert-93 and UTM)."""
    scale = ground_scale(crs, x, y)
    return scale if abs(scale - 1) > SCALE_TOLERANCE else 1.0
