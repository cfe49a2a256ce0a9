"""Sentinel-2 windows for the tiles of a run, read region by region so that memory depends on the size of
a region (a column chunk of the tiling x a band of tile rows) and not on the area."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
from affine import Affine
from rasterio.windows import Window

from ..bundle_spec import Sentinel2Input
from ..errors import Cancelled
from ..geometry import window_bounds
from ..tiling import Tile, TileGrid
from .catalog import Sentinel2Catalog
from .load import Sentinel2Series, load_series

#: Target height in output pixels of a region (rounded to whole tile rows, at least one). Each region
#: reads every product again, at a cost nearly independent of its size (about 6 s for 30 SAFE products
#: on the development machine, from 0.7 to 10 km²), so regions are tall: 16384 px at 0.2 m with a
#: 4096 px chunk is 0.8 x 3.3 km, about 55 MiB of series for 30 dates.
REGION_HEIGHT = 16384
#: Threads reading a region's acquisitions. The first region is read while the inference waits for it:
#: two threads use the core that would idle (12 per-date GeoTIFFs: 1.05 s instead of 1.96 s on 2 cores).
READERS = 2


@dataclass(frozen=True)
class Region:
    """The tiles of column chunk `chunk` in tile rows `first_row` .. `last_row` (inclusive), and the map
    bounds (xmin, ymin, xmax, ymax) of the part of the output grid they cover."""

    index: int
    chunk: int
    first_row: int
    last_row: int
    bounds: tuple[float, float, float, float]


def tile_regions(tiling: TileGrid, transform: Affine, region_height: int = REGION_HEIGHT) -> list[Region]:
    """The regions of a tiling, in its processing order: chunk after chunk, each top to bottom, each
    region `region_height` px of tile rows (at least one row) clipped to the grid."""
    rows_per_region = max(1, round(region_height / tiling.stride))
    regions = []
    for chunk, cols in enumerate(tiling.chunks):
        x0 = tiling.xs[cols[0]]
        x1 = min(tiling.xs[cols[-1]] + tiling.tile_size, tiling.width)
        for first in range(0, len(tiling.ys), rows_per_region):
            last = min(first + rows_per_region, len(tiling.ys)) - 1
            y0 = tiling.ys[first]
            y1 = min(tiling.ys[last] + tiling.tile_size, tiling.height)
            bounds = window_bounds(transform, Window(x0, y0, x1 - x0, y1 - y0))
            regions.append(Region(len(regions), chunk, first, last, bounds))
    return regions


class RegionalSeries:
    """Each tile's Sentinel-2 window, from the series of the tile's region only.

    Tiles must come in TileGrid order (chunk by chunk, top to bottom); a region's series is then loaded
    once, with load_series over the region's bounds (plus its half-window margin), when its first tile
    asks, and dropped when the next region starts. Memory: T x 42 bytes per 10 m pixel of one region.
    `progress(message)` is told of each region load (from the calling thread); `is_cancelled()` is
    passed to load_series. Warnings of all the regions' series are gathered once each in `warnings`.
    """

    def __init__(
        self,
        catalog: Sentinel2Catalog,
        crs: str,
        transform: Affine,
        tiling: TileGrid,
        spec: Sentinel2Input,
        *,
        region_height: int = REGION_HEIGHT,
        progress: Callable[[str], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.catalog, self.crs, self.transform, self.tiling, self.spec = catalog, crs, transform, tiling, spec
        self.regions = tile_regions(tiling, transform, region_height)
        self._rows_per_region = max(1, round(region_height / tiling.stride))
        self._first_of_chunk: dict[int, int] = {}  # chunk -> index of its first region
        for region in self.regions:
            self._first_of_chunk.setdefault(region.chunk, region.index)
        self.progress = progress or (lambda message: None)
        self.is_cancelled = is_cancelled or (lambda: False)
        self.warnings: list[str] = []
        self.loaded = 0  # regions loaded so far
        self._region: Region | None = None
        self._series: Sentinel2Series | None = None

    def region_of(self, tile: Tile) -> Region:
        """The region holding `tile` (a tile of the TileGrid the series was made for)."""
        return self.regions[self._first_of_chunk[tile.chunk] + tile.row // self._rows_per_region]

    def window(self, tile: Tile) -> tuple[np.ndarray, np.ndarray, list[date]]:
        """The window centred on `tile`: data T x 10 x W x W float32 (NaN = nodata), masks
        T x 2 x W x W uint8 and the T dates of the tile's region."""
        series = self._series_for(self.region_of(tile))
        half = self.tiling.tile_size / 2
        t = self.transform
        col, row = tile.x + half, tile.y + half
        x, y = t.c + t.a * col + t.b * row, t.f + t.d * col + t.e * row
        data, masks = series.window(x, y, self.spec.window_size)
        return data, masks, series.dates

    def _series_for(self, region: Region) -> Sentinel2Series:
        if region is self._region and self._series is not None:
            return self._series
        self._region = self._series = None  # the previous region's arrays go before the next is read
        self.progress(f"Reading Sentinel-2 for region {region.index + 1} of {len(self.regions)}")
        series = load_series(
            self.catalog, self.crs, region.bounds, self.spec, is_cancelled=self.is_cancelled, readers=READERS
        )
        if self.is_cancelled():
            raise Cancelled()
        self.warnings += [w for w in series.warnings if w not in self.warnings]
        self._region, self._series = region, series
        self.loaded += 1
        return series
