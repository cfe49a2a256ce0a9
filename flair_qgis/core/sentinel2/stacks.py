"""Sentinel-2 already prepared by the user as GeoTIFFs: one file per date, or one stack with a dates file.

- Per-date file: 10 bands in FLAIR order (B2 B3 B4 B5 B6 B7 B8 B8A B11 B12), reflectance x 10000, the
  date in the name (`S2_20210114.tif`, `2021-01-14_T31TCJ.tif`); optional `<stem>_masks.tif` beside it
  with 2 bands [snow, cloud] 0..100.
- Stack: 10 x T bands, date after date (band 10 t + b + 1 is band b of date t), with a dates file
  `<stem>_dates.txt` (or `<stem>.txt`) of T lines (YYYY-MM-DD, YYYYMMDD or product names); optional
  `<stem>_masks.tif` with 2 x T bands [snow, cloud] date after date.
The file's nodata value marks missing pixels; in a uint16 file, so does 65535, the saturated value of
ESA's products (no reflectance x 10000 reaches it).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .dates import parse_date
from .layout import BANDS, PROBABILITY, MaskSource, ProductBand, ProductLayout

MASK_SUFFIXES = ("_masks", "_mask")
DATES_SUFFIXES = ("_dates.txt", ".txt")
TIFF_SUFFIXES = (".tif", ".tiff")
#: The saturated value of uint16 reflectance x 10000, as in ESA's Level-2A bands.
SATURATED_UINT16 = 65535


def saturated_value(dtype: str) -> float | None:
    """The value read as saturated (hence missing) in a GeoTIFF of `dtype`: 65535 in uint16, else none."""
    return SATURATED_UINT16 if dtype == "uint16" else None


def is_mask_file(path: Path) -> bool:
    return path.stem.lower().endswith(MASK_SUFFIXES)


def mask_file_for(path: Path) -> Path | None:
    for suffix in MASK_SUFFIXES:
        for ext in TIFF_SUFFIXES:
            candidate = path.with_name(path.stem + suffix + ext)
            if candidate.is_file():
                return candidate
    return None


def dates_file_for(path: Path) -> Path | None:
    for suffix in DATES_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_dates_file(path: Path) -> list[date]:
    """One date per non-empty line; ValueError naming the line when one holds no date."""
    dates = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        found = parse_date(line.strip())
        if found is None:
            raise ValueError(f"line {number} of {path.name} holds no date: '{line.strip()}'")
        dates.append(found)
    return dates


def per_date_layout(
    path: Path, nodata: float | None, mask_path: Path | None, saturated: float | None = None
) -> ProductLayout:
    """Layout of a 10-band per-date GeoTIFF and its optional mask file."""
    bands = tuple(ProductBand(path.as_posix(), b + 1, nodata, saturated=saturated) for b in range(len(BANDS)))
    if mask_path is None:
        return ProductLayout(bands)
    return ProductLayout(
        bands,
        MaskSource(mask_path.as_posix(), 1, PROBABILITY),
        MaskSource(mask_path.as_posix(), 2, PROBABILITY),
    )


def stack_layouts(
    path: Path, count: int, nodata: float | None, mask_path: Path | None, saturated: float | None = None
) -> list[ProductLayout]:
    """One layout per date of a stacked GeoTIFF of `count` = 10 x T bands."""
    layouts = []
    n = len(BANDS)
    for t in range(count // n):
        bands = tuple(
            ProductBand(path.as_posix(), t * n + b + 1, nodata, saturated=saturated) for b in range(n)
        )
        if mask_path is None:
            layouts.append(ProductLayout(bands))
        else:
            snow = MaskSource(mask_path.as_posix(), 2 * t + 1, PROBABILITY)
            cloud = MaskSource(mask_path.as_posix(), 2 * t + 2, PROBABILITY)
            layouts.append(ProductLayout(bands, snow, cloud))
    return layouts
