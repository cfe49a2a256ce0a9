"""Which layer and band feeds each of the model's aerial bands: sensible defaults from the project's
raster layers (band counts and names), and the engine's band sources built from a choice."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.bundle_spec import AERIAL_BANDS

BAND_LABELS = {
    "red": "Red",
    "green": "Green",
    "blue": "Blue",
    "nir": "Near infrared",
    "elevation": "Elevation",
}

_IRC = re.compile(r"(^|[^a-z])(irc|cir|infra|ir[-_ ]?rgb|pir|nir)([^a-z]|$)", re.IGNORECASE)
_ELEVATION = re.compile(
    r"(^|[^a-z])(mns|mnt|mnh|dsm|dem|dtm|ndsm|nmns|chm|elev\w*|height|hauteur|altitude|alti|lidar)([^a-z]|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LayerBands:
    """What the defaults look at in a raster layer: its id, name and band count."""

    layer_id: str
    name: str
    band_count: int

    @property
    def looks_infrared(self) -> bool:
        return bool(_IRC.search(self.name))

    @property
    def looks_elevation(self) -> bool:
        return bool(_ELEVATION.search(self.name))


#: A choice for one model band: (layer id, 1-based band).
BandChoice = tuple[str, int]


def default_mapping(
    layers: Sequence[LayerBands], bands: Sequence[str] = AERIAL_BANDS
) -> dict[str, BandChoice]:
    """A layer and band for each of `bands` where the project offers a likely one.

    The colour image is the raster with the most bands that is not an infrared (IRC) or elevation
    raster: its bands 1..5 are R, G, B, NIR, elevation as far as it has them. A missing NIR comes from band
    1 of an IRC image (NIR, R, G), a missing elevation from a one-band raster named like an elevation
    model (MNS, nDSM, DEM, MNH...).
    """
    mapping: dict[str, BandChoice] = {}
    colour = [
        layer
        for layer in layers
        if layer.band_count >= 4 or (layer.band_count == 3 and not layer.looks_infrared)
    ]
    colour = [layer for layer in colour if not layer.looks_elevation] or colour
    if colour:
        main = max(colour, key=lambda layer: layer.band_count)
        for index, name in enumerate(AERIAL_BANDS[: main.band_count]):
            mapping[name] = (main.layer_id, index + 1)
    if "nir" not in mapping:
        infrared = [layer for layer in layers if layer.looks_infrared and layer.band_count >= 1]
        if infrared:
            mapping["nir"] = (infrared[0].layer_id, 1)
    if "elevation" not in mapping:
        elevation = [layer for layer in layers if layer.band_count == 1 and layer.looks_elevation]
        if elevation:
            mapping["elevation"] = (elevation[0].layer_id, 1)
    return {name: choice for name, choice in mapping.items() if name in bands}


def missing_bands(mapping: Mapping[str, BandChoice | None], bands: Sequence[str]) -> list[str]:
    """The model bands without a layer in `mapping`."""
    return [name for name in bands if mapping.get(name) is None]


def engine_bands(
    mapping: Mapping[str, BandChoice], bands: Sequence[str], sources: Mapping[str, Any]
) -> list[tuple[Any, int]]:
    """The engine's aerial argument: (path or RasterSource, band) per model band in the bundle's order,
    with `sources` giving each layer id's path or source (built in the main thread)."""
    return [(sources[mapping[name][0]], mapping[name][1]) for name in bands]
