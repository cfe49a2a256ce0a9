"""The FLAIR land-cover nomenclatures: class codes, English and French names, official colours."""

from __future__ import annotations

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
