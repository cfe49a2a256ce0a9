"""Land-cover polygons from a FLAIR class raster: regions under the minimum mapping unit merged into their
largest neighbour (GDAL's sieve), one polygon per connected region (GDAL's polygonize), optional boundary
simplification that keeps neighbours sharing their edges, and per-polygon attributes.

Memory: the sieve, polygonize and rasterize steps are GDAL's, which read and write the rasters by lines and
blocks with a capped cache; the per-polygon sums are arrays of one number per polygon. Only the optional
simplification holds every polygon's geometry at once (it must see both sides of each edge)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr
from qgis.core import QgsGeometry, QgsSpatialIndex, QgsWkbTypes

from . import schema
from .geopackage import GeoPackageWriter, check_destination, create_work_raster, temporary_raster_path
from .raster_blocks import (
    Cancelled,
    Progress,
    bounded_gdal_cache,
    check,
    gdal_callback,
    rasterize_ids,
    read_strip,
    row_strips,
)
from .result import (
    ClassResult,
    ResultError,
    confidence_scaling,
    open_confidence,
    pixels_for_area,
    read_class_result,
)
from .vector_style import polygon_renderer, style_qml

POLYGON_FIELDS = [
    (schema.FIELD_CODE, ogr.OFTInteger),
    (schema.FIELD_CLASS_EN, ogr.OFTString),
    (schema.FIELD_CLASS_FR, ogr.OFTString),
    (schema.FIELD_AREA, ogr.OFTReal),
    (schema.FIELD_MEAN_CONFIDENCE, ogr.OFTReal),
]


@dataclass
class PolygonizeSummary:
    """What a run wrote: the GeoPackage, its polygon count, the sieve threshold in pixels, warnings."""

    path: Path
    polygons: int
    threshold_pixels: int
    warnings: list[str] = field(default_factory=list)


def polygonize_result(
    classes: str | Path,
    output: str | Path,
    *,
    confidence: str | Path | None = None,
    mmu_m2: float = 0.0,
    simplify_m: float = 0.0,
    language: str = "en",
    progress: Progress | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> PolygonizeSummary:
    """Write the land-cover polygons of the class raster `classes` to the GeoPackage `output` (layer
    schema.POLYGON_LAYER_NAME). Raises ResultError for an input that is not a FLAIR result, an MMU
    under one pixel or negative, a negative tolerance or an empty map; Cancelled when cancelled; nothing
    is left at `output` then."""
    result = read_class_result(classes)
    output = check_destination(output)
    threshold = pixels_for_area(result, mmu_m2, "minimum mapping unit")
    if simplify_m < 0:
        raise ResultError(f"The simplification tolerance must be 0 or more metres, got {simplify_m:g}.")
    confidence_dataset = open_confidence(result, confidence) if confidence else None
    source = gdal.Open(str(result.path))
    summary = PolygonizeSummary(output, 0, threshold)

    work_raster = temporary_raster_path(output.parent, output.stem + ".sieved")
    with bounded_gdal_cache(), work_raster as sieved_path, GeoPackageWriter(output) as writer:
        band = source.GetRasterBand(1)
        if threshold > 1:
            sieved = create_work_raster(sieved_path, source, gdal.GDT_Byte, 0)
            _sieve(band, sieved.GetRasterBand(1), threshold, progress, is_cancelled)
            sieved.FlushCache()
            band = sieved.GetRasterBand(1)
        layer = writer.create_layer(
            schema.POLYGON_LAYER_NAME, result.grid.crs_wkt, ogr.wkbPolygon, POLYGON_FIELDS
        )
        callback = gdal_callback(progress, is_cancelled, 0.3, 0.6, "Polygonizing")
        layer.StartTransaction()
        ok = gdal.Polygonize(band, band.GetMaskBand(), layer, 0, [], callback)
        check(ok, is_cancelled, "GDAL's polygonize")
        layer.CommitTransaction()
        if layer.GetFeatureCount() == 0:
            raise ResultError(
                f"{result.path} is empty: it has no classified pixel (every pixel is nodata). "
                "Choose a map that covers its area."
            )
        if simplify_m > 0:
            if progress is not None:
                progress(0.6, "Simplifying boundaries")
            _simplify_layer(layer, simplify_m, is_cancelled)
        means = None
        if confidence_dataset is not None:
            means = _mean_confidence(writer, source, confidence_dataset, output, progress, is_cancelled)
        summary.polygons = _fill_attributes(layer, result, means, language)
        if threshold > 1:
            summary.warnings += _undersized(layer, result, threshold)
        renderer = polygon_renderer(result.nomenclature, language)
        writer.store_default_style(
            schema.POLYGON_LAYER_NAME, "geom", style_qml(renderer, POLYGON_FIELDS), "FLAIR land cover"
        )
        layer = None
        writer.commit()
    if progress is not None:
        progress(1.0, "Polygons written")
    return summary


def sieve_thresholds(threshold: int) -> list[int]:
    """The growing region sizes (pixels) the MMU is reached through: 2, 4, 8, ... then `threshold`."""
    sizes = []
    size = 2
    while size < threshold:
        sizes.append(size)
        size *= 2
    return [*sizes, threshold]


def _sieve(band: gdal.Band, target: gdal.Band, threshold: int, progress, is_cancelled) -> None:
    """Merge every region under `threshold` pixels into its largest neighbour, writing `target`.

    GDAL's sieve merges a small region into its largest neighbour once; on a speckled map that neighbour is
    often small too, and one pass at the MMU leaves most regions under it. Passes at growing sizes (each in
    place on the previous result) let specks grow into patches, then patches into regions."""
    sizes = sieve_thresholds(threshold)
    source = band
    for index, size in enumerate(sizes):
        start, end = 0.3 * index / len(sizes), 0.3 * (index + 1) / len(sizes)
        callback = gdal_callback(progress, is_cancelled, start, end, "Merging regions under the MMU")
        check(gdal.SieveFilter(source, source.GetMaskBand(), target, size, 4, [], callback), is_cancelled,
              "GDAL's sieve filter")  # fmt: skip
        source = target


def _fill_attributes(layer: ogr.Layer, result: ClassResult, means: np.ndarray | None, language: str) -> int:
    """Class names, area (m²) and mean confidence of every polygon; returns the polygon count."""
    factor = result.grid.area_factor
    classes = {c.code: c for c in result.nomenclature.classes}
    layer.StartTransaction()
    layer.ResetReading()
    count = 0
    updates = []
    for feature in layer:
        code = feature[schema.FIELD_CODE]
        cls = classes.get(code)
        mean = None
        if means is not None and feature.GetFID() < len(means) and not np.isnan(means[feature.GetFID()]):
            mean = float(means[feature.GetFID()])
        area = feature.GetGeometryRef().GetArea() * factor
        updates.append((feature.GetFID(), cls, area, mean))
    for fid, cls, area, mean in updates:
        feature = layer.GetFeature(fid)
        feature[schema.FIELD_CLASS_EN] = cls.name if cls else None
        feature[schema.FIELD_CLASS_FR] = cls.name_fr if cls else None
        feature[schema.FIELD_AREA] = area
        if mean is not None:
            feature[schema.FIELD_MEAN_CONFIDENCE] = mean
        layer.SetFeature(feature)
        count += 1
    layer.CommitTransaction()
    return count


def _undersized(layer: ogr.Layer, result: ClassResult, threshold: int) -> list[str]:
    """A warning for regions still under the MMU: those with no classified neighbour to merge into."""
    minimum = threshold * result.grid.pixel_area_m2 * (1 - 1e-6)
    small = sum(1 for feature in layer if feature[schema.FIELD_AREA] < minimum)
    layer.ResetReading()
    if not small:
        return []
    return [
        f"{small} polygon(s) are smaller than the minimum mapping unit: they touch no other class "
        "(isolated by nodata) or were narrowed by the boundary simplification."
    ]


def _mean_confidence(
    writer: GeoPackageWriter,
    source: gdal.Dataset,
    confidence: gdal.Dataset,
    output: Path,
    progress: Progress | None,
    is_cancelled: Callable[[], bool] | None,
) -> np.ndarray:
    """Mean confidence (0..1) of each polygon, indexed by fid (NaN where it has no valid pixel): polygon
    ids rasterised to a temporary int32 GeoTIFF, then summed strip by strip."""
    with temporary_raster_path(output.parent, output.stem + ".ids") as ids_path:
        ids = create_work_raster(ids_path, source, gdal.GDT_Int32, None)
        callback = gdal_callback(progress, is_cancelled, 0.7, 0.85, "Measuring the mean confidence")
        check(
            rasterize_ids(ids, writer.dataset, schema.POLYGON_LAYER_NAME, callback),
            is_cancelled,
            "Rasterizing",
        )
        size = writer.dataset.GetLayerByName(schema.POLYGON_LAYER_NAME).GetFeatureCount() + 2
        sums = np.zeros(size, np.float64)
        counts = np.zeros(size, np.int64)
        band = confidence.GetRasterBand(1)
        scale, offset, nodata = confidence_scaling(band)
        id_band = ids.GetRasterBand(1)
        for row, rows in row_strips(source.RasterXSize, source.RasterYSize):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            pid = read_strip(id_band, row, rows).ravel()
            values = read_strip(band, row, rows).ravel()
            valid = pid > 0
            if nodata is not None:
                valid &= values != nodata
            if values.dtype.kind == "f":
                valid &= ~np.isnan(values)
            top = int(pid.max(initial=0)) + 1
            if top > size:
                sums = np.pad(sums, (0, top - size))
                counts = np.pad(counts, (0, top - size))
                size = top
            sums += np.bincount(pid[valid], weights=values[valid].astype(np.float64), minlength=size)[:size]
            counts += np.bincount(pid[valid], minlength=size)[:size]
        ids = None
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(sums / counts * scale + offset, 0.0, 1.0)


def _simplify_layer(layer: ogr.Layer, tolerance: float, is_cancelled: Callable[[], bool] | None) -> None:
    """Replace the layer's polygons by their simplified coverage (see simplify_coverage)."""
    layer.ResetReading()
    polygons = []
    for feature in layer:
        geometry = QgsGeometry()
        geometry.fromWkb(bytes(feature.GetGeometryRef().ExportToIsoWkb()))
        polygons.append((feature[schema.FIELD_CODE], geometry))
    if is_cancelled is not None and is_cancelled():
        raise Cancelled()
    simplified = simplify_coverage(polygons, tolerance)
    layer.StartTransaction()
    for fid in [feature.GetFID() for feature in layer]:
        layer.DeleteFeature(fid)
    definition = layer.GetLayerDefn()
    for code, geometry in simplified:
        feature = ogr.Feature(definition)
        feature[schema.FIELD_CODE] = code
        feature.SetGeometry(ogr.CreateGeometryFromWkb(bytes(geometry.asWkb())))
        layer.CreateFeature(feature)
    layer.CommitTransaction()


def simplify_coverage(
    polygons: list[tuple[int, QgsGeometry]], tolerance: float
) -> list[tuple[int, QgsGeometry]]:
    """Simplify a polygon coverage (polygons that touch without overlapping) so that it stays one: every
    boundary is noded and merged into the edges between junctions, each edge is simplified once
    (Douglas-Peucker, ends kept) and the polygons are rebuilt from the simplified edges; each rebuilt face
    takes the class of the input polygon holding its point-on-surface (faces in holes of the coverage
    stay holes). Neighbours thus share their simplified edges: no gap, no overlap. Edges that collapse
    (rings smaller than the tolerance) vanish and their area joins the neighbour."""
    index = QgsSpatialIndex()
    for number, (_, geometry) in enumerate(polygons):
        index.addFeature(number, geometry.boundingBox())
    boundaries = [QgsGeometry(geometry.constGet().boundary()) for _, geometry in polygons]
    edges = QgsGeometry.unaryUnion(boundaries).mergeLines()
    simplified = []
    for edge in edges.asGeometryCollection():
        line = edge.simplify(tolerance)
        points = line.asPolyline()
        if len(points) < 2 or (points[0] == points[-1] and len(points) < 4):
            continue
        simplified.append(line)
    faces = QgsGeometry.polygonize([QgsGeometry.unaryUnion(simplified)])
    pieces: dict[int, list[QgsGeometry]] = defaultdict(list)
    for face in faces.asGeometryCollection():
        inside = face.pointOnSurface()
        for number in index.intersects(inside.boundingBox()):
            if polygons[number][1].contains(inside):
                pieces[number].append(face)
                break
    rebuilt = []
    for number in sorted(pieces):
        merged = QgsGeometry.unaryUnion(pieces[number]) if len(pieces[number]) > 1 else pieces[number][0]
        for part in merged.asGeometryCollection():
            if part.type() == QgsWkbTypes.GeometryType.PolygonGeometry and part.area() > 0:
                rebuilt.append((polygons[number][0], part))
    return rebuilt
