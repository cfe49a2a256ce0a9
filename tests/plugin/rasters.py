"""Small real GeoTIFFs for the plugin tests, written with rasterio in Lambert-93 at 0.2 m."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

CRS = "EPSG:2154"
ORIGIN = (651000.0, 6862000.0)  # a point in Lambert-93 (Paris area): x west edge, y north edge
GSD = 0.2


def write_geotiff(
    path: Path, data: np.ndarray, gsd: float = GSD, origin: tuple[float, float] = ORIGIN, nodata=None
) -> Path:
    """Write `data` (bands x rows x cols) as a GeoTIFF whose top-left corner is `origin`."""
    bands, rows, cols = data.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": bands,
        "dtype": data.dtype.name,
        "crs": CRS,
        "transform": Affine(gsd, 0.0, origin[0], 0.0, -gsd, origin[1]),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def quadrant_classes(size: int, codes: tuple[int, int, int, int]) -> np.ndarray:
    """A 1 x size x size uint8 class raster: `codes` in the top-left, top-right, bottom-left and
    bottom-right quadrants."""
    half = size // 2
    data = np.zeros((1, size, size), dtype=np.uint8)
    data[0, :half, :half], data[0, :half, half:] = codes[0], codes[1]
    data[0, half:, :half], data[0, half:, half:] = codes[2], codes[3]
    return data
