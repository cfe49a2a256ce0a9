"""Training data from a reviewer's corrections, in the exact FLAIR #2 layout the training package reads.

From a FLAIR map, its corrections, the aerial composition and Sentinel-2 folder the run used, and the bundle
it ran, `export_training_patches` writes under one dataset root:

    flair_aerial_train/<domain>/<zone>/img/IMG_<id>.tif      the model's aerial bands, tile_size px at its gsd
    flair_labels_train/<domain>/<zone>/msk/MSK_<id>.tif      corrected codes; 0 (ignored by the loss) elsewhere,
                                                             or, when asked, the map's confident predictions
    flair_sen_train/<domain>/<zone>/sen/SEN2_sp_<domain>-<zone>_{data.npy,masks.npy,products.txt}
    flair-2_centroids_sp_to_patch.json                       each patch's centre in its zone's super-area
    flair_aerial_metadata.json                               patch centroids (and the aerial date when given)
    manifest.json                                            sources, CRS, date, author, pixel counts per class

Patches lie on the aerial composition's pixel grid, in cells of tile_size pixels; every cell a correction
touches is a candidate, and one without any labelled pixel is not written. Zones group the patches by
ZONE_PATCHES x ZONE_PATCHES cells; each zone's super-area is read with the plugin's own Sentinel-2 reader
(the same products, mosaicking and grid as a run), and a patch's centroid is the window the run would cut
for it. The dataset is written in a hidden folder and renamed into place once complete.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal, ogr, osr

from ..core.nomenclature import CLASS_NODATA
from ..core.sentinel2.flair_npy import CENTROIDS_NAME
from . import schema
from .corrections import Correction, check_corrections, read_corrections
from .raster_blocks import Cancelled, Progress
from .result import ClassResult, ResultError, confidence_scaling, open_confidence, read_class_result

#: Label value of pixels without a label: outside 1..19, so the training package ignores them.
UNLABELLED = 0
#: A zone (one Sentinel-2 super-area) groups patches by cells of this many patches a side.
ZONE_PATCHES = 8
AERIAL_METADATA_NAME = "flair_aerial_metadata.json"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class PatchExport:
    """What to export. `aerial` is the composition the run used (core.aerial.open_aerial's argument);
    `confident` labels, beside the corrections, the map's pixels whose confidence reaches it (needs
    `confidence`); `aerial_date` (YYYY-MM-DD) goes into the aerial metadata of each patch."""

    classes: Path
    corrections: Path
    aerial: Any
    bundle: Path
    out: Path
    sentinel2: Path | None = None
    confidence: Path | None = None
    confident: float | None = None
    domain: str = ""
    author: str = ""
    aerial_date: str = ""
    #: Layer of the corrections file (default: the corrections layer, or the file's only layer).
    corrections_layer: str | None = None


@dataclass
class PatchExportSummary:
    """What was written: the dataset root, patches, zones, labelled pixels per class code, warnings."""

    out: Path
    patches: int = 0
    zones: int = 0
    corrected_pixels: Counter = field(default_factory=Counter)
    predicted_pixels: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Patch:
    name: str  # IMG_<id>
    zone: str
    col: int  # cell column / row on the aerial grid, in patches
    row: int


def export_training_patches(
    request: PatchExport, progress: Progress | None = None, is_cancelled: Callable[[], bool] | None = None
) -> PatchExportSummary:
    """Write the training patches of `request` (see the module's docstring). ResultError, with nothing
    written, for an output folder that is not empty, corrections that cannot be used, a map that is not on
    the aerial grid, a `confident` threshold without confidence raster, or no labelled patch."""
    from ..core.aerial import open_aerial
    from ..core.bundle import load_bundle
    from ..core.gdal_runtime import require_one_gdal

    require_one_gdal()
    out = Path(request.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ResultError(f"The output folder {out} is not empty: choose a new or empty folder.")
    if not out.parent.is_dir():
        raise ResultError(f"The folder {out.parent} does not exist: create it or choose another.")
    if request.confident is not None and request.confidence is None:
        raise ResultError("Labelling confident predictions needs the map's confidence raster: give it.")
    if request.confident is not None and not 0.0 < request.confident <= 1.0:
        raise ResultError(
            f"The confidence for labels must lie in 0..1 (e.g. 0.9), got {request.confident:g}."
        )
    if request.aerial_date:
        try:
            date.fromisoformat(request.aerial_date)
        except ValueError as exc:
            raise ResultError(f"The aerial date '{request.aerial_date}' is not a date YYYY-MM-DD.") from exc
    result = read_class_result(request.classes)
    spec = load_bundle(request.bundle).spec
    if spec.needs_sentinel2 and request.sentinel2 is None:
        raise ResultError("The model uses Sentinel-2: give the Sentinel-2 folder the map was made with.")
    summary = PatchExportSummary(out)
    corrections, warnings = read_corrections(
        request.corrections, result, request.corrections_layer or schema.CORRECTIONS_LAYER_NAME
    )
    summary.warnings += warnings
    usable = check_corrections(corrections, result, summary.warnings)
    usable.sort(key=lambda c: (c.date, c.fid))  # burnt in this order: the latest wins
    domain = request.domain or _domain_name(result)

    work = out.with_name(f".{out.name}.partial-{secrets.token_hex(4)}")
    work.mkdir()
    try:
        with open_aerial(spec.aerial, request.aerial) as aerial:
            grid = aerial.grid_for(None)
            _check_map_grid(result, grid)
            confidence = open_confidence(result, request.confidence) if request.confidence else None
            patches = _written_patches(
                request,
                result,
                aerial,
                grid,
                usable,
                confidence,
                domain,
                work,
                summary,
                progress,
                is_cancelled,
            )
        if not patches:
            raise ResultError(
                "No patch has a labelled pixel: the corrections cover no aerial pixel with data. Check that "
                "they lie on the aerial image."
            )
        summary.patches = len(patches)
        zones = sorted({p.zone for p in patches})
        summary.zones = len(zones)
        size = spec.aerial.tile_size
        if spec.sentinel2 is not None:
            centroids = {}
            for index, zone in enumerate(zones):
                if progress is not None:
                    progress(0.7 + 0.25 * index / len(zones), f"Reading Sentinel-2 for zone {zone}")
                members = [p for p in patches if p.zone == zone]
                centroids.update(
                    _write_super_area(
                        request, spec.sentinel2, grid, size, domain, zone, members, work, summary
                    )
                )
            (work / CENTROIDS_NAME).write_text(json.dumps(centroids, indent=1), encoding="utf-8")
        _write_metadata(request, grid, size, patches, work)
        _write_manifest(request, result, spec, grid, domain, summary, work)
        if is_cancelled is not None and is_cancelled():
            raise Cancelled()
        if out.exists():
            out.rmdir()  # the empty folder the user chose: replaced by the complete dataset
        os.replace(work, out)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    missing = [c.label("en") for c in result.nomenclature.classes if not summary.corrected_pixels.get(c.code)]
    if missing:
        summary.warnings.append(
            f"The corrections hold no example of {len(missing)} class(es): {', '.join(missing)}. "
            "Fine-tuning on these patches alone teaches nothing about them."
        )
    if progress is not None:
        progress(1.0, f"{summary.patches} training patches written")
    return summary


def _domain_name(result: ClassResult) -> str:
    """A domain name for the dataset, e.g. `CORR-landcover_2021`: no clash with FLAIR #2's D0xx_yyyy."""
    stem = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in result.path.stem)
    return f"CORR-{stem}"


def _check_map_grid(result: ClassResult, grid) -> None:
    """ResultError unless the map lies on the aerial composition's pixel grid (same CRS and pixel size,
    origin a whole number of pixels away)."""
    gt = result.grid.geotransform
    same_crs = osr.SpatialReference()
    same_crs.ImportFromWkt(result.grid.crs_wkt)
    other = osr.SpatialReference()
    other.SetFromUserInput(grid.crs)
    size = grid.transform.a
    offsets = ((gt[0] - grid.transform.c) / size, (grid.transform.f - gt[3]) / size)
    aligned = all(abs(o - round(o)) < 1e-6 for o in offsets)
    if not same_crs.IsSame(other) or abs(gt[1] - size) > 1e-9 * size or not aligned:
        raise ResultError(
            f"The map {result.path.name} is not on the grid of the aerial image given (CRS, pixel size or "
            "alignment differ): give the aerial layers the map was made from."
        )


def _cells(corrections: list[Correction], grid, size: int) -> list[tuple[int, int]]:
    """The (col, row) patch cells of `grid` that a correction's bounding box touches, sorted."""
    cells = set()
    pixel = grid.transform.a
    x0, y0 = grid.transform.c, grid.transform.f
    cols, rows = math.ceil(grid.width / size), math.ceil(grid.height / size)
    for correction in corrections:
        xmin, xmax, ymin, ymax = ogr.CreateGeometryFromWkb(correction.wkb).GetEnvelope()
        c0, c1 = int((xmin - x0) // (pixel * size)), int((xmax - x0) // (pixel * size))
        r0, r1 = int((y0 - ymax) // (pixel * size)), int((y0 - ymin) // (pixel * size))
        for col in range(max(c0, 0), min(c1, cols - 1) + 1):
            for row in range(max(r0, 0), min(r1, rows - 1) + 1):
                cells.add((col, row))
    return sorted(cells, key=lambda cell: (cell[1], cell[0]))


def _written_patches(
    request, result, aerial, grid, corrections, confidence, domain, work, summary, progress, is_cancelled
) -> list[_Patch]:
    """Write every labelled patch's image and labels; returns the patches written."""
    from rasterio.windows import Window

    size = aerial.spec.tile_size
    cells = _cells(corrections, grid, size)
    burner = _CorrectionBurner(corrections, result.grid.crs_wkt)
    classes_dataset = gdal.Open(str(result.path)) if request.confident is not None else None
    written: list[_Patch] = []
    for index, (col, row) in enumerate(cells):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled()
        if progress is not None:
            progress(0.7 * index / max(len(cells), 1), f"Patch {index + 1} of {len(cells)}")
        window = Window(col * size, row * size, size, size)
        transform = grid.window_transform(window)
        raw, valid = aerial.read(grid, window)
        labels = burner.burn(transform, size)
        corrected = labels != UNLABELLED
        predicted = np.zeros_like(corrected)
        if request.confident is not None:
            codes, scores = _map_window(result, classes_dataset, confidence, transform, size)
            predicted = ~corrected & (codes != CLASS_NODATA) & (scores >= request.confident)
            labels[predicted] = codes[predicted]
        labels[~valid] = UNLABELLED
        if not (labels != UNLABELLED).any():
            continue
        zone = f"Z{col // ZONE_PATCHES}-{row // ZONE_PATCHES}"
        patch = _Patch(f"IMG_{domain}-{len(written) + 1:05d}", zone, col, row)
        patch_id = patch.name.removeprefix("IMG_")
        image_dir = work / "flair_aerial_train" / domain / zone / "img"
        label_dir = work / "flair_labels_train" / domain / zone / "msk"
        for folder in (image_dir, label_dir):
            folder.mkdir(parents=True, exist_ok=True)
        _write_tif(image_dir / f"{patch.name}.tif", _aerial_values(raw, aerial.spec), transform, grid.crs)
        _write_tif(label_dir / f"MSK_{patch_id}.tif", labels[None], transform, grid.crs)
        summary.corrected_pixels.update(_counts(labels[corrected & valid]))
        summary.predicted_pixels.update(_counts(labels[predicted & valid]))
        written.append(patch)
    return written


class _CorrectionBurner:
    """The corrections in an in-memory OGR layer, burnt (latest last) into one patch's labels at a time."""

    def __init__(self, corrections: list[Correction], crs_wkt: str) -> None:
        self.crs_wkt = crs_wkt
        self.source = ogr.GetDriverByName("Memory").CreateDataSource("corrections")
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        self.layer = self.source.CreateLayer("corrections", srs, ogr.wkbPolygon)
        self.layer.CreateField(ogr.FieldDefn(schema.FIELD_CODE, ogr.OFTInteger))
        for correction in corrections:
            feature = ogr.Feature(self.layer.GetLayerDefn())
            feature.SetGeometry(ogr.CreateGeometryFromWkb(correction.wkb))
            feature[schema.FIELD_CODE] = correction.code
            self.layer.CreateFeature(feature)

    def burn(self, transform, size: int) -> np.ndarray:
        target = gdal.GetDriverByName("MEM").Create("", size, size, 1, gdal.GDT_Byte)
        target.SetGeoTransform((transform.c, transform.a, 0.0, transform.f, 0.0, transform.e))
        target.SetProjection(self.crs_wkt)
        gdal.RasterizeLayer(target, [1], self.layer, options=[f"ATTRIBUTE={schema.FIELD_CODE}"])
        return target.GetRasterBand(1).ReadAsArray().astype(np.uint8)


def _map_window(
    result: ClassResult, source, confidence, transform, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The map's codes and confidence (0..1) on a patch; nodata outside the map."""
    gt = result.grid.geotransform
    col0 = round((transform.c - gt[0]) / gt[1])
    row0 = round((transform.f - gt[3]) / gt[5])
    codes = np.zeros((size, size), np.uint8)
    scores = np.zeros((size, size), np.float64)
    c0, r0 = max(col0, 0), max(row0, 0)
    c1, r1 = min(col0 + size, result.grid.width), min(row0 + size, result.grid.height)
    if c1 <= c0 or r1 <= r0:
        return codes, scores
    block = (slice(r0 - row0, r1 - row0), slice(c0 - col0, c1 - col0))
    codes[block] = source.GetRasterBand(1).ReadAsArray(c0, r0, c1 - c0, r1 - r0)
    band = confidence.GetRasterBand(1)
    scale, offset, nodata = confidence_scaling(band)
    raw = band.ReadAsArray(c0, r0, c1 - c0, r1 - r0).astype(np.float64)
    values = raw * scale + offset
    if nodata is not None:
        values[raw == nodata] = 0.0
    scores[block] = values
    return codes, scores


def _aerial_values(raw: np.ndarray, spec) -> np.ndarray:
    """The composition's raw bands as the patch stores them: uint8 for 0..255 models (as FLAIR #2 does),
    float32 otherwise."""
    if tuple(spec.value_range) == (0.0, 255.0):
        return np.clip(np.rint(raw), 0, 255).astype(np.uint8)
    return raw.astype(np.float32)


def _write_tif(path: Path, data: np.ndarray, transform, crs: str) -> None:
    import rasterio

    bands, rows, cols = data.shape
    with rasterio.open(
        path, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype=data.dtype.name, crs=crs,
        transform=transform, compress="deflate",
    ) as dataset:  # fmt: skip
        dataset.write(data)


def _counts(codes: np.ndarray) -> Counter:
    values, counts = np.unique(codes, return_counts=True)
    return Counter({int(v): int(c) for v, c in zip(values, counts, strict=True)})


def _write_super_area(
    request, spec, grid, size, domain, zone, members, work, summary
) -> dict[str, list[int]]:
    """The zone's super-area files, read as a run reads Sentinel-2; returns its patches' centroids."""
    from ..core.errors import InputError
    from ..core.sentinel2.dates import parse_date
    from ..core.sentinel2.load import load_series, on_ground

    pixel = grid.transform.a
    x0, y0 = grid.transform.c, grid.transform.f
    xmin = x0 + min(p.col for p in members) * size * pixel
    xmax = x0 + (max(p.col for p in members) + 1) * size * pixel
    ymax = y0 - min(p.row for p in members) * size * pixel
    ymin = y0 - (max(p.row for p in members) + 1) * size * pixel
    try:
        series = load_series(
            request.sentinel2,
            grid.crs,
            (xmin, ymin, xmax, ymax),
            on_ground(spec, grid.scale),
            allow_partial=True,
        )
    except InputError as exc:
        raise ResultError(f"Sentinel-2 for zone {zone}: {exc}") from exc
    summary.warnings += [w for w in series.warnings if w not in summary.warnings]
    folder = work / "flair_sen_train" / domain / zone / "sen"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"SEN2_sp_{domain}-{zone}"
    data = series.data
    if np.isfinite(data).all():  # as FLAIR #2 stores it; NaN (no data) needs floats
        data = np.clip(np.rint(data), 0, 65535).astype(np.uint16)
    np.save(folder / f"{prefix}_data.npy", data)
    np.save(folder / f"{prefix}_masks.npy", series.masks)
    names = []
    for day, sources in zip(series.dates, series.sources, strict=True):
        name = sources[0]
        names.append(name if parse_date(name) == day else f"{day:%Y%m%d}_{name}")
    (folder / f"{prefix}_products.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    centroids = {}
    window = spec.window_size
    for patch in members:
        x = x0 + (patch.col + 0.5) * size * pixel
        y = y0 - (patch.row + 0.5) * size * pixel
        # The window a run cuts for this tile (Sentinel2Series.window), as FLAIR #2's centre index.
        col0 = round((x - series.grid.xmin) / series.grid.gsd - window / 2)
        row0 = round((series.grid.ymax - y) / series.grid.gsd - window / 2)
        centroids[f"{patch.name}.tif"] = [row0 + window // 2, col0 + window // 2]
    return centroids


def _write_metadata(request, grid, size, patches, work) -> None:
    pixel = grid.transform.a
    entries = {}
    for patch in patches:
        entry: dict[str, Any] = {
            "patch_centroid_x": round(grid.transform.c + (patch.col + 0.5) * size * pixel, 2),
            "patch_centroid_y": round(grid.transform.f - (patch.row + 0.5) * size * pixel, 2),
            "patch_centroid_z": 0.0,
        }
        if request.aerial_date:
            entry["date"] = request.aerial_date
        entries[patch.name] = entry
    (work / AERIAL_METADATA_NAME).write_text(json.dumps(entries, indent=1), encoding="utf-8")


def _write_manifest(request, result, spec, grid, domain, summary, work) -> None:
    names = {c.code: c.name for c in result.nomenclature.classes}

    def per_class(counts: Counter) -> dict[str, int]:
        return {f"{code} {names.get(code, code)}": counts[code] for code in sorted(counts)}

    manifest = {
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "author": request.author,
        "domain": domain,
        "crs": grid.crs,
        "map": str(Path(request.classes).resolve()),
        "corrections": str(Path(request.corrections).resolve()),
        "aerial": _aerial_names(request.aerial),
        "confidence": str(Path(request.confidence).resolve()) if request.confidence else None,
        "sentinel2": str(Path(request.sentinel2).resolve()) if request.sentinel2 else None,
        "bundle": str(Path(request.bundle).resolve()),
        "model": f"{spec.model_name} {spec.model_version}",
        "labels": {
            "corrections": "where drawn (latest wins)",
            "confident_predictions": request.confident,
            "unlabelled_value": UNLABELLED,
        },
        "patches": summary.patches,
        "zones": summary.zones,
        "corrected_pixels": per_class(summary.corrected_pixels),
        "predicted_pixels": per_class(summary.predicted_pixels),
        "warnings": summary.warnings,
    }
    (work / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")


def _aerial_names(aerial: Any) -> list[str]:
    """The aerial composition as the manifest records it: `path` or `path:band` per model band."""
    if isinstance(aerial, (str, Path)):
        return [str(Path(aerial).resolve())]
    names = []
    for item in aerial:
        if isinstance(item, tuple):
            source, band = item
            names.append(f"{getattr(source, 'name', source)}:{band}")
        else:
            names.append(
                f"{getattr(getattr(item, 'source', item), 'name', item)}:{getattr(item, 'band', '')}"
            )
    return names
