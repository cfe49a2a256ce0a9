"""A Sentinel-2 series on the aerial grid: every date's ten bands and masks over the area plus a margin.

load_series() reads the acquisitions of a catalog that overlap the area, mosaics same-date products of
adjacent MGRS tiles, and keeps the result in memory so each aerial tile's window is a slice.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.errors import RasterioError

from ..bundle_spec import Sentinel2Input
from ..errors import Cancelled, InputError
from .catalog import Acquisition, Sentinel2Catalog, discover
from .preprocess import span_warning
from .warp import Sentinel2Grid, grid_for_bounds, overlaps, paste_first_valid, read_layout

LOG = logging.getLogger(__name__)
#: Share of the area that may lack Sentinel-2 data before load_series refuses it (resampling at the
#: very edge of a product's footprint can lose a pixel).
COVERAGE_TOLERANCE = 0.001


@dataclass
class Sentinel2Series:
    """Dates on a 10 m grid: data T x 10 x H x W float32 reflectance x 10000 (NaN = nodata) in FLAIR band
    order, masks T x 2 x H x W uint8 probabilities 0..100 [snow, cloud]."""

    dates: list[date]
    grid: Sentinel2Grid
    data: np.ndarray
    masks: np.ndarray
    sources: list[list[str]] = field(default_factory=list)  # product names read for each date
    warnings: list[str] = field(default_factory=list)
    uncovered: float = 0.0  # share of the requested bounds without any data
    window_size: int = 40  # the spec's window, the default of window()

    @property
    def crs(self) -> str:
        return self.grid.crs.to_wkt()

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.grid.bounds

    def window(self, x: float, y: float, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The size x size window (default: the spec's) centred on map point (x, y): data
        T x 10 x size x size float32, masks T x 2 x size x size uint8; pixels off the grid are NaN
        (masks 0). The window starts at the grid pixel nearest to (x - size/2 x gsd, y + size/2 x gsd)."""
        size = size or self.window_size
        gsd = self.grid.gsd
        col0 = round((x - self.grid.xmin) / gsd - size / 2)
        row0 = round((self.grid.ymax - y) / gsd - size / 2)
        t = len(self.dates)
        data = np.full((t, 10, size, size), np.nan, dtype=np.float32)
        masks = np.zeros((t, 2, size, size), dtype=np.uint8)
        r0, r1 = max(row0, 0), min(row0 + size, self.grid.height)
        c0, c1 = max(col0, 0), min(col0 + size, self.grid.width)
        if r0 < r1 and c0 < c1:
            dr, dc = r0 - row0, c0 - col0
            data[:, :, dr : dr + r1 - r0, dc : dc + c1 - c0] = self.data[:, :, r0:r1, c0:c1]
            masks[:, :, dr : dr + r1 - r0, dc : dc + c1 - c0] = self.masks[:, :, r0:r1, c0:c1]
        return data, masks


def on_ground(spec: Sentinel2Input, scale: float) -> Sentinel2Input:
    """The Sentinel-2 input for a map whose CRS stretches ground distances by `scale` (its OutputGrid's
    scale: 1 for Lambert-93 and UTM, about 1.52 for EPSG:3857 at Paris): the pixels stay spec.gsd metres
    on the ground, so a window covers the ground the model was trained on (400 m for FLAIR #2)."""
    return spec if scale == 1.0 else dataclasses.replace(spec, gsd=spec.gsd * scale)


def load_series(
    catalog_or_folder: Sentinel2Catalog | str | Path,
    crs: str,
    bounds: tuple[float, float, float, float],
    spec: Sentinel2Input,
    *,
    progress: Callable[[float, str], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    allow_partial: bool = False,
    readers: int = 1,
) -> Sentinel2Series:
    """Read the series over `bounds` (xmin, ymin, xmax, ymax in `crs`, a WKT or "EPSG:nnnn") plus half a
    window of margin, on a spec.gsd grid in `crs` snapped to multiples of spec.gsd.

    Same-date acquisitions are mosaicked (the first valid pixel wins, tiles in name order); dates with
    no pixel in the grid are left out; a product that fails to read is skipped with a warning. Raises
    InputError when nothing covers the area, or when part of it is uncovered and `allow_partial` is
    False (with it, those pixels stay NaN); Cancelled when `is_cancelled()` turns true.

    `readers` threads read acquisitions at once (GDAL decodes and warps outside Python's lock); they are
    mosaicked in the same order whatever their number, so the series is the same.
    """
    catalog = (
        catalog_or_folder if isinstance(catalog_or_folder, Sentinel2Catalog) else discover(catalog_or_folder)
    )
    grid = grid_for_bounds(crs, bounds, spec.gsd, spec.window_size / 2 * spec.gsd)
    usable = [a for a in catalog.acquisitions if a.layout is not None]
    if not usable:
        raise InputError(
            f"The Sentinel-2 in {catalog.folder} carries no georeferencing (FLAIR #2 super-areas)",
            "Use products (SAFE, Theia or GeoTIFF) to run on an area; super-areas serve FLAIR #2 patches.",
        )
    candidates = [
        a for a in usable if a.crs is not None and a.bounds is not None and overlaps(grid, a.crs, a.bounds)
    ]
    if not candidates:
        raise InputError(
            f"None of the {len(usable)} Sentinel-2 acquisitions in {catalog.folder} covers the area",
            f"Tiles found: {', '.join(catalog.tiles) or 'unnamed'}; add the products of the area's MGRS tile.",
        )
    by_date = [(day, list(group)) for day, group in groupby(candidates, key=lambda a: a.date)]
    data = np.full((len(by_date), 10, grid.height, grid.width), np.nan, dtype=np.float32)
    masks = np.zeros((len(by_date), 2, grid.height, grid.width), dtype=np.uint8)
    dates: list[date] = []
    sources: list[list[str]] = []
    warnings: list[str] = []
    done = 0
    read = _read_in_order([a for _, group in by_date for a in group], grid, readers, is_cancelled)
    for day, group in by_date:
        t = len(dates)
        used = []
        for acquisition in group:
            if is_cancelled and is_cancelled():
                raise Cancelled()
            if progress:
                progress(done / len(candidates), f"Reading Sentinel-2 {day.isoformat()} ({acquisition.name})")
            done += 1
            filled = _paste(acquisition, next(read), data[t], masks[t], warnings)
            if filled:
                used.append(acquisition.name)
        if used:
            dates.append(day)
            sources.append(used)
        else:
            data[t] = np.nan
            masks[t] = 0
    if progress:
        progress(1.0, f"Read {len(dates)} Sentinel-2 dates")
    if not dates:
        raise InputError(
            f"The Sentinel-2 acquisitions in {catalog.folder} hold no valid pixel over the area",
            "; ".join(warnings[:3]) or "Check that the products cover the area (not only their nodata edge).",
        )
    data, masks = data[: len(dates)], masks[: len(dates)]
    span = span_warning(dates)
    if span:
        warnings.append(span)
    uncovered = _uncovered_share(data, grid, bounds)
    if uncovered > COVERAGE_TOLERANCE and not allow_partial:
        raise InputError(
            f"{uncovered:.1%} of the area has no Sentinel-2 data in {catalog.folder}",
            "Add the products of the neighbouring MGRS tiles or orbits, or allow partial coverage to leave "
            "those parts without Sentinel-2 (nodata).",
        )
    return Sentinel2Series(dates, grid, data, masks, sources, warnings, uncovered, spec.window_size)


_Read = tuple[np.ndarray, np.ndarray] | Exception


def _read(acquisition: Acquisition, grid: Sentinel2Grid) -> _Read:
    """One acquisition on the grid (data, masks), or the error that made it unreadable."""
    assert acquisition.layout is not None
    try:
        return read_layout(acquisition.layout, grid)
    except (RasterioError, OSError, ValueError) as exc:
        return exc


def _read_in_order(
    acquisitions: list[Acquisition],
    grid: Sentinel2Grid,
    readers: int,
    is_cancelled: Callable[[], bool] | None,
) -> Iterator[_Read]:
    """What _read gives for each acquisition, in their order, read by `readers` threads at most `readers`
    acquisitions ahead of the one handed out (memory: that many acquisitions' arrays)."""
    if readers <= 1:
        yield from (_read(a, grid) for a in acquisitions)
        return
    pending: deque[Future[_Read]] = deque()
    waiting = iter(acquisitions)
    with ThreadPoolExecutor(readers, thread_name_prefix="flair-sentinel2") as pool:

        def submit_next() -> None:
            acquisition = next(waiting, None)
            if acquisition is not None:
                pending.append(pool.submit(_read, acquisition, grid))

        try:
            for _ in range(readers):
                submit_next()
            while pending:
                result = pending.popleft().result()
                if not (is_cancelled and is_cancelled()):
                    submit_next()
                yield result
        finally:
            for future in pending:
                future.cancel()


def _paste(
    acquisition: Acquisition, read: _Read, data: np.ndarray, masks: np.ndarray, warnings: list[str]
) -> int:
    """Mosaic one acquisition into one date's arrays; a read failure becomes a warning naming the file."""
    if isinstance(read, Exception):
        message = f"Skipped {acquisition.name} ({acquisition.date.isoformat()}): unreadable ({read})"
        LOG.warning(message)
        warnings.append(message)
        return 0
    return paste_first_valid(data, masks, *read)


def _uncovered_share(
    data: np.ndarray, grid: Sentinel2Grid, bounds: tuple[float, float, float, float]
) -> float:
    """Share of the grid pixels inside `bounds` that no date covers. An area narrower than a pixel holds
    no pixel centre: then the pixels it touches are counted."""
    rows, cols = grid.pixel_slices(bounds)
    if rows.stop <= rows.start or cols.stop <= cols.start:
        rows, cols = _touched_slices(grid, bounds)
    covered = np.zeros((rows.stop - rows.start, cols.stop - cols.start), dtype=bool)
    for t in range(data.shape[0]):
        covered |= ~np.isnan(data[t, :, rows, cols]).all(axis=0)
    return 1.0 - float(covered.mean()) if covered.size else 1.0


def _touched_slices(grid: Sentinel2Grid, bounds: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """Rows and columns of the grid's pixels that `bounds` touches."""
    xmin, ymin, xmax, ymax = bounds
    c0 = max(0, math.floor((xmin - grid.xmin) / grid.gsd))
    c1 = min(grid.width, max(c0 + 1, math.ceil((xmax - grid.xmin) / grid.gsd)))
    r0 = max(0, math.floor((grid.ymax - ymax) / grid.gsd))
    r1 = min(grid.height, max(r0 + 1, math.ceil((grid.ymax - ymin) / grid.gsd)))
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))
