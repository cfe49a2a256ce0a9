"""ESA Level-2A SAFE products (folders or .zip read through GDAL's /vsizip/, never unpacked).

Bands come from GRANULE/*/IMG_DATA/R10m (B02 B03 B04 B08) and R20m (B05 B06 B07 B8A B11 B12); the
offset of processing baseline 04.00 and later (BOA_ADD_OFFSET, per band in MTD_MSIL2A.xml) is added
back and saturated pixels (the SATURATED special value, 65535) are nodata; cloud and snow probabilities come from QI_DATA/MSK_CLDPRB_20m.jp2 and MSK_SNWPRB_20m.jp2
(*_CLD_20m.jp2 and *_SNW_20m.jp2 before 2018), or from the scene classification (SCL) when absent.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .dates import parse_date
from .layout import BANDS, CLASSES, PROBABILITY, FoundProduct, MaskSource, ProductBand, ProductLayout

METADATA_NAME = "MTD_MSIL2A.xml"
#: The metadata file of a Level-1C product, which holds top-of-atmosphere reflectance.
L1C_METADATA_NAME = "MTD_MSIL1C.xml"
LEVEL_1C = "Level-1C, top-of-atmosphere (the model needs Level-2A surface reflectance: get the L2A product)"
#: File name token and resolution folder of each FLAIR band in a SAFE product.
SAFE_BANDS = {
    "B2": ("B02", "10m"),
    "B3": ("B03", "10m"),
    "B4": ("B04", "10m"),
    "B5": ("B05", "20m"),
    "B6": ("B06", "20m"),
    "B7": ("B07", "20m"),
    "B8": ("B08", "10m"),
    "B8A": ("B8A", "20m"),
    "B11": ("B11", "20m"),
    "B12": ("B12", "20m"),
}
#: band_id of each band in the metadata's Spectral_Information and BOA_ADD_OFFSET lists.
BAND_IDS = {
    "B1": 0,
    "B2": 1,
    "B3": 2,
    "B4": 3,
    "B5": 4,
    "B6": 5,
    "B7": 6,
    "B8": 7,
    "B8A": 8,
    "B9": 9,
    "B10": 10,
    "B11": 11,
    "B12": 12,
}
#: Scene classification values read as cloud when the probability masks are missing: 8 cloud medium
#: probability, 9 cloud high probability, 10 thin cirrus. 3 (cloud shadow) is left out, as no shadow is
#: cloud (see "Cloud shadows" in docs/sentinel2.md). 11 is snow.
SCL_CLOUD = (8, 9, 10)
SCL_SNOW = (11,)
#: SAFE bands store 0 for missing pixels.
NODATA = 0
#: The DN of saturated pixels in Level-2A bands, unless the metadata's Special_Values say otherwise.
SATURATED = 65535


@dataclass(frozen=True)
class SafeMetadata:
    """What MTD_MSIL2A.xml says about radiometry: reflectance = (DN + offset[band]) / quantification,
    and the DN of saturated pixels (Special_Values SATURATED)."""

    processing_baseline: str | None
    quantification: float
    offsets: dict[str, float]
    saturated: float = SATURATED
    product_uri: str | None = None  # the product's name, e.g. S2B_MSIL2A_20210114T105331_..._T31TCJ_....SAFE


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_metadata(xml: bytes) -> SafeMetadata:
    """Read the processing baseline, BOA_QUANTIFICATION_VALUE, BOA_ADD_OFFSET per band and the
    saturated DN of Special_Values. Raises ET.ParseError for malformed XML (entity expansion bombs
    included: expat refuses them), ValueError for a value that is no number or no usable one."""
    root = ET.fromstring(xml)
    baseline, quantification, saturated, product_uri = None, 10000.0, float(SATURATED), None
    ids = dict(BAND_IDS)
    raw_offsets: dict[int, float] = {}
    for element in root.iter():
        name = _local(element.tag)
        if name == "PROCESSING_BASELINE" and element.text:
            baseline = element.text.strip()
        elif name == "PRODUCT_URI" and element.text:
            product_uri = element.text.strip()
        elif name == "BOA_QUANTIFICATION_VALUE" and element.text:
            quantification = float(element.text)
        elif name == "BOA_ADD_OFFSET" and element.text:
            raw_offsets[int(element.get("band_id", "-1"))] = float(element.text)
        elif name == "Spectral_Information" and element.get("physicalBand") and element.get("bandId"):
            ids[element.get("physicalBand", "").replace("B0", "B")] = int(element.get("bandId", "-1"))
        elif name == "Special_Values":
            values = {_local(child.tag): (child.text or "").strip() for child in element}
            if values.get("SPECIAL_VALUE_TEXT", "").upper() == "SATURATED":
                saturated = float(values.get("SPECIAL_VALUE_INDEX", SATURATED))
    offsets = {band: raw_offsets.get(ids[band], 0.0) for band in BANDS}
    if not (math.isfinite(quantification) and quantification > 0):
        raise ValueError(f"BOA_QUANTIFICATION_VALUE {quantification} is not a positive number")
    for band, offset in offsets.items():
        if not math.isfinite(offset):
            raise ValueError(f"BOA_ADD_OFFSET of {band} is {offset}")
    return SafeMetadata(baseline, quantification, offsets, saturated, product_uri)


def _find(names: list[str], pattern: str) -> str | None:
    regex = re.compile(pattern)
    found = sorted(n for n in names if regex.search(n))
    return found[0] if found else None


def layout_from_names(
    names: list[str], prefix: str, metadata: SafeMetadata
) -> tuple[ProductLayout | None, str]:
    """The layout of a product from its member names (relative paths with '/').

    `prefix` turns a member name into a GDAL path. Returns (None, reason) when a band is missing.
    """
    bands, missing = [], []
    gain = 10000.0 / metadata.quantification
    for band in BANDS:
        token, resolution = SAFE_BANDS[band]
        name = _find(names, rf"GRANULE/[^/]+/IMG_DATA/R{resolution}/[^/]*_{token}_{resolution}\.jp2$")
        if name is None:
            missing.append(f"{token}_{resolution}")
            continue
        bands.append(ProductBand(prefix + name, 1, NODATA, metadata.offsets[band], gain, metadata.saturated))
    if missing:
        return None, f"missing bands {', '.join(missing)}"
    # Sen2Cor 2.4/2.5 (2017-2018) named them QI_DATA/L2A_<tile>_<time>_CLD_20m.jp2 and _SNW_20m.jp2.
    cloud_prob = _find(names, r"GRANULE/[^/]+/QI_DATA/(?:MSK_CLDPRB|[^/]*_CLD)_20m\.jp2$")
    snow_prob = _find(names, r"GRANULE/[^/]+/QI_DATA/(?:MSK_SNWPRB|[^/]*_SNW)_20m\.jp2$")
    scl = _find(names, r"GRANULE/[^/]+/IMG_DATA/R20m/[^/]*_SCL_20m\.jp2$")
    cloud = snow = None
    if cloud_prob:
        cloud = MaskSource(prefix + cloud_prob, 1, PROBABILITY)
    elif scl:
        cloud = MaskSource(prefix + scl, 1, CLASSES, classes=SCL_CLOUD)
    if snow_prob:
        snow = MaskSource(prefix + snow_prob, 1, PROBABILITY)
    elif scl:
        snow = MaskSource(prefix + scl, 1, CLASSES, classes=SCL_SNOW)
    note = (
        ""
        if cloud_prob and snow_prob
        else ("masks from the scene classification" if scl else "no cloud mask")
    )
    return ProductLayout(tuple(bands), snow, cloud), note


def is_safe_folder(folder: Path) -> bool:
    """Whether `folder` is a SAFE product: named `<name>.SAFE`, or holding its metadata at the top (the
    contents of a .SAFE unpacked into a folder of another name)."""
    return folder.name.upper().endswith(".SAFE") or any(
        (folder / name).is_file() for name in (METADATA_NAME, L1C_METADATA_NAME)
    )


def folder_product_name(folder: Path) -> str:
    """The product's own name for an unpacked SAFE: the folder's name when it holds a date, else the
    PRODUCT_URI of its metadata (a folder renamed by hand), else the folder's name."""
    if parse_date(folder.name):
        return folder.name
    try:
        uri = parse_metadata((folder / METADATA_NAME).read_bytes()).product_uri
    except (OSError, ET.ParseError, ValueError):
        uri = None
    return uri or folder.name


def safe_folder_layout(folder: Path) -> tuple[ProductLayout | None, str]:
    """Layout of an unpacked `<name>.SAFE` folder."""
    metadata_path = folder / METADATA_NAME
    if not metadata_path.is_file():
        if (folder / L1C_METADATA_NAME).is_file():
            return None, LEVEL_1C
        return None, f"no {METADATA_NAME} (not a Level-2A product)"
    try:
        metadata = parse_metadata(metadata_path.read_bytes())
    except (ET.ParseError, ValueError) as exc:
        return None, f"unreadable {METADATA_NAME}: {exc}"
    names = [p.relative_to(folder).as_posix() for p in (folder / "GRANULE").rglob("*.jp2")]
    return layout_from_names(names, folder.as_posix() + "/", metadata)


def zip_metadata_names(names: list[str]) -> list[str]:
    """The MTD_MSIL2A.xml members of a zip, one per SAFE product it holds (in its .SAFE folder, at any
    depth, or at the root of the zip), sorted."""
    return sorted(n for n in names if n == METADATA_NAME or n.endswith("/" + METADATA_NAME))


def zip_product_name(metadata_name: str, archive: zipfile.ZipFile) -> str | None:
    """The own name of the zipped product whose metadata is `metadata_name`, whatever the zip is called
    (a download id, say): the name of its .SAFE folder, else the PRODUCT_URI of its metadata; None when
    neither is there."""
    root = metadata_name[: -len(METADATA_NAME)].rstrip("/").rsplit("/", 1)[-1]
    if root.upper().endswith(".SAFE"):
        return root
    try:
        return parse_metadata(archive.read(metadata_name)).product_uri
    except (ET.ParseError, ValueError, zipfile.BadZipFile, OSError):
        return None


def safe_zip_layout(
    path: Path, names: list[str], archive: zipfile.ZipFile, metadata_name: str
) -> tuple[ProductLayout | None, str]:
    """Layout of the zipped SAFE product whose metadata is member `metadata_name`, its bands read
    through /vsizip/."""
    try:
        metadata = parse_metadata(archive.read(metadata_name))
    except (ET.ParseError, ValueError, zipfile.BadZipFile, OSError) as exc:
        return None, f"unreadable {METADATA_NAME}: {exc}"
    root = metadata_name[: -len(METADATA_NAME)]
    members = [n[len(root) :] for n in names if n.startswith(root) and n.endswith(".jp2")]
    return layout_from_names(members, f"/vsizip/{path.resolve().as_posix()}/{root}", metadata)


def folder_products(folder: Path) -> list[FoundProduct]:
    """The product of an unpacked SAFE folder."""
    return [(*safe_folder_layout(folder), folder_product_name(folder))]


def in_zip(names: list[str]) -> bool:
    """Whether a zip's members hold a SAFE product (Level-2A, or a Level-1C one that is refused)."""
    return bool(zip_metadata_names(names)) or any(n.endswith(L1C_METADATA_NAME) for n in names)


def zip_products(path: Path, names: list[str], archive: zipfile.ZipFile) -> list[FoundProduct]:
    """Each SAFE product of a zip (it may hold several), or the Level-1C refusal."""
    metadata_names = zip_metadata_names(names)
    if not metadata_names:
        return [(None, LEVEL_1C, None)]
    found: list[FoundProduct] = []
    for metadata_name in metadata_names:
        layout, note = safe_zip_layout(path, names, archive, metadata_name)
        product = zip_product_name(metadata_name, archive)
        if len(metadata_names) > 1 and layout is None:
            note = f"{product or metadata_name}: {note}"
        found.append((layout, note, product))
    return found
