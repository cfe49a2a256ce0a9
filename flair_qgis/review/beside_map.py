"""The review outputs a run can write beside its map, as the dialog offers them: the land-cover polygons
(`<map>.polygons.gpkg`, flair:polygonize) and the review zones (`<map>.review.gpkg`, flair:review_zones),
made from the map and its confidence once the map is complete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from osgeo import ogr

from ..core.output_kinds import output_kind
from . import schema
from .zones import DEFAULT_THRESHOLD

#: Default minimum mapping unit of the dialog's polygons, m² (a 10 x 10 m square).
DEFAULT_MMU_M2 = 100.0
#: Default smallest review zone of the dialog, m² (a 5 x 5 m square).
DEFAULT_MIN_ZONE_M2 = 25.0


@dataclass(frozen=True)
class ReviewRequest:
    """Which review outputs to write beside the map, and with what settings."""

    polygons: bool = False
    mmu_m2: float = DEFAULT_MMU_M2
    zones: bool = False
    threshold: float = DEFAULT_THRESHOLD
    min_zone_m2: float = DEFAULT_MIN_ZONE_M2

    @property
    def wanted(self) -> bool:
        return self.polygons or self.zones


@dataclass
class ReviewWritten:
    """What was written beside the map: paths (None when not asked or failed), counts, messages."""

    polygons: Path | None = None
    polygon_count: int = 0
    zones: Path | None = None
    zone_count: int = 0
    zone_area_m2: float = 0.0
    warnings: list[str] = field(default_factory=list)
    #: Why an asked-for output was not written (the map itself is complete and kept).
    errors: list[str] = field(default_factory=list)

    def files(self) -> dict[str, Path]:
        """The files written, by kind (core/output_kinds)."""
        return {
            kind: path for kind, path in (("polygons", self.polygons), ("review_zones", self.zones)) if path
        }


def polygons_path(classes: str | Path) -> Path:
    """`map.tif` -> `map.polygons.gpkg`."""
    return output_kind("polygons").beside(classes)


def zones_path(classes: str | Path) -> Path:
    """`map.tif` -> `map.review.gpkg`."""
    return output_kind("review_zones").beside(classes)


def verdicts_in(path: str | Path) -> int:
    """How many zones of the review GeoPackage at `path` carry a reviewer's verdict (0 when it is not
    one or cannot be read): a file holding verdicts is a reviewer's work, never replaced silently."""
    dataset = ogr.Open(str(path)) if Path(path).is_file() else None
    layer = dataset.GetLayerByName(schema.REVIEW_LAYER_NAME) if dataset is not None else None
    if layer is None or layer.GetLayerDefn().GetFieldIndex(schema.FIELD_STATUS) < 0:
        return 0
    statuses = ", ".join(f"'{status}'" for status in schema.REVIEWED_STATUSES)
    layer.SetAttributeFilter(f"{schema.FIELD_STATUS} IN ({statuses})")
    return int(layer.GetFeatureCount())


def destination_problems(classes: str | Path, request: ReviewRequest, overwrite: bool) -> list[str]:
    """What stops the review outputs from being written beside `classes`: an existing file the user did
    not ask to replace, or a review GeoPackage holding verdicts (never replaced)."""
    problems = []
    targets = []
    if request.polygons:
        targets.append(polygons_path(classes))
    if request.zones:
        targets.append(zones_path(classes))
        reviewed = verdicts_in(zones_path(classes))
        if reviewed:
            problems.append(
                f"{zones_path(classes).name} holds {reviewed} reviewed zone(s): it is not replaced. Choose "
                "another map name, or move that file away to keep the verdicts."
            )
            targets.remove(zones_path(classes))
    for path in targets:
        if path.is_dir():
            problems.append(f"{path.name} is a folder: choose another map name.")
        elif path.exists() and not overwrite:
            problems.append(f"{path.name} already exists: choose another name or tick 'Replace the file'.")
    return problems


def write_beside_map(
    classes: str | Path,
    confidence: str | Path | None,
    probabilities: str | Path | None,
    request: ReviewRequest,
    *,
    language: str = "en",
    progress: Callable[[float, str], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> ReviewWritten:
    """Write the review outputs `request` asks for beside the finished map `classes`. A bad input or
    setting of one output is reported in `errors` and the other is still written; Cancelled (from
    raster_blocks) is raised as it is."""
    from .geopackage import GeoPackageError
    from .polygonize import polygonize_result
    from .result import ResultError
    from .zones import review_zones

    written = ReviewWritten()
    steps = [name for name, asked in (("polygons", request.polygons), ("zones", request.zones)) if asked]

    def step_progress(index: int) -> Callable[[float, str], None] | None:
        if progress is None:
            return None
        return lambda fraction, message: progress((index + fraction) / len(steps), message)

    for index, step in enumerate(steps):
        try:
            if step == "polygons":
                summary = polygonize_result(
                    classes, polygons_path(classes), confidence=confidence, mmu_m2=request.mmu_m2,
                    language=language, progress=step_progress(index), is_cancelled=is_cancelled,
                )  # fmt: skip
                written.polygons, written.polygon_count = summary.path, summary.polygons
            elif confidence is None:
                written.errors.append("Review zones need the confidence raster: tick 'Confidence raster'.")
                continue
            else:
                summary = review_zones(
                    classes, confidence, zones_path(classes), probabilities=probabilities,
                    threshold=request.threshold, min_area_m2=request.min_zone_m2, language=language,
                    progress=step_progress(index), is_cancelled=is_cancelled,
                )  # fmt: skip
                written.zones, written.zone_count = summary.path, summary.zones
                written.zone_area_m2 = summary.area_m2
            written.warnings += summary.warnings
        except (ResultError, GeoPackageError, RuntimeError) as exc:
            written.errors.append(f"The {'polygons' if step == 'polygons' else 'review zones'}: {exc}")
    return written
