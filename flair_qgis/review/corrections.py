"""A reviewer's corrections of a FLAIR result and the corrected map they make.

The corrections are polygons in a GeoPackage beside the map (`map.tif` -> `map.corrections.gpkg`, layer
schema.CORRECTIONS_LAYER_NAME), each with the right class `code`, its author, date, note and origin. Applied
to the class raster (`flair:apply_corrections`), they are burnt into a copy of it: the latest correction wins
where they overlap, nothing outside them changes, and the copy keeps the map's colours, class names and
nodata. GDAL does the work (copy, rasterize) with a capped cache, so memory does not grow with the map.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

from . import schema
from .geopackage import GeoPackageWriter
from .raster_blocks import (
    Cancelled,
    Progress,
    bounded_gdal_cache,
    check,
    gdal_callback,
    read_strip,
    row_strips,
)
from .result import ClassResult, ResultError, read_class_result
from .vector_style import configure_corrections_form, corrections_renderer, style_qml

#: The corrections layer's fields with their OGR types, in order.
CORRECTION_FIELDS = [
    (schema.FIELD_CODE, ogr.OFTInteger),
    (schema.FIELD_AUTHOR, ogr.OFTString),
    (schema.FIELD_DATE, ogr.OFTString),
    (schema.FIELD_NOTE, ogr.OFTString),
    (schema.FIELD_ORIGIN, ogr.OFTString),
]


def corrections_path(classes: str | Path) -> Path:
    """`map.tif` -> `map.corrections.gpkg`."""
    return Path(classes).with_suffix(".corrections.gpkg")


def create_corrections(classes: str | Path, path: str | Path | None = None, language: str = "en") -> Path:
    """Write an empty corrections GeoPackage for the FLAIR map `classes` (its CRS; a form listing its
    classes by name and the palette stored as the layer's default style); returns its path. ResultError
    when `classes` is not a FLAIR result; an existing file is never replaced (GeoPackageError)."""
    from .geopackage import GeoPackageError

    result = read_class_result(classes)
    path = Path(path) if path is not None else corrections_path(classes)
    if path.exists():
        raise GeoPackageError(f"{path} already exists: open it instead of creating it again.")
    with GeoPackageWriter(path) as writer:
        writer.create_layer(
            schema.CORRECTIONS_LAYER_NAME, result.grid.crs_wkt, ogr.wkbPolygon, CORRECTION_FIELDS
        )
        qml = style_qml(
            corrections_renderer(result.nomenclature, language),
            CORRECTION_FIELDS,
            lambda layer: configure_corrections_form(layer, result.nomenclature, language),
        )
        writer.store_default_style(schema.CORRECTIONS_LAYER_NAME, "geom", qml, "FLAIR corrections")
        writer.commit()
    return path


@dataclass(frozen=True)
class Correction:
    """One correction polygon, in the class raster's CRS: its fid, class code, geometry (WKB), date."""

    fid: int
    code: int
    wkb: bytes
    date: str = ""


@dataclass
class AppliedCorrections:
    """What `apply_corrections` wrote: the corrected map, the corrections burnt, pixels changed, warnings."""

    path: Path
    corrections: int = 0
    changed_pixels: int = 0
    changed_m2: float = 0.0
    warnings: list[str] = field(default_factory=list)


def read_corrections(path: str | Path, result: ClassResult, layer_name: str = schema.CORRECTIONS_LAYER_NAME):
    """The corrections of an OGR file (e.g. map.corrections.gpkg) in the class raster's CRS, and warnings
    (reprojection). ResultError when the file, its layer or its `code` field is missing."""
    dataset = ogr.Open(str(path)) if Path(path).is_file() else None
    if dataset is None:
        raise ResultError(f"The corrections {path} do not exist or are not a vector file OGR can read.")
    layer = dataset.GetLayerByName(layer_name) or (
        dataset.GetLayer(0) if dataset.GetLayerCount() == 1 else None
    )
    if layer is None:
        raise ResultError(
            f"{path} has no layer '{layer_name}': choose the corrections GeoPackage of the map."
        )
    if layer.GetLayerDefn().GetFieldIndex(schema.FIELD_CODE) < 0:
        raise ResultError(
            f"The corrections {path} have no '{schema.FIELD_CODE}' field (the right class code)."
        )
    target = osr.SpatialReference()
    target.ImportFromWkt(result.grid.crs_wkt)
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    source = layer.GetSpatialRef()
    transform = None
    warnings = []
    if source is not None and not source.IsSame(target):
        source = source.Clone()
        source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        transform = osr.CoordinateTransformation(source, target)
        warnings.append(
            f"The corrections are in {source.GetName()}, the map in {target.GetName()}: they were reprojected."
        )
    has_date = layer.GetLayerDefn().GetFieldIndex(schema.FIELD_DATE) >= 0
    corrections = []
    for feature in layer:
        geometry = feature.GetGeometryRef()
        wkb = b""
        if geometry is not None:
            geometry = geometry.Clone()
            if transform is not None:
                geometry.Transform(transform)
            wkb = bytes(geometry.ExportToWkb())
        code = feature.GetField(schema.FIELD_CODE)
        date = (feature.GetField(schema.FIELD_DATE) or "") if has_date else ""
        corrections.append(Correction(feature.GetFID(), -1 if code is None else int(code), wkb, date))
    return corrections, warnings


def apply_corrections(
    classes: str | Path,
    corrections: Iterable[Correction],
    output: str | Path,
    *,
    progress: Progress | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> AppliedCorrections:
    """Write to `output` (a GeoTIFF, replaced only once complete) the class raster `classes` with
    `corrections` burnt in: the latest (by date, then fid) wins where they overlap; a pixel counts when its
    centre lies in a polygon. ResultError, with nothing written, for no correction, a code outside the
    map's classes or an invalid polygon; empty polygons and polygons outside the map are skipped with a
    warning."""
    result = read_class_result(classes)
    output = Path(output)
    if output.suffix.lower() not in (".tif", ".tiff"):
        raise ResultError(f"The corrected map {output} must be a GeoTIFF: give a file name ending in .tif.")
    if not output.parent.is_dir():
        raise ResultError(f"The folder {output.parent} does not exist: create it or choose another.")
    if output.resolve() == result.path.resolve():
        raise ResultError("The corrected map must be a new file: the original map is kept as it is.")
    summary = AppliedCorrections(output)
    usable = check_corrections(list(corrections), result, summary.warnings)
    usable.sort(key=lambda c: (c.date, c.fid))  # burnt in this order: the latest wins
    summary.corrections = len(usable)

    source = gdal.Open(str(result.path))
    temp = output.with_name(f".{output.stem}.partial-{secrets.token_hex(4)}.tif")
    try:
        with bounded_gdal_cache():
            _write_corrected(source, result, usable, temp, progress, is_cancelled)
            summary.changed_pixels = _changed_pixels(source, temp, is_cancelled)
        os.replace(temp, output)
        for suffix in (".aux.xml",):
            if Path(str(temp) + suffix).exists():
                os.replace(str(temp) + suffix, str(output) + suffix)
    finally:
        for suffix in ("", ".aux.xml", ".msk"):
            with contextlib.suppress(OSError):
                Path(str(temp) + suffix).unlink()
    summary.changed_m2 = summary.changed_pixels * result.grid.pixel_area_m2
    if summary.changed_pixels == 0:
        summary.warnings.append(
            "The corrections change no pixel: they give every pixel they cover the class it already had."
        )
    if progress is not None:
        progress(1.0, "Corrected map written")
    return summary


def check_corrections(
    corrections: Sequence[Correction], result: ClassResult, warnings: list[str]
) -> list[Correction]:
    """The corrections to burn, after the checks: ResultError for none, bad codes or invalid polygons;
    empty ones and those outside the map are left out with a warning."""
    if not corrections:
        raise ResultError("There is no correction to apply: draw corrections (polygons with a class) first.")
    codes = set(result.nomenclature.codes)
    bad_codes = [c.fid for c in corrections if c.code not in codes]
    if bad_codes:
        raise ResultError(
            f"Correction(s) {_fids(bad_codes)} have a class code outside the map's classes "
            f"({min(codes)}..{max(codes)}): give each correction one of the map's classes."
        )
    empty, invalid, outside, usable = [], [], [], []
    west, east, south, north = _extent(result)
    for correction in corrections:
        geometry = ogr.CreateGeometryFromWkb(correction.wkb) if correction.wkb else None
        if geometry is None or geometry.IsEmpty():
            empty.append(correction.fid)
        elif not geometry.IsValid():
            invalid.append(correction.fid)
        elif geometry.GetArea() == 0:
            empty.append(correction.fid)
        else:
            x0, x1, y0, y1 = geometry.GetEnvelope()
            if x1 <= west or x0 >= east or y1 <= south or y0 >= north:
                outside.append(correction.fid)
            else:
                usable.append(correction)
    if invalid:
        raise ResultError(
            f"Correction(s) {_fids(invalid)} are not valid polygons (they cross themselves): repair them, "
            "e.g. with QGIS's Fix geometries or by redrawing them, then apply again."
        )
    if empty:
        warnings.append(f"Correction(s) {_fids(empty)} have no area: left out.")
    if outside:
        warnings.append(f"Correction(s) {_fids(outside)} lie outside the map: left out.")
    if not usable:
        raise ResultError("No correction covers the map: nothing to apply.")
    return usable


def _write_corrected(source, result, corrections, temp, progress, is_cancelled) -> None:
    """Copy the class raster to `temp` (colours, class names, nodata and tags kept), then burn the codes."""
    driver = gdal.GetDriverByName("GTiff")
    copy_callback = gdal_callback(progress, is_cancelled, 0.0, 0.4, "Copying the map")
    options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]
    target = driver.CreateCopy(str(temp), source, 0, options, callback=copy_callback)
    check(0 if target is not None else 1, is_cancelled, "copying the class raster")
    memory = ogr.GetDriverByName("Memory").CreateDataSource("corrections")
    srs = osr.SpatialReference()
    srs.ImportFromWkt(result.grid.crs_wkt)
    layer = memory.CreateLayer("corrections", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn(schema.FIELD_CODE, ogr.OFTInteger))
    for correction in corrections:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkb(correction.wkb))
        feature[schema.FIELD_CODE] = correction.code
        layer.CreateFeature(feature)
    burn_callback = gdal_callback(progress, is_cancelled, 0.4, 0.8, "Burning the corrections")
    ok = gdal.RasterizeLayer(
        target, [1], layer, options=[f"ATTRIBUTE={schema.FIELD_CODE}"], callback=burn_callback
    )
    check(ok, is_cancelled, "GDAL's rasterize")
    target.FlushCache()
    target = None


def _changed_pixels(source, corrected_path, is_cancelled) -> int:
    corrected = gdal.Open(str(corrected_path))
    before, after = source.GetRasterBand(1), corrected.GetRasterBand(1)
    changed = 0
    for row, rows in row_strips(source.RasterXSize, source.RasterYSize):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled()
        changed += int(np.count_nonzero(read_strip(before, row, rows) != read_strip(after, row, rows)))
    return changed


def _extent(result: ClassResult) -> tuple[float, float, float, float]:
    x0, dx, _, y0, _, dy = result.grid.geotransform
    xs = (x0, x0 + dx * result.grid.width)
    ys = (y0, y0 + dy * result.grid.height)
    return min(xs), max(xs), min(ys), max(ys)


def _fids(fids: Sequence[int]) -> str:
    shown = ", ".join(str(fid) for fid in fids[:8])
    return shown + (f" and {len(fids) - 8} more" if len(fids) > 8 else "")
