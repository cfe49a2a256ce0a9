"""The table of a map's outputs: one OutputKind per file a run can write, with its writer. The engine's
writer (outputs.OutputWriter), the command line, the dialog, the Processing algorithm and the task that
adds the layers all read this table, so that a new output is one entry here plus its writer.

The strings marked with tr() are translated where they are shown (the plugin's own tr()); the engine
keeps them in English.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rasterio.windows import Window

from .nomenclature import CLASS_NODATA, Nomenclature

if TYPE_CHECKING:
    from .outputs import OutputPaths, OutputWriter

#: The custom property that marks a style as written by this program (see OutputFile.recognises).
_QML_MARK = "flair_qgis/generated"

#: Nodata of the confidence raster (above 100 %); the class raster's is CLASS_NODATA (0, no class has it).
CONFIDENCE_NODATA = 255


def tr(text: str) -> str:
    """Marks `text` for the plugin's translation (scripts/translations.py collects it); unchanged here."""
    return text


class WindowValues:
    """What one finished window of the map gives the raster writers: class codes (h x w, CLASS_NODATA
    outside the map), the mask of pixels outside the map, and the probabilities (C x h x w, 0..1) when
    the caller has them. `confidence` (h x w, 0..1) is the caller's, else the winning probability."""

    def __init__(
        self,
        classes: np.ndarray,
        confidence: np.ndarray | None = None,
        probabilities: np.ndarray | None = None,
    ) -> None:
        self.classes = classes
        self.outside = classes == CLASS_NODATA
        self.probabilities = probabilities
        self._confidence = confidence

    @functools.cached_property
    def confidence(self) -> np.ndarray | None:
        if self._confidence is not None or self.probabilities is None:
            return self._confidence
        return self.probabilities.max(axis=0)


class OutputFile:
    """How the file of one kind is written; OutputWriter calls these with itself as `out`. A raster is
    created by `open` (returning its dataset) and filled window by window by `write`; any other file is
    written by `finish` once the map is complete. Each writes at the temporary path it is given."""

    #: Written window by window (GDAL may put companions beside it; converted to COG with --cog).
    raster = False
    #: Resampling of a raster's overviews when it is converted to a Cloud-Optimised GeoTIFF.
    overview_resampling = "AVERAGE"

    def open(self, out: OutputWriter, temp: Path) -> Any:
        return None

    def write(self, dataset: Any, window: Window, values: WindowValues) -> None:
        pass

    def finish(self, out: OutputWriter, temp: Path) -> None:
        pass

    def recognises(self, text: str, paths: OutputPaths) -> bool:
        """Whether `text`, an existing file at this kind's path, is one this program wrote for `paths`'
        map (Processing replaces those; anything else is the user's)."""
        return False


@dataclass(frozen=True)
class OutputKind:
    """One kind of output. `writer` None: written from the finished map by the QGIS side (the review
    outputs, flair_qgis/review/beside_map.py), not by the engine.

    suffix: the file beside map.tif is map<suffix>, or map.tif<suffix> with `after_name` (GDAL's
    side-car). optional: written only when asked (else always). default: asked on the dialog's first run.
    style: how the task and Processing show it as a layer ("classes", "confidence", "raster", "table",
    "polygons", "review_zones"), None for no layer; `layer` ends its layer name ("map - confidence"),
    `visible` ticks it, `on_top` puts it above the class raster. listing: its line in the command
    line's list of outputs. cli_flag / cli_help: the command line's switch that asks for it.
    checkbox / hint: the dialog's check box and its tooltip. parameter: the Processing destination
    parameter ("raster" or "file" `destination`, `file_filter`), with its `description` and `help`."""

    name: str
    suffix: str
    writer: OutputFile | None
    after_name: bool = False
    optional: bool = True
    default: bool = False
    style: str | None = None
    layer: str = ""
    visible: bool = True
    on_top: bool = False
    listing: str | None = None
    cli_flag: str | None = None
    cli_help: str = ""
    checkbox: str | None = None
    hint: str = ""
    parameter: str | None = None
    destination: str = "raster"
    file_filter: str = ""
    description: str = ""
    help: str = ""

    def beside(self, classes: str | Path) -> Path:
        """Where this output goes beside the class raster `classes` (e.g. map.tif)."""
        classes = Path(classes)
        if self.after_name:
            return classes.with_name(classes.name + self.suffix)
        return classes.with_name(classes.with_suffix("").name + self.suffix)

    @property
    def by_engine(self) -> bool:
        return self.writer is not None


def output_kinds() -> list[OutputKind]:
    """Every kind, in the table's order (that of the command line's list and the Processing outputs)."""
    return list(_KINDS.values())


def output_kind(name: str) -> OutputKind:
    """The kind named `name`; ValueError for an unknown one."""
    try:
        return _KINDS[name]
    except KeyError:
        raise ValueError(f"no such output: {name} (known: {', '.join(_KINDS)})") from None


def engine_kinds() -> list[OutputKind]:
    """The kinds the engine writes (every kind but those written from the finished map)."""
    return [kind for kind in _KINDS.values() if kind.by_engine]


@contextlib.contextmanager
def registered(kind: OutputKind, before: str | None = None) -> Iterator[OutputKind]:
    """`kind` in the table while the block runs (before the kind named `before`, else last)."""
    if kind.name in _KINDS:
        raise ValueError(f"the output {kind.name} already exists")
    saved = dict(_KINDS)
    items = list(saved.items())
    at = [name for name, _ in items].index(before) if before else len(items)
    _KINDS.clear()
    _KINDS.update([*items[:at], (kind.name, kind), *items[at:]])
    try:
        yield kind
    finally:
        _KINDS.clear()
        _KINDS.update(saved)


# ------------------------------------------------------------------------------------------ writers


class ClassRaster(OutputFile):
    """map.tif: uint8 class codes of the nomenclature, 0 = nodata (outside the area or no image),
    colour table and class names (band metadata) embedded; tiled, DEFLATE."""

    raster = True
    overview_resampling = "NEAREST"

    def open(self, out: OutputWriter, temp: Path) -> Any:
        nomenclature, language = out.nomenclature, out.options.language
        dataset = out.raster(temp, 1, nodata=CLASS_NODATA)
        colours = {CLASS_NODATA: (0, 0, 0, 0)}
        colours.update({c.code: (*c.rgb, 255) for c in nomenclature.classes})
        dataset.write_colormap(1, colours)
        dataset.set_band_description(1, f"land cover ({nomenclature.name})")
        dataset.update_tags(NOMENCLATURE=nomenclature.name)
        dataset.update_tags(1, **{f"CLASS_{c.code}": c.label(language) for c in nomenclature.classes})
        return dataset

    def write(self, dataset: Any, window: Window, values: WindowValues) -> None:
        dataset.write(values.classes.astype(np.uint8, copy=False), 1, window=window)


class ConfidenceRaster(OutputFile):
    """map.confidence.tif: uint8 percent 0..100, the mapped class's probability; 255 = nodata; GDAL
    scale 0.01, so GIS that apply it (QGIS does) show, and label, the probability 0..1."""

    raster = True

    def open(self, out: OutputWriter, temp: Path) -> Any:
        dataset = out.raster(temp, 1, nodata=CONFIDENCE_NODATA)
        dataset.set_band_description(1, "confidence (0..1)")
        dataset.scales = (0.01,)
        return dataset

    def write(self, dataset: Any, window: Window, values: WindowValues) -> None:
        if values.confidence is not None:
            dataset.write(confidence_codes(values.confidence, values.outside), 1, window=window)


class ProbabilityRaster(OutputFile):
    """map.probabilities.tif: uint8 probability x 255 (GDAL scale 1/255), one band per class named after
    it; outside the map masked (an internal per-dataset mask) and 0."""

    raster = True

    def open(self, out: OutputWriter, temp: Path) -> Any:
        classes = out.nomenclature.classes
        dataset = out.raster(temp, len(classes))
        dataset.scales = (1 / 255,) * len(classes)
        for band, cls in enumerate(classes, start=1):
            dataset.set_band_description(band, cls.label(out.options.language))
            dataset.update_tags(band, CODE=str(cls.code))
        return dataset

    def write(self, dataset: Any, window: Window, values: WindowValues) -> None:
        if values.probabilities is None:
            return
        codes = scaled_codes(values.probabilities, 255)
        codes[:, values.outside] = 0
        dataset.write(codes, window=window)
        dataset.write_mask(np.where(values.outside, 0, 255).astype(np.uint8), window=window)


class StyleFile(OutputFile):
    """map.qml: the QGIS style, a paletted renderer with the official colours and names."""

    def finish(self, out: OutputWriter, temp: Path) -> None:
        write_text(temp, qml_text(out.nomenclature, out.options.language))

    def recognises(self, text: str, paths: OutputPaths) -> bool:
        return _QML_MARK in text


class CategoryFile(OutputFile):
    """map.tif.aux.xml: category names and a raster attribute table (code, name, colour), where GDAL
    keeps them for GeoTIFFs, so that GDAL, QGIS and ArcGIS show class names."""

    def finish(self, out: OutputWriter, temp: Path) -> None:
        write_text(temp, aux_xml_text(out.nomenclature, out.options.language))


class StatisticsJson(OutputFile):
    """map.stats.json: per-class pixels, hectares and percent of the classified area, the model that
    made the map (name, version, architecture, precision) when the writer knows it, and the run's
    warnings (valid but misleading input)."""

    def finish(self, out: OutputWriter, temp: Path) -> None:
        area = out.grid.pixel_area_m2
        classified = sum(row.pixels for row in out.statistics)
        document = {
            "map": out.paths.classes.name,
            "nomenclature": out.nomenclature.name,
            "pixel_area_m2": area,
            "classified_pixels": classified,
            "classified_hectares": classified * area / 10_000,
            "nodata_pixels": int(out.counts[CLASS_NODATA]),
            "classes": [row.to_dict() for row in out.statistics],
            "warnings": out.warnings,
        }
        if out.model is not None:
            document["model"] = out.model
        write_text(temp, json.dumps(document, ensure_ascii=False, indent=1) + "\n")

    def recognises(self, text: str, paths: OutputPaths) -> bool:
        try:
            document = json.loads(text)
        except ValueError:
            return False
        return (
            isinstance(document, dict)
            and document.get("map") == paths.classes.name
            and {"nomenclature", "classes", "pixel_area_m2"} <= set(document)
        )


class StatisticsCsv(OutputFile):
    """map.stats.csv: code, class, hectares, percent per class."""

    def finish(self, out: OutputWriter, temp: Path) -> None:
        write_text(temp, statistics_csv_text(out.statistics))

    def recognises(self, text: str, paths: OutputPaths) -> bool:
        return text.startswith(_CSV_HEADER)


_CSV_HEADER = "code,class,hectares,percent\n"


_KINDS: dict[str, OutputKind] = {
    kind.name: kind
    for kind in (
        OutputKind(
            "classes", ".tif", ClassRaster(), optional=False, style="classes", layer="classes",
            listing="class raster", parameter="OUTPUT", description=tr("Land cover"),
            help=tr("GeoTIFF of class codes (uint8, 0 = no data), styled with the palette and class names."),
        ),
        OutputKind("qml", ".qml", StyleFile(), optional=False, listing="QGIS style"),
        OutputKind("aux", ".aux.xml", CategoryFile(), after_name=True, optional=False),
        OutputKind(
            "confidence", ".confidence.tif", ConfidenceRaster(), default=True, style="confidence",
            layer="confidence", visible=False, on_top=True, listing="confidence", cli_flag="--confidence",
            cli_help="also write the confidence raster", checkbox=tr("Confidence raster"),
            parameter="CONFIDENCE", description=tr("Confidence"),
            help=tr("GeoTIFF of the winning class's probability in percent (0..100; scale 0.01 gives 0..1)."),
        ),
        OutputKind(
            "probabilities", ".probabilities.tif", ProbabilityRaster(), style="raster", layer="probabilities",
            visible=False, listing="probabilities", cli_flag="--probabilities",
            cli_help="also write the per-class probabilities", checkbox=tr("Probability of every class"),
            parameter="PROBABILITIES", description=tr("Class probabilities"),
            help=tr("GeoTIFF with one band per class: its probability, 0..255 for 0..1 (band tag CODE)."),
        ),
        OutputKind("statistics_json", ".stats.json", StatisticsJson(), optional=False, listing="statistics JSON"),
        OutputKind(
            "statistics_csv", ".stats.csv", StatisticsCsv(), optional=False, style="table", layer="statistics",
            listing="statistics CSV", parameter="STATISTICS", destination="file",
            file_filter=tr("CSV files (*.csv)"), description=tr("Statistics"),
            help=tr("CSV of code, class, hectares and percent of the mapped area per class."),
        ),
        OutputKind(
            "polygons", ".polygons.gpkg", None, style="polygons", layer="polygons", visible=False, on_top=True,
            checkbox=tr("Land-cover polygons (<map>.polygons.gpkg)"),
            hint=tr("One polygon per region of a class; smaller regions are merged into their largest neighbour"),
        ),
        OutputKind(
            "review_zones", ".review.gpkg", None, style="review_zones", layer="review zones", on_top=True,
            checkbox=tr("Review zones: where the model hesitated (<map>.review.gpkg)"),
            hint=tr("Regions of low confidence, most urgent first, to walk through in the FLAIR review panel"),
        ),
    )
}  # fmt: skip


# ------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class ClassStatistics:
    """Area of one class in the map; `percent` is of the classified (non-nodata) area."""

    code: int
    name: str
    pixels: int
    hectares: float
    percent: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "class": self.name,
            "pixels": self.pixels,
            "hectares": self.hectares,
            "percent": self.percent,
        }


def compute_statistics(
    counts: np.ndarray, nomenclature: Nomenclature, pixel_area_m2: float, language: str = "en"
) -> list[ClassStatistics]:
    """One row per class of `nomenclature` (in its order) from `counts[code]` = pixels of that code."""
    classified = int(sum(int(counts[code]) for code in nomenclature.codes))
    rows = []
    for cls in nomenclature.classes:
        pixels = int(counts[cls.code])
        rows.append(
            ClassStatistics(
                code=cls.code,
                name=cls.label(language),
                pixels=pixels,
                hectares=pixels * pixel_area_m2 / 10_000,
                percent=100.0 * pixels / classified if classified else 0.0,
            )
        )
    return rows


def statistics_csv_text(rows: list[ClassStatistics]) -> str:
    """CSV with columns code, class, hectares (4 decimals), percent (2 decimals)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "class", "hectares", "percent"])
    for row in rows:
        writer.writerow([row.code, row.name, f"{row.hectares:.4f}", f"{row.percent:.2f}"])
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ encodings


def confidence_codes(confidence: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """uint8 percent of `confidence` (0..1), CONFIDENCE_NODATA where outside or NaN."""
    percent = scaled_codes(confidence, 100)
    percent[outside | np.isnan(confidence)] = CONFIDENCE_NODATA
    return percent


def scaled_codes(values: np.ndarray, top: int) -> np.ndarray:
    """uint8 round(clip(values, 0, 1) x top), NaN -> 0, with a single float temporary."""
    scaled = np.nan_to_num(values.astype(np.float32), nan=0.0, copy=False)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= top
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)


def write_text(path: Path, text: str) -> None:
    """Write `text` to a new file `path` (never over an existing one)."""
    with path.open("x", encoding="utf-8", newline="") as stream:
        stream.write(text)


def write_qml(path: str | Path, nomenclature: Nomenclature, language: str = "en") -> Path:
    """Write the QGIS style of a class raster of `nomenclature` to `path` (e.g. map.qml)."""
    path = Path(path)
    path.write_text(qml_text(nomenclature, language), encoding="utf-8")
    return path


def qml_text(nomenclature: Nomenclature, language: str = "en") -> str:
    """A QGIS layer style: paletted renderer on band 1, one entry per class (code, colour, name)."""
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "AllStyleCategories"})
    properties = ET.SubElement(ET.SubElement(root, "customproperties"), "Option", {"type": "Map"})
    ET.SubElement(properties, "Option", {"type": "QString", "name": _QML_MARK, "value": "1"})
    ET.SubElement(properties, "Option", {"type": "QString", "name": "identify/format", "value": "Value"})
    pipe = ET.SubElement(root, "pipe")
    provider = ET.SubElement(pipe, "provider")
    resampling = {"enabled": "false", "zoomedInResamplingMethod": "nearestNeighbour",
                  "zoomedOutResamplingMethod": "nearestNeighbour", "maxOversampling": "2"}  # fmt: skip
    ET.SubElement(provider, "resampling", resampling)
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        {"type": "paletted", "band": "1", "opacity": "1", "alphaBand": "-1", "nodataColor": ""},
    )
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for cls in nomenclature.classes:
        entry = {
            "value": str(cls.code),
            "color": cls.colour.lower(),
            "label": cls.label(language),
            "alpha": "255",
        }
        ET.SubElement(palette, "paletteEntry", entry)
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(pipe, "resamplingStage").text = "resamplingFilter"
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def aux_xml_text(nomenclature: Nomenclature, language: str = "en") -> str:
    """GDAL's PAM side-car for band 1: category names (index = code) and a thematic raster attribute
    table (Value, Class, Red, Green, Blue)."""
    root = ET.Element("PAMDataset")
    band = ET.SubElement(root, "PAMRasterBand", {"band": "1"})
    categories = ET.SubElement(band, "CategoryNames")
    names = {c.code: c.label(language) for c in nomenclature.classes}
    for code in range(max(names) + 1):
        ET.SubElement(categories, "Category").text = names.get(code, "")
    table = ET.SubElement(band, "GDALRasterAttributeTable", {"tableType": "thematic"})
    # GDAL field types: 0 integer, 2 string; usages: 5 min-max (value), 2 name, 6..8 red, green, blue.
    columns = [("Value", 0, 5), ("Class", 2, 2), ("Red", 0, 6), ("Green", 0, 7), ("Blue", 0, 8)]
    for index, (name, kind, usage) in enumerate(columns):
        field = ET.SubElement(table, "FieldDefn", {"index": str(index)})
        ET.SubElement(field, "Name").text = name
        ET.SubElement(field, "Type").text = str(kind)
        ET.SubElement(field, "Usage").text = str(usage)
    for index, cls in enumerate(nomenclature.classes):
        row = ET.SubElement(table, "Row", {"index": str(index)})
        for value in (cls.code, cls.label(language), *cls.rgb):
            ET.SubElement(row, "F").text = str(value)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"
