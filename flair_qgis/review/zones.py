"""The review queue of a FLAIR result: connected regions where the model's confidence is under a threshold,
larger than a minimum area, ranked by area x (1 - mean confidence) so that rank 1 is where a reviewer's
look changes the most area; written to a GeoPackage layer whose fields schema.py defines.

Memory: the low-confidence mask and polygon ids are temporary GeoTIFFs written strip by strip, polygonized
and rasterised by GDAL; per-zone sums are arrays of (zones x classes) numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr

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
    CLASS_NODATA,
    ResultError,
    confidence_scaling,
    open_confidence,
    open_probabilities,
    pixels_for_area,
    read_class_result,
)
from .vector_style import review_renderer, style_qml

#: Confidence under which a pixel needs a look, when neither the user nor the result says otherwise.
DEFAULT_THRESHOLD = 0.5

REVIEW_FIELDS = [
    (schema.FIELD_RANK, ogr.OFTInteger),
    (schema.FIELD_AREA, ogr.OFTReal),
    (schema.FIELD_MEAN_CONFIDENCE, ogr.OFTReal),
    (schema.FIELD_CLASS_CODE, ogr.OFTInteger),
    (schema.FIELD_CLASS_NAME, ogr.OFTString),
    (schema.FIELD_RUNNER_UP_CODE, ogr.OFTInteger),
    (schema.FIELD_RUNNER_UP_NAME, ogr.OFTString),
    (schema.FIELD_STATUS, ogr.OFTString),
    (schema.FIELD_REVIEWED_AT, ogr.OFTString),
    (schema.FIELD_NOTE, ogr.OFTString),
]
_WORK_LAYER = "low_confidence_regions"
_CANDIDATES = "candidate_zones"


@dataclass
class ReviewSummary:
    """What a run wrote: the GeoPackage, the zone count, their total area, the threshold, warnings."""

    path: Path
    zones: int
    area_m2: float
    threshold: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class _ZoneSums:
    """Per-zone sums, indexed by the zone's fid in the candidates layer."""

    pixels: np.ndarray
    confidence: np.ndarray
    classes: np.ndarray  # zones x classes: pixel counts of each predicted class
    probabilities: np.ndarray | None  # zones x probability bands: summed probabilities


def review_zones(
    classes: str | Path,
    confidence: str | Path,
    output: str | Path,
    *,
    probabilities: str | Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_area_m2: float = 0.0,
    language: str = "en",
    progress: Progress | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> ReviewSummary:
    """Write the ranked review zones of a result to the GeoPackage `output` (layer
    schema.REVIEW_LAYER_NAME). Raises ResultError for inputs that are not a FLAIR result or not on its
    grid, a threshold outside 0..1, a negative or sub-pixel minimum area, or an empty map; Cancelled when
    cancelled; nothing is left at `output` then."""
    result = read_class_result(classes)
    output = check_destination(output)
    if not 0.0 < threshold <= 1.0:
        raise ResultError(f"The confidence threshold must lie in 0..1 (e.g. 0.5), got {threshold:g}.")
    minimum = pixels_for_area(result, min_area_m2, "minimum zone area")
    confidence_dataset = open_confidence(result, confidence)
    probability_dataset, probability_codes = (None, [])
    if probabilities:
        probability_dataset, probability_codes = open_probabilities(result, probabilities)
    source = gdal.Open(str(result.path))
    factor = result.grid.area_factor
    summary = ReviewSummary(output, 0, 0.0, threshold)

    with bounded_gdal_cache(), GeoPackageWriter(output) as writer:
        with temporary_raster_path(output.parent, output.stem + ".low") as mask_path:
            mask = create_work_raster(mask_path, source, gdal.GDT_Byte, 0)
            classified = _write_low_confidence_mask(source, confidence_dataset, mask, threshold, is_cancelled)
            if classified == 0:
                raise ResultError(
                    f"{result.path} is empty: it has no classified pixel (every pixel is nodata). "
                    "Choose a map that covers its area."
                )
            work = writer.create_layer(
                _WORK_LAYER, result.grid.crs_wkt, ogr.wkbPolygon, [("value", ogr.OFTInteger)]
            )
            band = mask.GetRasterBand(1)
            if minimum > 1:  # zones are areas: holes and specks under the minimum area are merged away
                callback = gdal_callback(progress, is_cancelled, 0.1, 0.2, "Merging specks into zones")
                check(
                    gdal.SieveFilter(band, None, band, minimum, 4, [], callback), is_cancelled, "GDAL's sieve"
                )
            callback = gdal_callback(progress, is_cancelled, 0.2, 0.5, "Finding the low-confidence regions")
            work.StartTransaction()
            check(gdal.Polygonize(band, band, work, 0, [], callback), is_cancelled, "GDAL's polygonize")
            work.CommitTransaction()
            mask = band = None
        candidates = _keep_large(writer, work, result, minimum * result.grid.pixel_area * (1 - 1e-9))
        work = None
        writer.dataset.DeleteLayer(_WORK_LAYER)
        sums = _zone_sums(
            writer, source, confidence_dataset, probability_dataset, result, output, progress, is_cancelled
        )
        zones = _rank(candidates, sums, result, probability_codes, factor, language)
        layer = writer.create_layer(
            schema.REVIEW_LAYER_NAME, result.grid.crs_wkt, ogr.wkbPolygon, REVIEW_FIELDS
        )
        layer.StartTransaction()
        for zone in zones:
            feature = ogr.Feature(layer.GetLayerDefn())
            for name, value in zone.items():
                if name != "geometry" and value is not None:
                    feature[name] = value
            feature.SetGeometry(zone["geometry"])
            layer.CreateFeature(feature)
        layer.CommitTransaction()
        candidates = None
        writer.dataset.DeleteLayer(_CANDIDATES)
        writer.store_default_style(
            schema.REVIEW_LAYER_NAME,
            "geom",
            style_qml(review_renderer(), REVIEW_FIELDS),
            "FLAIR review zones",
        )
        layer = None
        writer.commit()
    summary.zones = len(zones)
    summary.area_m2 = float(sum(zone[schema.FIELD_AREA] for zone in zones))
    if not zones:
        summary.warnings.append(
            f"No zone to review: no region of {min_area_m2:g} m² or more has a confidence under {threshold:g}."
        )
    if progress is not None:
        progress(1.0, "Review zones written")
    return summary


def _write_low_confidence_mask(
    source: gdal.Dataset, confidence: gdal.Dataset, mask: gdal.Dataset, threshold: float, is_cancelled
) -> int:
    """1 where a classified pixel's confidence is under `threshold`, 0 elsewhere; returns the number of
    classified pixels."""
    class_band, confidence_band, mask_band = (
        source.GetRasterBand(1),
        confidence.GetRasterBand(1),
        mask.GetRasterBand(1),
    )
    scale, offset, nodata = confidence_scaling(confidence_band)
    classified = 0
    for row, rows in row_strips(source.RasterXSize, source.RasterYSize):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled()
        codes = read_strip(class_band, row, rows)
        raw = read_strip(confidence_band, row, rows)
        valid = codes != CLASS_NODATA
        classified += int(valid.sum())
        if nodata is not None:
            valid &= raw != nodata
        low = valid & (raw.astype(np.float64) * scale + offset < threshold)
        mask_band.WriteArray(low.astype(np.uint8), 0, row)
    mask_band.FlushCache()
    return classified


def _keep_large(writer: GeoPackageWriter, work: ogr.Layer, result, minimum_area: float) -> ogr.Layer:
    """Copy the regions of `minimum_area` (CRS units²) or more into the candidates layer."""
    candidates = writer.create_layer(_CANDIDATES, result.grid.crs_wkt, ogr.wkbPolygon, [])
    candidates.StartTransaction()
    work.ResetReading()
    for feature in work:
        geometry = feature.GetGeometryRef()
        if geometry.GetArea() >= minimum_area:
            copy = ogr.Feature(candidates.GetLayerDefn())
            copy.SetGeometry(geometry)
            candidates.CreateFeature(copy)
    candidates.CommitTransaction()
    return candidates


def _zone_sums(
    writer, source, confidence, probabilities, result, output, progress, is_cancelled
) -> _ZoneSums:
    """Pixels, confidence, predicted classes and probabilities summed per candidate zone."""
    codes = result.nomenclature.codes
    lookup = np.full(256, len(codes), np.int64)  # codes outside the nomenclature go to a last column
    lookup[codes] = np.arange(len(codes))
    zones = writer.dataset.GetLayerByName(_CANDIDATES).GetFeatureCount()
    size = zones + 1
    sums = _ZoneSums(
        np.zeros(size, np.int64),
        np.zeros(size, np.float64),
        np.zeros((size, len(codes) + 1), np.int64),
        None if probabilities is None else np.zeros((size, probabilities.RasterCount), np.float64),
    )
    if zones == 0:
        return sums
    scale, offset, _ = confidence_scaling(confidence.GetRasterBand(1))
    with temporary_raster_path(output.parent, output.stem + ".ids") as ids_path:
        ids = create_work_raster(ids_path, source, gdal.GDT_Int32, None)
        callback = gdal_callback(progress, is_cancelled, 0.5, 0.7, "Measuring the zones")
        check(rasterize_ids(ids, writer.dataset, _CANDIDATES, callback), is_cancelled, "Rasterizing")
        id_band = ids.GetRasterBand(1)
        strips = list(row_strips(source.RasterXSize, source.RasterYSize))
        for number, (row, rows) in enumerate(strips):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            if progress is not None:
                progress(0.7 + 0.25 * number / len(strips), "Measuring the zones")
            pid = read_strip(id_band, row, rows).ravel()
            inside = pid > 0
            if not inside.any():
                continue
            pid = np.minimum(pid[inside], size - 1)
            sums.pixels += np.bincount(pid, minlength=size)
            values = read_strip(confidence.GetRasterBand(1), row, rows).ravel()[inside]
            sums.confidence += np.bincount(pid, weights=values * scale + offset, minlength=size)
            predicted = lookup[read_strip(source.GetRasterBand(1), row, rows).ravel()[inside]]
            width = len(codes) + 1
            sums.classes += np.bincount(pid * width + predicted, minlength=size * width).reshape(size, width)
            if probabilities is not None:
                for band in range(probabilities.RasterCount):
                    probability_band = probabilities.GetRasterBand(band + 1)
                    band_scale = probability_band.GetScale() or 1.0
                    if probability_band.DataType == gdal.GDT_Byte and band_scale == 1.0:
                        band_scale = 1 / 255
                    values = read_strip(probability_band, row, rows).ravel()[inside] * band_scale
                    sums.probabilities[:, band] += np.bincount(pid, weights=values, minlength=size)
        ids = None
    return sums


def _rank(candidates: ogr.Layer, sums: _ZoneSums, result, probability_codes, factor, language) -> list[dict]:
    """The zones as field dicts (schema names + "geometry"), rank 1 first."""
    codes = result.nomenclature.codes
    zones = []
    candidates.ResetReading()
    for feature in candidates:
        fid = feature.GetFID()
        pixels = int(sums.pixels[fid]) if fid < len(sums.pixels) else 0
        if pixels == 0:
            continue
        mean = float(np.clip(sums.confidence[fid] / pixels, 0.0, 1.0))
        area = feature.GetGeometryRef().GetArea() * factor
        counts = sums.classes[fid, : len(codes)]
        order = np.argsort(-counts, kind="stable")
        class_code = codes[int(order[0])]
        runner_up = None
        if sums.probabilities is not None:
            means = sums.probabilities[fid] / pixels
            for band in np.argsort(-means, kind="stable"):
                if probability_codes[int(band)] != class_code:
                    runner_up = probability_codes[int(band)]
                    break
        elif len(order) > 1 and counts[int(order[1])] > 0:
            runner_up = codes[int(order[1])]
        zones.append(
            {
                schema.FIELD_AREA: area,
                schema.FIELD_MEAN_CONFIDENCE: mean,
                schema.FIELD_CLASS_CODE: class_code,
                schema.FIELD_CLASS_NAME: _name(result, class_code, language),
                schema.FIELD_RUNNER_UP_CODE: runner_up,
                schema.FIELD_RUNNER_UP_NAME: None
                if runner_up is None
                else _name(result, runner_up, language),
                schema.FIELD_STATUS: schema.STATUS_TO_REVIEW,
                schema.FIELD_REVIEWED_AT: None,
                schema.FIELD_NOTE: None,
                "geometry": feature.GetGeometryRef().Clone(),
            }
        )
    zones.sort(key=lambda zone: -zone[schema.FIELD_AREA] * (1.0 - zone[schema.FIELD_MEAN_CONFIDENCE]))
    for rank, zone in enumerate(zones, start=1):
        zone[schema.FIELD_RANK] = rank
    return zones


def _name(result, code: int, language: str) -> str:
    try:
        return result.nomenclature.by_code(code).label(language)
    except KeyError:
        return str(code)
