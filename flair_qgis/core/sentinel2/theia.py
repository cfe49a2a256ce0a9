"""Theia/MAJA Level-2A products (folders or .zip): FRE reflectances and CLM/MG2 bit masks.

`<name>_FRE_B2.tif` ... `_FRE_B12.tif` hold int16 reflectance x 10000 (nodata -10000); B2 B3 B4 B8 at
10 m, the others at 20 m. `MASKS/<name>_CLM_R1.tif` is the cloud bit mask at 10 m, of which only the
cloud bits count (cloud shadows do not: see "Cloud shadows" in docs/sentinel2.md), and
`MASKS/<name>_MG2_R1.tif` the geophysical mask, whose bit 2 (value 4) flags snow, as in CESBIO's MAJA
format description. Both become probabilities 0 or 100. The saturation masks `MASKS/<name>_SAT_R1.tif`
and `_SAT_R2.tif` (one bit per band) make a band's saturated pixels nodata.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from .layout import BANDS, BITS, FoundProduct, MaskSource, ProductBand, ProductLayout

NODATA = -10000
#: CLM bits of clouds: 1 all clouds but the thinnest, 2 and 3 those found by mono- and multi-temporal
#: tests, 4 the thinnest clouds, 7 high clouds (1.38 um). Left out: bits 5 and 6 (shadows of a cloud in
#: or outside the image) and bit 0 (clouds or shadows), as no shadow is cloud (docs/sentinel2.md).
CLOUD_BITS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 7)
SNOW_BIT = 1 << 2
#: Saturation mask (MASKS/<name>_SAT_R1.tif for the 10 m bands, _SAT_R2.tif for the 20 m ones) and bit
#: of each band: one bit per band in the band order of its resolution.
SATURATION_BITS = {
    "B2": ("R1", 0),
    "B3": ("R1", 1),
    "B4": ("R1", 2),
    "B8": ("R1", 3),
    "B5": ("R2", 0),
    "B6": ("R2", 1),
    "B7": ("R2", 2),
    "B8A": ("R2", 3),
    "B11": ("R2", 4),
    "B12": ("R2", 5),
}
NAME = re.compile(r"SENTINEL2[A-D]_\d{8}-\d{6}-\d{3}_L2A_T\w{5}_\w_V\d+-\d+", re.IGNORECASE)


def _find(names: list[str], suffix: str) -> str | None:
    found = sorted(n for n in names if n.upper().endswith(suffix.upper()))
    return found[0] if found else None


def layout_from_names(names: list[str], prefix: str) -> tuple[ProductLayout | None, str]:
    """Layout from the member names of a product (relative, with '/'); None and a reason if a band lacks."""
    bands, missing = [], []
    saturation_masks = {resolution: _find(names, f"_SAT_{resolution}.tif") for resolution in ("R1", "R2")}
    for band in BANDS:
        name = _find(names, f"_FRE_{band}.tif")
        if name is None:
            missing.append(f"FRE_{band}")
            continue
        resolution, bit = SATURATION_BITS[band]
        sat = saturation_masks[resolution]
        saturation = MaskSource(prefix + sat, 1, BITS, bits=1 << bit) if sat else None
        bands.append(ProductBand(prefix + name, 1, NODATA, saturation=saturation))
    if missing:
        return None, f"missing bands {', '.join(missing)}"
    clm = _find(names, "_CLM_R1.tif")
    mg2 = _find(names, "_MG2_R1.tif")
    cloud = MaskSource(prefix + clm, 1, BITS, bits=CLOUD_BITS) if clm else None
    snow = MaskSource(prefix + mg2, 1, BITS, bits=SNOW_BIT) if mg2 else None
    note = "" if clm and mg2 else "no cloud or snow mask"
    return ProductLayout(tuple(bands), snow, cloud), note


def theia_folder_layout(folder: Path) -> tuple[ProductLayout | None, str]:
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*.tif")]
    return layout_from_names(names, folder.as_posix() + "/")


def theia_zip_layout(path: Path, names: list[str]) -> tuple[ProductLayout | None, str]:
    members = [n for n in names if n.lower().endswith(".tif")]
    return layout_from_names(members, f"/vsizip/{path.resolve().as_posix()}/")


def zip_product_name(names: list[str]) -> str | None:
    """The product's own name inside a zip (its top folder, SENTINEL2A_..._L2A_T31TCJ_C_V2-2), or None."""
    for name in names:
        top = name.split("/", 1)[0]
        if NAME.search(top):
            return top
    return None


def is_theia_folder(folder: Path) -> bool:
    return bool(NAME.search(folder.name)) or any(folder.glob("*_FRE_B2.tif"))


def folder_products(folder: Path) -> list[FoundProduct]:
    """The product of an unpacked Theia folder (its date and tile come from the folder's name)."""
    return [(*theia_folder_layout(folder), None)]


def in_zip(names: list[str]) -> bool:
    return any(n.upper().endswith("_FRE_B2.TIF") for n in names)


def zip_products(path: Path, names: list[str], archive: zipfile.ZipFile) -> list[FoundProduct]:
    return [(*theia_zip_layout(path, names), zip_product_name(names))]
