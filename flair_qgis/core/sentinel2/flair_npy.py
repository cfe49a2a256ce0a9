"""The FLAIR #2 dataset's Sentinel-2 super-areas, read the way the baseline reads them.

One zone's series is stored as `SEN2_sp_<domain>-<zone>_data.npy` (T x 10 x H x W reflectance x 10000),
`_masks.npy` (T x 2 x H x W, snow and cloud probabilities 0..100) and `_products.txt` (T product names);
`flair-2_centroids_sp_to_patch.json` maps each aerial patch `IMG_<id>.tif` to its centre [row, col] in
its zone's super-area. The arrays are memory-mapped: a window reads only its own pixels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ..errors import InputError
from .dates import parse_date

DATA_SUFFIX = "_data.npy"
MASKS_SUFFIX = "_masks.npy"
PRODUCTS_SUFFIX = "_products.txt"
CENTROIDS_NAME = "flair-2_centroids_sp_to_patch.json"


def read_products(path: str | Path) -> tuple[list[str], list[date]]:
    """The product names of a `_products.txt` and the acquisition date parsed from each.

    The baseline takes characters [15:19] as MMDD and forces the year to 2021; here the whole date is
    parsed from the name (ESA, Theia or any YYYYMMDD), so other years and 29 February are right.
    """
    path = Path(path)
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    dates = []
    for line_number, name in enumerate(names, start=1):
        found = parse_date(name)
        if found is None:
            raise InputError(
                f"No acquisition date in line {line_number} of {path}: '{name}'",
                "Each line must be a Sentinel-2 product name holding its date (e.g. S2A_MSIL2A_20210114T...).",
            )
        dates.append(found)
    return names, dates


def read_centroids(path: str | Path) -> dict[str, tuple[int, int]]:
    """`flair-2_centroids_sp_to_patch.json`: patch file name -> (row, col) of its centre in the super-area."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read the FLAIR #2 centroids file {path}: {exc}") from exc
    return {name: (int(rc[0]), int(rc[1])) for name, rc in raw.items()}


def centre_slice(centre: int, size: int) -> slice:
    """Rows (or columns) of a window of `size` centred on `centre`: [centre - size//2, ... + size).

    For an even size this is the baseline's [centre - size/2, centre + size/2).
    """
    start = centre - size // 2
    return slice(start, start + size)


@dataclass
class FlairSuperArea:
    """One zone's Sentinel-2 series: data T x 10 x H x W, masks T x 2 x H x W (memory-mapped), dates."""

    data_path: Path
    data: np.ndarray
    masks: np.ndarray
    products: list[str]
    dates: list[date]

    @classmethod
    def open(cls, data_path: str | Path) -> FlairSuperArea:
        """Open `<prefix>_data.npy` with its `_masks.npy` and `_products.txt` beside it."""
        data_path = Path(data_path)
        if not data_path.name.endswith(DATA_SUFFIX):
            raise InputError(f"Not a FLAIR #2 super-area data file (expected *{DATA_SUFFIX}): {data_path}")
        prefix = data_path.name[: -len(DATA_SUFFIX)]
        masks_path = data_path.with_name(prefix + MASKS_SUFFIX)
        products_path = data_path.with_name(prefix + PRODUCTS_SUFFIX)
        for needed in (data_path, masks_path, products_path):
            if not needed.is_file():
                raise InputError(
                    f"Missing file of the FLAIR #2 super-area {prefix}: {needed.name}",
                    "A super-area needs its _data.npy, _masks.npy and _products.txt side by side.",
                )
        try:
            data = np.load(data_path, mmap_mode="r")
            masks = np.load(masks_path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read the FLAIR #2 super-area {prefix}: {exc}") from exc
        products, dates = read_products(products_path)
        if data.ndim != 4 or data.shape[1] != 10:
            raise InputError(f"{data_path.name}: expected T x 10 x H x W, got {data.shape}")
        if (
            masks.ndim != 4
            or masks.shape[1] != 2
            or masks.shape[0] != data.shape[0]
            or masks.shape[2:] != data.shape[2:]
        ):
            raise InputError(
                f"{masks_path.name}: expected {data.shape[0]} x 2 x {data.shape[2]} x {data.shape[3]}, got {masks.shape}"
            )
        if len(dates) != data.shape[0]:
            raise InputError(
                f"{products_path.name} lists {len(dates)} products for {data.shape[0]} dates in {data_path.name}"
            )
        return cls(data_path, data, masks, products, dates)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[2]), int(self.data.shape[3])

    def window(self, row: int, col: int, size: int) -> tuple[np.ndarray, np.ndarray, list[date]]:
        """The size x size window centred on (row, col), slicing as the baseline does.

        Returns data T x 10 x size x size float32 (NaN where the window leaves the super-area, which the
        baseline would instead crop silently), masks T x 2 x size x size uint8, and the T dates.
        """
        height, width = self.shape
        rows, cols = centre_slice(row, size), centre_slice(col, size)
        t = self.data.shape[0]
        data = np.full((t, 10, size, size), np.nan, dtype=np.float32)
        masks = np.zeros((t, 2, size, size), dtype=np.uint8)
        r0, r1 = max(rows.start, 0), min(rows.stop, height)
        c0, c1 = max(cols.start, 0), min(cols.stop, width)
        if r0 < r1 and c0 < c1:
            dr, dc = r0 - rows.start, c0 - cols.start
            data[:, :, dr : dr + r1 - r0, dc : dc + c1 - c0] = self.data[:, :, r0:r1, c0:c1]
            masks[:, :, dr : dr + r1 - r0, dc : dc + c1 - c0] = np.clip(
                self.masks[:, :, r0:r1, c0:c1], 0, 100
            )
        return data, masks, list(self.dates)


def super_area_for_patch(sen_folder: str | Path) -> FlairSuperArea:
    """The super-area stored in one zone's `sen/` folder (the single `*_data.npy` in it)."""
    found = sorted(Path(sen_folder).glob("*" + DATA_SUFFIX))
    if len(found) != 1:
        raise InputError(f"Expected one *{DATA_SUFFIX} in {sen_folder}, found {len(found)}")
    return FlairSuperArea.open(found[0])


def patch_window(
    super_area: FlairSuperArea, centroids: dict[str, tuple[int, int]], patch_name: str, size: int
) -> tuple[np.ndarray, np.ndarray, list[date]]:
    """The window of an aerial patch (`IMG_<id>.tif`) from its zone's super-area and the centroids."""
    key = Path(patch_name).name
    if key not in centroids:
        raise InputError(f"The FLAIR #2 centroids file has no entry for {key}")
    row, col = centroids[key]
    return super_area.window(row, col, size)
