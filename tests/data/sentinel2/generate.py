"""Writes small Sentinel-2 fixtures in the exact on-disk formats the plugin reads.

Every writer takes the values to store as functions or arrays, so tests (and the demo) choose fields
that can be checked by hand: constants per band and date, gradients, known cloudy dates.
Run as a script to write a sample of each format into a folder: `python generate.py OUT_DIR`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: FLAIR band order and the resolution of each band in the products (metres).
BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
BAND_GSD = {
    "B2": 10,
    "B3": 10,
    "B4": 10,
    "B8": 10,
    "B5": 20,
    "B6": 20,
    "B7": 20,
    "B8A": 20,
    "B11": 20,
    "B12": 20,
}


def write_flair_super_area(
    folder: str | Path,
    domain: str,
    zone: str,
    data: np.ndarray,
    masks: np.ndarray,
    products: Sequence[str],
) -> Path:
    """Write one zone's `SEN2_sp_<domain>-<zone>_data.npy`, `_masks.npy` and `_products.txt`.

    data: T x 10 x H x W (uint16 as in the dataset, any dtype accepted), masks: T x 2 x H x W uint8.
    Returns the path of the `_data.npy`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / f"SEN2_sp_{domain}-{zone}"
    np.save(f"{prefix}_data.npy", data)
    np.save(f"{prefix}_masks.npy", masks)
    Path(f"{prefix}_products.txt").write_text("".join(p + "\n" for p in products), encoding="utf-8")
    return Path(f"{prefix}_data.npy")


def write_flair_centroids(path: str | Path, centroids: dict[str, tuple[int, int]]) -> Path:
    """Write `flair-2_centroids_sp_to_patch.json`: {"IMG_<id>.tif": [row, col]}."""
    path = Path(path)
    path.write_text(json.dumps({k: [int(r), int(c)] for k, (r, c) in centroids.items()}), encoding="utf-8")
    return path


def safe_product_name(day: str, tile: str, baseline: str = "05.00", satellite: str = "S2A") -> str:
    """ESA L2A product name for an acquisition on `day` (YYYYMMDD): S2A_MSIL2A_<day>T105331_N0500_..."""
    return f"{satellite}_MSIL2A_{day}T105331_N{baseline.replace('.', '')}_R051_T{tile}_20230523T123456"


def theia_product_name(day: str, tile: str, satellite: str = "SENTINEL2A") -> str:
    """Theia/MAJA L2A product name: SENTINEL2A_<day>-105852-555_L2A_T<tile>_C_V2-2."""
    return f"{satellite}_{day}-105852-555_L2A_T{tile}_C_V2-2"
