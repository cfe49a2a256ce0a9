"""Small real GeoTIFF fixtures for the engine's tests: any bands, dtype, CRS, transform and nodata,
written with rasterio exactly as a GIS would write them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

#: A place in France in Lambert-93 (EPSG:2154), on round metres so grids are easy to reason about.
ORIGIN = (650000.0, 6860000.0)
LAMBERT93 = "EPSG:2154"


def grid_transform(resolution: float = 0.2, origin: tuple[float, float] = ORIGIN) -> Affine:
    """North-up transform whose top-left corner is `origin` (x, y) with square pixels of `resolution`."""
    return Affine(resolution, 0.0, origin[0], 0.0, -resolution, origin[1])


def write_raster(
    path: str | Path,
    data: np.ndarray,
    *,
    crs: str | None = LAMBERT93,
    transform: Affine | None = None,
    resolution: float = 0.2,
    origin: tuple[float, float] = ORIGIN,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    nbits: int | None = None,
    tiled: bool = False,
    driver: str = "GTiff",
) -> Path:
    """Write `data` (bands x rows x cols, or rows x cols for one band) as a GeoTIFF of data.dtype.

    The transform is `transform`, else one built from `resolution` and `origin`. `driver`
    "JP2OpenJPEG" writes a lossless JPEG 2000 instead (as IGN's BD ORTHO tiles). Returns the path.
    """
    path = Path(path)
    if data.ndim == 2:
        data = data[np.newaxis]
    options = {}
    if tiled:
        options.update(tiled=True, blockxsize=16, blockysize=16)
    if nbits:
        options["nbits"] = nbits
    if driver == "JP2OpenJPEG":
        options.update(quality=100, reversible="YES")
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform or grid_transform(resolution, origin),
        nodata=nodata,
        **options,
    ) as dst:
        dst.write(data)
        for band, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(band, text)
    return path


def ramp(bands: int, rows: int, cols: int, dtype: str = "uint8", start: int = 0) -> np.ndarray:
    """bands x rows x cols where band b, pixel (r, c) holds start + 100 * b + 10 * r + c (mod the
    dtype's range): every value says where it came from."""
    b, r, c = np.meshgrid(np.arange(bands), np.arange(rows), np.arange(cols), indexing="ij")
    values = start + 100 * b + 10 * r + c
    if np.dtype(dtype).kind in "ui":
        values = values % (int(np.iinfo(dtype).max) + 1)
    return values.astype(dtype)


def write_corrupt(path: str | Path) -> Path:
    """A file named like a GeoTIFF whose bytes are not an image."""
    path = Path(path)
    path.write_bytes(b"this is not a raster\n" * 20)
    return path


def write_truncated(path: str | Path, rows: int = 64, cols: int = 64) -> Path:
    """A GeoTIFF whose header is intact but whose pixel data are cut off (an interrupted copy)."""
    path = Path(path)
    rng = np.random.default_rng(0)
    write_raster(path, rng.integers(0, 255, (5, rows, cols), dtype=np.uint8))
    content = path.read_bytes()
    # GDAL writes the strip data after the header; keep the IFD (at the start) and lose most pixels.
    path.write_bytes(content[: len(content) // 3])
    return path
