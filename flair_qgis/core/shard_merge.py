"""One map from a plan's committed shards: a GDAL VRT over them (instant, nothing copied) and, on request,
one Cloud-Optimised GeoTIFF with overviews, both with the palette, class names, QGIS style and the
statistics summed over the shards. GDAL's own drivers read the VRT and write the COG block by block, so
memory stays bounded whatever the area."""

from __future__ import annotations

import json
import os
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS

from .bundle import load_bundle
from .bundle_spec import BundleSpec
from .errors import InputError
from .nomenclature import CLASS_NODATA, Nomenclature
from .output_kinds import (
    CONFIDENCE_NODATA,
    ClassStatistics,
    aux_xml_text,
    compute_statistics,
    qml_text,
    statistics_csv_text,
)
from .shard_run import check_bundle, shard_state
from .shards import Plan

_KINDS = {"classes": "", "confidence": ".confidence", "probabilities": ".probabilities"}


@dataclass
class MergedMap:
    """The merged outputs of a plan, beside it: map.vrt (and map.tif with `cog`), their style and
    statistics; `rasters` has the VRT (or COG) of each raster kind the plan wrote."""

    vrt: Path
    cog: Path | None
    qml: Path
    statistics_json: Path
    statistics_csv: Path
    statistics: list[ClassStatistics]
    rasters: dict[str, Path]


def merge_plan(plan: Plan, *, cog: bool = False) -> MergedMap:
    """Merge every shard of `plan` (InputError naming the shards missing or stale, BundleError when the
    bundle changed) into <plan folder>/<plan name>.vrt, and with `cog` into <plan name>.tif as well."""
    check_bundle(plan)
    missing, stale = [], []
    for shard in plan.shards:
        state = shard_state(plan, shard)
        if state == "missing":
            missing.append(shard.index)
        elif state == "stale":
            stale.append(shard.index)
    if missing or stale:
        parts = []
        if missing:
            parts.append(f"{len(missing)} not computed ({_ranges(missing)})")
        if stale:
            parts.append(f"{len(stale)} computed for another bundle or other options ({_ranges(stale)})")
        raise InputError(
            f"The plan {plan.path.name} cannot be merged: of its {len(plan.shards)} shards, {'; '.join(parts)}.",
            f"Run `python -m flair_qgis run-plan {plan.path}` first (it computes them).",
        )
    spec = load_bundle(plan.bundle).spec
    nomenclature = spec.nomenclature
    language = plan.options.language
    folder, name = plan.folder, plan.name
    kinds = ["classes"] + [k for k in ("confidence", "probabilities") if getattr(plan.options, k)]
    rasters: dict[str, Path] = {}
    vrts: dict[str, Path] = {}
    for kind in kinds:
        vrt = folder / f"{name}{_KINDS[kind]}.vrt"
        sources = [plan.shard_paths(s).rasters()[kind] for s in plan.shards]
        _write_text(vrt, _vrt_xml(plan, sources, kind, nomenclature, language))
        vrts[kind] = rasters[kind] = vrt
    _write_text(folder / f"{name}.vrt.aux.xml", aux_xml_text(nomenclature, language))
    cog_path = None
    if cog:
        for kind, vrt in vrts.items():
            target = folder / f"{name}{_KINDS[kind]}.tif"
            _to_cog(vrt, target, kind)
            rasters[kind] = target
        cog_path = rasters["classes"]
        _write_text(folder / f"{name}.tif.aux.xml", aux_xml_text(nomenclature, language))
    qml = folder / f"{name}.qml"  # QGIS's default style of map.vrt and of map.tif alike
    _write_text(qml, qml_text(nomenclature, language))
    statistics, json_path, csv_path = _write_statistics(plan, spec, rasters["classes"])
    return MergedMap(vrts["classes"], cog_path, qml, json_path, csv_path, statistics, rasters)


def summed_counts(plan: Plan) -> np.ndarray:
    """Pixels per class code (256 counts) over every shard's completion record."""
    counts = np.zeros(256, np.int64)
    for shard in plan.shards:
        record = json.loads(plan.record_path(shard).read_text(encoding="utf-8"))
        for code, pixels in record["pixels"].items():
            counts[int(code)] += int(pixels)
    return counts


def _write_statistics(
    plan: Plan, spec: BundleSpec, classes: Path
) -> tuple[list[ClassStatistics], Path, Path]:
    nomenclature = spec.nomenclature
    counts = summed_counts(plan)
    area = plan.grid.pixel_area_m2
    statistics = compute_statistics(counts, nomenclature, area, plan.options.language)
    classified = sum(row.pixels for row in statistics)
    document = {
        "map": classes.name,
        "nomenclature": nomenclature.name,
        "pixel_area_m2": area,
        "classified_pixels": classified,
        "classified_hectares": classified * area / 10_000,
        "nodata_pixels": plan.grid.width * plan.grid.height - classified,
        "shards": len(plan.shards),
        "classes": [row.to_dict() for row in statistics],
        "model": spec.model_summary(),
    }
    json_path = plan.folder / f"{plan.name}.stats.json"
    csv_path = plan.folder / f"{plan.name}.stats.csv"
    _write_text(json_path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    _write_text(csv_path, statistics_csv_text(statistics))
    return statistics, json_path, csv_path


def _vrt_xml(plan: Plan, sources: list[Path], kind: str, nomenclature: Nomenclature, language: str) -> str:
    """A GDAL VRT of the whole grid whose sources are the shards' rasters of `kind`, at their windows."""
    grid = plan.grid
    with rasterio.open(sources[0]) as first:
        count, dtype = first.count, first.dtypes[0]
        scales = first.scales
        descriptions = first.descriptions
        palette = first.colormap(1) if kind == "classes" else {}
    t = grid.transform
    root = ET.Element("VRTDataset", {"rasterXSize": str(grid.width), "rasterYSize": str(grid.height)})
    ET.SubElement(root, "SRS", {"dataAxisToSRSAxisMapping": "1,2"}).text = CRS.from_user_input(
        grid.crs
    ).to_wkt()
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    if kind == "probabilities":  # the shards' per-dataset mask (outside the map) as the VRT's
        mask = ET.SubElement(ET.SubElement(root, "MaskBand"), "VRTRasterBand", {"dataType": "Byte"})
        _add_sources(mask, plan, sources, "mask,1")
    for band in range(1, count + 1):
        element = ET.SubElement(root, "VRTRasterBand", {"dataType": _gdal_type(dtype), "band": str(band)})
        if descriptions[band - 1]:
            ET.SubElement(element, "Description").text = descriptions[band - 1]
        if kind == "classes":
            ET.SubElement(element, "NoDataValue").text = str(CLASS_NODATA)
            ET.SubElement(element, "ColorInterp").text = "Palette"
            table = ET.SubElement(element, "ColorTable")  # the shards' own, as the writer made it
            for code in range(256):
                r, g, b, a = palette.get(code, (0, 0, 0, 0))
                ET.SubElement(table, "Entry", {"c1": str(r), "c2": str(g), "c3": str(b), "c4": str(a)})
        elif kind == "confidence":
            ET.SubElement(element, "NoDataValue").text = str(CONFIDENCE_NODATA)
        if scales and scales[band - 1] != 1.0:
            ET.SubElement(element, "Scale").text = repr(scales[band - 1])
        _add_sources(element, plan, sources, str(band))
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode") + "\n"


def _add_sources(element: ET.Element, plan: Plan, sources: list[Path], band: str) -> None:
    """Band `band` of each shard's raster at the shard's window, paths relative to the VRT."""
    for shard, source in zip(plan.shards, sources, strict=True):
        col, row, width, height = shard.window
        simple = ET.SubElement(element, "SimpleSource")
        name = os.path.relpath(source, plan.folder)
        ET.SubElement(simple, "SourceFilename", {"relativeToVRT": "1"}).text = name
        ET.SubElement(simple, "SourceBand").text = band
        rect = {"xSize": str(width), "ySize": str(height)}
        ET.SubElement(simple, "SrcRect", {"xOff": "0", "yOff": "0", **rect})
        ET.SubElement(simple, "DstRect", {"xOff": str(col), "yOff": str(row), **rect})


def _gdal_type(dtype: str) -> str:
    return {"uint8": "Byte", "uint16": "UInt16", "float32": "Float32"}[dtype]


def _to_cog(vrt: Path, target: Path, kind: str) -> None:
    """GDAL's COG driver over the VRT (block by block, overviews included), renamed into place."""
    temp = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    try:
        with rasterio.Env(GDAL_CACHEMAX=256 * 2**20):
            rasterio.shutil.copy(
                vrt,
                temp,
                driver="COG",
                compress="DEFLATE",
                predictor="YES",
                blocksize=512,
                overviews="AUTO",
                resampling="NEAREST" if kind == "classes" else "AVERAGE",
                bigtiff="IF_SAFER",
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.aux.xml").unlink(missing_ok=True)


def _ranges(indices: list[int]) -> str:
    """'0-3, 7' for [0, 1, 2, 3, 7]."""
    parts, start = [], None
    for i, value in enumerate(indices):
        if start is None:
            start = value
        if i + 1 == len(indices) or indices[i + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return ", ".join(parts)


def _write_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
