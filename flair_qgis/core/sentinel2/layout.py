"""Where an acquisition's ten bands and two masks are, and how their values become reflectance x 10000.

Every product kind (SAFE, Theia, GeoTIFF stacks) is described by a ProductLayout, so that one reader
(warp.py) puts any of them on the aerial grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bundle_spec import SENTINEL2_BANDS

#: Sentinel-2 bands in the order FLAIR models take them.
BANDS = SENTINEL2_BANDS
#: Native resolution of each band (metres).
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

PROBABILITY, BITS, CLASSES = "probability", "bits", "classes"


@dataclass(frozen=True)
class MaskSource:
    """A snow, cloud or saturation layer turned into probabilities 0..100.

    kind "probability": values are already 0..100 (SAFE's MSK_CLDPRB/MSK_SNWPRB, user masks);
    "bits": 100 where any of `bits` is set (Theia's CLM and MG2); "classes": 100 where the value is
    one of `classes` (the scene classification SCL).
    """

    path: str
    band: int = 1
    kind: str = PROBABILITY
    bits: int = 0
    classes: tuple[int, ...] = ()

    def to_probability(self, values: np.ndarray) -> np.ndarray:
        """values (integers) to uint8 probabilities 0..100."""
        if self.kind == BITS:
            return np.where((values.astype(np.int64) & self.bits) != 0, 100, 0).astype(np.uint8)
        if self.kind == CLASSES:
            return np.where(np.isin(values, self.classes), 100, 0).astype(np.uint8)
        return np.clip(values, 0, 100).astype(np.uint8)


@dataclass(frozen=True)
class ProductBand:
    """One band in a raster: reflectance x 10000 = (DN + offset) * gain, DN == nodata is missing.

    Saturated pixels are missing too, never reflectance: those whose DN is `saturated` (SAFE's declared
    saturation value), and those that the bit mask `saturation` flags for this band (Theia's SAT masks).
    """

    path: str  # a path GDAL opens, /vsizip/... inside a zip
    band: int = 1  # 1-based
    nodata: float | None = None
    offset: float = 0.0
    gain: float = 1.0
    saturated: float | None = None
    saturation: MaskSource | None = None

    def to_reflectance(self, values: np.ndarray) -> np.ndarray:
        """values (NaN = missing) to reflectance x 10000, in place when float32."""
        if self.offset:
            values += self.offset
        if self.gain != 1.0:
            values *= self.gain
        return values


@dataclass(frozen=True)
class ProductLayout:
    """The ten bands in FLAIR order and the optional [snow, cloud] masks of one acquisition."""

    bands: tuple[ProductBand, ...]
    snow: MaskSource | None = None
    cloud: MaskSource | None = None

    def __post_init__(self) -> None:
        if len(self.bands) != len(BANDS):
            raise ValueError(f"A layout needs {len(BANDS)} bands, got {len(self.bands)}")

    @property
    def masks(self) -> tuple[MaskSource | None, MaskSource | None]:
        return self.snow, self.cloud


#: One product found in a folder or a zip: its layout (None when it cannot be used: the note says why),
#: a note for the user, and the product's own name when known (it gives the date and the tile).
FoundProduct = tuple[ProductLayout | None, str, str | None]
