"""The FLAIR land-cover nomenclatures: class codes, English and French names, official colours."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LandCoverClass:
    """One class of a nomenclature: the code written in class rasters, its names and its colour."""

    code: int
    name: str
    name_fr: str
    colour: str  # "#rrggbb"

    @property
    def rgb(self) -> tuple[int, int, int]:
        value = self.colour.lstrip("#")
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)

    def label(self, language: str = "en") -> str:
        """The class name in `language` ("fr..." gives French, anything else English)."""
        return self.name_fr if language.lower().startswith("fr") else self.name


@dataclass(frozen=True)
class Nomenclature:
    """An ordered list of classes; model output channel i predicts classes[i]."""

    name: str
    classes: tuple[LandCoverClass, ...]

    def __post_init__(self) -> None:
        codes = [c.code for c in self.classes]
        if len(set(codes)) != len(codes):
            raise ValueError(f"nomenclature '{self.name}' repeats a class code: {codes}")
        if any(not 1 <= code <= 255 for code in codes):
            raise ValueError(f"nomenclature '{self.name}' has a code outside 1..255: {codes}")

    @property
    def codes(self) -> list[int]:
        return [c.code for c in self.classes]

    def by_code(self, code: int) -> LandCoverClass:
        for cls in self.classes:
            if cls.code == code:
                return cls
        raise KeyError(f"no class with code {code} in nomenclature '{self.name}'")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "classes": [
                {"code": c.code, "name": c.name, "name_fr": c.name_fr, "colour": c.colour}
                for c in self.classes
            ],
        }


_FLAIR_19 = [
    (1, "building", "bâtiment", "#db0e9a"),
    (2, "pervious surface", "zone perméable", "#938e7b"),
    (3, "impervious surface", "zone imperméable", "#f80c00"),
    (4, "bare soil", "sol nu", "#a97101"),
    (5, "water", "eau", "#1553ae"),
    (6, "coniferous", "conifères", "#194a26"),
    (7, "deciduous", "feuillus", "#46e483"),
    (8, "brushwood", "broussaille", "#f3a60d"),
    (9, "vineyard", "vigne", "#660082"),
    (10, "herbaceous vegetation", "pelouse", "#55ff00"),
    (11, "agricultural land", "culture", "#fff30d"),
    (12, "plowed land", "terre labourée", "#e4df7c"),
    (13, "swimming pool", "piscine", "#3de6eb"),
    (14, "snow", "neige", "#ffffff"),
    (15, "clear cut", "coupe", "#8ab3a0"),
    (16, "mixed", "mixte", "#6b714f"),
    (17, "ligneous", "ligneux", "#c5dc42"),
    (18, "greenhouse", "serres", "#9999ff"),
    (19, "other", "autre", "#000000"),
]

#: The 19 classes of the FLAIR reference labels (pixel values 1..19).
FLAIR_19 = Nomenclature("FLAIR (19 classes)", tuple(LandCoverClass(*row) for row in _FLAIR_19))

#: The 13 classes of the FLAIR #2 baseline: 1..12 kept, 13..19 merged into "other" (code 13).
FLAIR_13 = Nomenclature(
    "FLAIR #2 (13 classes)",
    tuple(LandCoverClass(*row) for row in _FLAIR_19[:12])
    + (LandCoverClass(13, "other", "autre", "#000000"),),
)

#: Code of FLAIR_13's "other" class, which the FLAIR #2 mIoU leaves out.
FLAIR_13_OTHER = 13


def flair19_to_flair13(code: int) -> int:
    """Map a reference label (1..19) to the 13-class nomenclature (13..19 become 13, "other")."""
    if not 1 <= code <= 19:
        raise ValueError(f"FLAIR label {code} is outside 1..19")
    return code if code <= 12 else FLAIR_13_OTHER


#: The value of class rasters' pixels outside the map: no class has code 0.
CLASS_NODATA = 0

#: The nomenclatures whose French and English names are known, by the name a class raster records in its
#: NOMENCLATURE tag.
KNOWN_NOMENCLATURES = {n.name: n for n in (FLAIR_13, FLAIR_19)}

#: Gray for a class a raster names but whose colour it does not say.
UNKNOWN_COLOUR = "#808080"


def named_classes(band_tags: Mapping[str, str], category_names: Sequence[str] = ()) -> dict[int, str]:
    """The classes a class raster's band names: its CLASS_<code> tags, then its category names (index =
    code) for the codes the tags leave out. Only codes 1..255 count: 0 is CLASS_NODATA."""
    named: dict[int, str] = {}
    for key, value in band_tags.items():
        match = re.fullmatch(r"CLASS_(\d+)", key)
        if match and value and 1 <= int(match.group(1)) <= 255:
            named[int(match.group(1))] = value
    for code, name in enumerate(category_names):
        if 1 <= code <= 255 and name and code not in named:
            named[code] = name
    return named


def nomenclature_of_raster(
    tag: str, named: Mapping[int, str], colours: Mapping[int, str] | None = None, fallback_name: str = ""
) -> Nomenclature:
    """The nomenclature of a class raster whose NOMENCLATURE tag is `tag` and whose band names the classes
    `named` (see named_classes): the built-in one the tag names when every named class belongs to it (so
    French and English names are both known), else the classes as the file names them, coloured by
    `colours` (code -> "#rrggbb", gray when missing)."""
    known = KNOWN_NOMENCLATURES.get(tag)
    if known is not None and set(named) <= set(known.codes):
        return known
    colours = colours or {}
    classes = tuple(
        LandCoverClass(code, name, name, colours.get(code, UNKNOWN_COLOUR))
        for code, name in sorted(named.items())
    )
    return Nomenclature(tag or fallback_name or "classes of the raster", classes)
