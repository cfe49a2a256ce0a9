"""Block-by-block passes over rasters with QGIS's GDAL, so that memory stays bounded whatever the map's size:
a capped block cache, row strips, progress callbacks that cancel, and rasterised polygon ids."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
from osgeo import gdal

#: Rows read at once never hold more than this many pixels.
STRIP_PIXELS = 2_000_000
#: GDAL's block cache while an algorithm runs (it is shared by the process; restored afterwards).
CACHE_BYTES = 128 * 2**20

Progress = Callable[[float, str], None]


class Cancelled(Exception):
    """The user cancelled the run."""


@contextlib.contextmanager
def bounded_gdal_cache(limit: int = CACHE_BYTES):
    """Cap GDAL's block cache (by default 5 % of RAM, which grows with the map) while inside."""
    previous = gdal.GetCacheMax()
    gdal.SetCacheMax(min(previous, limit))
    try:
        yield
    finally:
        gdal.SetCacheMax(previous)


def row_strips(width: int, height: int) -> Iterator[tuple[int, int]]:
    """(first row, row count) of strips covering `height` rows, each of at most STRIP_PIXELS pixels (one
    row when a single row is wider): what is read at once does not grow with the map's size."""
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for row in range(0, height, rows):
        yield row, min(rows, height - row)


def gdal_callback(
    progress: Progress | None, is_cancelled: Callable[[], bool] | None, start: float, end: float, text: str
):
    """A GDAL progress callback mapping 0..1 onto start..end of the whole run; returns 0 (stop) when
    the run is cancelled."""

    def callback(complete: float, message: object = None, data: object = None) -> int:
        if is_cancelled is not None and is_cancelled():
            return 0
        if progress is not None:
            progress(start + (end - start) * complete, text)
        return 1

    return callback


def check(ok: int | None, is_cancelled: Callable[[], bool] | None, what: str) -> None:
    """Raise Cancelled, or RuntimeError with GDAL's message, unless a GDAL call succeeded."""
    if is_cancelled is not None and is_cancelled():
        raise Cancelled()
    if ok not in (0, None):
        raise RuntimeError(f"{what} failed: {gdal.GetLastErrorMsg() or 'GDAL error'}")


def rasterize_ids(
    target: gdal.Dataset, source: gdal.Dataset, layer_name: str, callback, where: str = ""
) -> int:
    """Burn each polygon's fid of `layer_name` (an OGR dataset `source`) into the int32 band of
    `target` (0 = no polygon; pixel centres decide); returns GDAL's error code."""
    sql = f'SELECT fid + 0 AS pid, geom FROM "{layer_name}"' + (f" WHERE {where}" if where else "")
    ids = source.ExecuteSQL(sql)
    try:
        return gdal.RasterizeLayer(target, [1], ids, options=["ATTRIBUTE=pid"], callback=callback)
    finally:
        source.ReleaseResultSet(ids)


def read_strip(band: gdal.Band, row: int, rows: int) -> np.ndarray:
    return band.ReadAsArray(0, row, band.XSize, rows)
