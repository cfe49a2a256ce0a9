"""A FLAIR result as it lies on disk, read back without the run that wrote it: its side files
(map.tif -> map.confidence.tif, map.probabilities.tif, map.stats.json), its class names (the GeoTIFF's own
CLASS_<code> band tags, else the .aux.xml category names) and the values at one point."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors

from .errors import InputError
from .gdal_runtime import RASTERIO_ERRORS
from .nomenclature import CLASS_NODATA, Nomenclature, named_classes, nomenclature_of_raster
from .output_kinds import CONFIDENCE_NODATA
from .outputs import OutputPaths


@dataclass(frozen=True)
class ClassProbability:
    """One class and its probability (0..1) at a pixel."""

    code: int
    name: str
    probability: float


@dataclass(frozen=True)
class PixelInfo:
    """What a FLAIR result says at one pixel. `code` is None outside the map (nodata); `confidence`
    (0..1) is None without a confidence raster or where it has no value; `top` (most probable first) is
    empty without a probabilities raster."""

    row: int
    col: int
    code: int | None
    name: str
    confidence: float | None
    top: tuple[ClassProbability, ...] = ()


class FlairResult:
    """The files of one FLAIR map and its nomenclature, read back from the class raster `classes`.

    Raises InputError when `classes` is missing or is not a FLAIR class raster (not a one-band uint8
    raster, or without class names).
    """

    def __init__(self, classes: str | Path) -> None:
        self.classes = Path(classes)
        if not self.classes.is_file():
            raise InputError(f"The class raster {self.classes} does not exist.", "Choose a FLAIR map (.tif).")
        paths = OutputPaths.for_classes(self.classes, confidence=True, probabilities=True)
        self.confidence = paths.confidence if paths.confidence and paths.confidence.is_file() else None
        self.probabilities = (
            paths.probabilities if paths.probabilities and paths.probabilities.is_file() else None
        )
        self.statistics_json = paths.statistics_json if paths.statistics_json.is_file() else None
        self.statistics_csv = paths.statistics_csv if paths.statistics_csv.is_file() else None
        self.aux = paths.aux
        #: The map's classes: the built-in nomenclature it names (French and English), else its own names.
        self.nomenclature: Nomenclature = self._read_nomenclature()

    @property
    def names(self) -> dict[int, str]:
        """Class code -> name, as the nomenclature gives it (English for the built-in ones)."""
        return {c.code: c.name for c in self.nomenclature.classes}

    def _read_nomenclature(self) -> Nomenclature:
        try:
            with rasterio.open(self.classes) as dataset:
                if dataset.count != 1 or dataset.dtypes[0] != "uint8":
                    raise InputError(
                        f"{self.classes.name} is not a FLAIR class raster: it has {dataset.count} band(s) of "
                        f"{dataset.dtypes[0]}, a FLAIR map has one band of uint8 class codes.",
                        "Choose the class raster of a FLAIR result (map.tif, not its confidence).",
                    )
                tags = dataset.tags(1)
                tag = dataset.tags().get("NOMENCLATURE", "")
                colours = _colours(dataset)
        except RASTERIO_ERRORS as exc:
            raise InputError(f"{self.classes} cannot be read: {exc}", "Check that it is a GeoTIFF.") from exc
        names = named_classes(tags, _category_names(self.aux))
        if not names:
            raise InputError(
                f"{self.classes.name} is not a FLAIR class raster: it carries no class names "
                "(no CLASS_<code> band tags, no category names in its .aux.xml).",
                "Choose a map written by FLAIR land cover.",
            )
        return nomenclature_of_raster(tag, names, colours, self.classes.stem)

    def class_name(self, code: int, language: str = "en") -> str:
        """The name of class `code` in `language` (French only for a built-in nomenclature), else its code."""
        if code in self.nomenclature.codes:
            return self.nomenclature.by_code(code).label(language)
        return str(code)

    def present_codes(self) -> list[int] | None:
        """The codes with at least one pixel according to map.stats.json; None when it is missing."""
        if self.statistics_json is None:
            return None
        try:
            document = json.loads(self.statistics_json.read_text(encoding="utf-8"))
            return [int(row["code"]) for row in document["classes"] if int(row["pixels"]) > 0]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def pixel(self, x: float, y: float, language: str = "en", top: int = 3) -> PixelInfo | None:
        """What the map says at (x, y) in the class raster's CRS; None outside the raster."""
        with rasterio.open(self.classes) as dataset:
            cell = _cell(dataset, x, y)
            if cell is None:
                return None
            row, col = cell
            code = int(dataset.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])
        if code == CLASS_NODATA:
            return PixelInfo(row, col, None, "", None, ())
        return PixelInfo(
            row,
            col,
            code,
            self.class_name(code, language),
            self._confidence(x, y),
            self._top(x, y, language, top),
        )

    def _confidence(self, x: float, y: float) -> float | None:
        if self.confidence is None:
            return None
        with rasterio.open(self.confidence) as dataset:
            cell = _cell(dataset, x, y)
            if cell is None:
                return None
            row, col = cell
            value = int(dataset.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])
            if value == (dataset.nodata if dataset.nodata is not None else CONFIDENCE_NODATA):
                return None
            return value * (dataset.scales[0] or 0.01)

    def _top(self, x: float, y: float, language: str, count: int) -> tuple[ClassProbability, ...]:
        if self.probabilities is None:
            return ()
        with rasterio.open(self.probabilities) as dataset:
            cell = _cell(dataset, x, y)
            if cell is None:
                return ()
            row, col = cell
            window = ((row, row + 1), (col, col + 1))
            if not dataset.read_masks(1, window=window)[0, 0]:
                return ()
            values = dataset.read(window=window)[:, 0, 0].astype(np.float64)
            codes = [int(dataset.tags(band).get("CODE", band)) for band in range(1, dataset.count + 1)]
            scales = [scale or 1 / 255 for scale in dataset.scales]
        probabilities = [value * scale for value, scale in zip(values, scales, strict=True)]
        order = sorted(range(len(codes)), key=lambda i: -probabilities[i])[:count]
        return tuple(
            ClassProbability(codes[i], self.class_name(codes[i], language), probabilities[i]) for i in order
        )


def _cell(dataset, x: float, y: float) -> tuple[int, int] | None:
    row, col = dataset.index(x, y)
    if 0 <= row < dataset.height and 0 <= col < dataset.width:
        return int(row), int(col)
    return None


def _colours(dataset) -> dict[int, str]:
    """Code -> "#rrggbb" from band 1's colour table; empty without one."""
    try:
        table = dataset.colormap(1)
    except ValueError:
        return {}
    return {code: f"#{r:02x}{g:02x}{b:02x}" for code, (r, g, b, *_) in table.items()}


def _category_names(aux: Path) -> list[str]:
    """Category names of band 1 in GDAL's PAM side-car (index = code, "" where empty)."""
    try:
        root = ET.parse(aux).getroot()
    except (OSError, ET.ParseError):
        return []
    band = root.find("PAMRasterBand[@band='1']")
    categories = band.find("CategoryNames") if band is not None else None
    if categories is None:
        return []
    return [c.text or "" for c in categories.findall("Category")]
