"""An area split into shards that separate processes or machines compute, and the plan file that every
worker reads (docs/distributed.md): the whole area's output grid and tiling, the shards' windows, the
run's options and the inputs' fingerprints. Running a shard is shard_run.py; merging them shard_merge.py.

Shards are groups of whole column chunks of the whole area's tiling (tiling.py) by groups of tile rows,
so a shard's tiles are exactly the whole run's tiles, at the same places on the same output grid.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affine import Affine

from .aerial import open_aerial
from .area import AreaOfInterest
from .bundle import load_bundle
from .errors import InputError, OutputError
from .geometry import OutputGrid
from .models.download import file_sha256
from .outputs import OutputPaths
from .predict import PredictionRequest, check_options
from .sentinel2 import discover
from .sentinel2.regions import REGION_HEIGHT
from .tiling import CHUNK_WIDTH, TileGrid

PLAN_FORMAT = "flair_qgis.plan"
PLAN_VERSION = 1
#: Default shard size in output pixels (rounded to whole column chunks and whole tile rows): 8192 x 16384
#: px is 1.6 x 3.3 km at 0.2 m, a few minutes on a CPU, well under a minute on a GPU.
SHARD_WIDTH = 8192
SHARD_HEIGHT = 16384
SHARDS_FOLDER = "shards"

AerialPaths = str | list[tuple[str, int]]


# ---------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Shard:
    """One shard: tile columns `cols` and tile rows `rows` (first, last inclusive) of the whole tiling,
    column chunks `chunks` (first, last), and `window`, the part of the whole output grid it writes."""

    index: int
    chunks: tuple[int, int]
    cols: tuple[int, int]
    rows: tuple[int, int]
    window: tuple[int, int, int, int]  # col_off, row_off, width, height

    @property
    def name(self) -> str:
        return f"shard_{self.index:05d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "chunks": list(self.chunks),
            "cols": list(self.cols),
            "rows": list(self.rows),
            "window": list(self.window),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shard:
        return cls(
            int(data["index"]),
            tuple(data["chunks"]),  # type: ignore[arg-type]
            tuple(data["cols"]),  # type: ignore[arg-type]
            tuple(data["rows"]),  # type: ignore[arg-type]
            tuple(data["window"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class PlanOptions:
    """The run options of a plan. All but `device`, `batch_size` and `threads` shape the results and
    are part of the plan's fingerprint."""

    overlap: int
    chunk_width: int = CHUNK_WIDTH
    region_height: int = REGION_HEIGHT
    confidence: bool = False
    probabilities: bool = False
    language: str = "en"
    device: str = "auto"
    batch_size: int | None = None
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_RESULT_OPTIONS = ("overlap", "chunk_width", "region_height", "confidence", "probabilities", "language")


@dataclass(frozen=True)
class Plan:
    """What every worker reads: the inputs, the bundle and its SHA-256, the options, the whole output
    grid and the shards. Results go to `folder` (shards in folder/shards/, the merged map beside)."""

    path: Path
    name: str
    aerial: AerialPaths
    sentinel2: str | None
    area: AreaOfInterest | None
    bundle: str
    bundle_sha256: str
    options: PlanOptions
    grid: OutputGrid
    tile_size: int
    shards: list[Shard] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def shards_folder(self) -> Path:
        return self.folder / SHARDS_FOLDER

    def shard_paths(self, shard: Shard) -> OutputPaths:
        return OutputPaths.for_classes(
            self.shards_folder / f"{shard.name}.tif",
            confidence=self.options.confidence,
            probabilities=self.options.probabilities,
        )

    def record_path(self, shard: Shard) -> Path:
        return self.shards_folder / f"{shard.name}.done.json"

    def shard_area_km2(self, shard: Shard) -> float:
        return shard.window[2] * shard.window[3] * self.grid.pixel_area_m2 / 1e6

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 of everything that shapes the results: bundle, inputs, result options, grid, shards."""
        document = {
            "bundle_sha256": self.bundle_sha256,
            "aerial": self.aerial,
            "sentinel2": self.sentinel2,
            "area": _area_dict(self.area),
            "options": {k: getattr(self.options, k) for k in _RESULT_OPTIONS},
            "grid": _grid_dict(self.grid),
            "tile_size": self.tile_size,
            "shards": [s.to_dict() for s in self.shards],
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()

    def whole_tiling(self) -> TileGrid:
        return TileGrid(
            self.grid.width, self.grid.height, self.tile_size, self.options.overlap, self.options.chunk_width
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "name": self.name,
            "inputs": {"aerial": self.aerial, "sentinel2": self.sentinel2, "area": _area_dict(self.area)},
            "bundle": {"path": self.bundle, "sha256": self.bundle_sha256},
            "options": self.options.to_dict(),
            "grid": _grid_dict(self.grid),
            "tile_size": self.tile_size,
            "fingerprint": self.fingerprint,
            "shards": [s.to_dict() for s in self.shards],
        }

    def request(self, output: Path) -> PredictionRequest:
        """The engine's request for this plan's inputs and options, writing to `output`."""
        aerial: Any = self.aerial if isinstance(self.aerial, str) else [tuple(a) for a in self.aerial]
        return PredictionRequest(
            aerial=aerial,
            bundle=self.bundle,
            output=output,
            sentinel2=self.sentinel2,
            area=self.area,
            device=self.options.device,
            overlap=self.options.overlap,
            batch_size=self.options.batch_size,
            threads=self.options.threads,
            outputs=[kind for kind in ("confidence", "probabilities") if getattr(self.options, kind)],
            overwrite=True,
            language=self.options.language,
        )


def _area_dict(area: AreaOfInterest | None) -> dict[str, Any] | None:
    if area is None:
        return None
    return {"geometry": area.geometry, "crs": area.crs, "is_box": area.is_box}


def _grid_dict(grid: OutputGrid) -> dict[str, Any]:
    t = grid.transform
    return {
        "crs": grid.crs,
        "transform": [t.a, t.b, t.c, t.d, t.e, t.f],
        "width": grid.width,
        "height": grid.height,
    }


def make_plan(
    path: str | Path,
    aerial: AerialPaths,
    bundle: str | Path,
    *,
    sentinel2: str | Path | None = None,
    area: AreaOfInterest | None = None,
    overlap: int | None = None,
    shard_width: int = SHARD_WIDTH,
    shard_height: int = SHARD_HEIGHT,
    chunk_width: int = CHUNK_WIDTH,
    region_height: int = REGION_HEIGHT,
    confidence: bool = False,
    probabilities: bool = False,
    language: str = "en",
    device: str = "auto",
    batch_size: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
) -> Plan:
    """Check the inputs as a run would, split the area into shards of about shard_width x shard_height
    output px (whole column chunks by whole tile rows) and write the plan to `path` (a .json file whose
    folder receives the results). Raises InputError, BundleError, OutputError."""
    path = Path(path).absolute()
    if path.suffix.lower() != ".json":
        raise OutputError(f"The plan {path} must be a .json file", "Name the plan e.g. plan.json.")
    if not path.parent.is_dir():
        raise OutputError(f"The plan's folder {path.parent} does not exist.", "Create it first.")
    if path.exists() and not overwrite:
        raise OutputError(
            f"The plan {path} exists already.",
            "Run it with run-plan, or give --overwrite to replace it (its shards are then recomputed).",
        )
    if shard_width < 1 or shard_height < 1:
        raise InputError(f"The shard size must be positive, got {shard_width} x {shard_height} px")
    aerial = _absolute_aerial(aerial)
    bundle_path = Path(bundle).absolute()
    spec = load_bundle(bundle_path).spec
    options = PlanOptions(
        overlap=spec.aerial.tile_size // 8 if overlap is None else overlap,
        chunk_width=chunk_width,
        region_height=region_height,
        confidence=confidence,
        probabilities=probabilities,
        language=language,
        device=device,
        batch_size=batch_size,
        threads=threads,
    )
    sentinel2_path = None if sentinel2 is None else str(Path(sentinel2).absolute())
    request = PredictionRequest(
        aerial=aerial if isinstance(aerial, str) else list(aerial),
        bundle=bundle_path,
        output=path.with_suffix(".tif"),
        sentinel2=sentinel2_path,
        area=area,
        overlap=options.overlap,
        batch_size=batch_size,
        threads=threads,
    )
    check_options(request, spec)
    with open_aerial(spec.aerial, request.aerial) as composition:
        grid = composition.grid_for(area)
    if spec.needs_sentinel2:
        assert sentinel2_path is not None
        discover(sentinel2_path)  # InputError now rather than on every worker
    tiling = TileGrid(grid.width, grid.height, spec.aerial.tile_size, options.overlap, chunk_width)
    plan = Plan(
        path=path,
        name=path.stem,
        aerial=aerial,
        sentinel2=sentinel2_path,
        area=area,
        bundle=str(bundle_path),
        bundle_sha256=file_sha256(bundle_path),
        options=options,
        grid=grid,
        tile_size=spec.aerial.tile_size,
        shards=split_into_shards(
            tiling, shard_width, shard_height, region_height if spec.needs_sentinel2 else None
        ),
    )
    write_json(path, plan.to_dict())
    return plan


def _absolute_aerial(aerial: AerialPaths | Sequence[Any]) -> AerialPaths:
    if isinstance(aerial, (str, Path)):
        return str(Path(aerial).absolute())
    items = []
    for item in aerial:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], (str, Path))):
            raise InputError(
                "A plan takes the aerial image as files: one path, or (path, band) per model band.",
                "Save layers that are not files (web services, memory layers) as GeoTIFFs first.",
            )
        items.append((str(Path(item[0]).absolute()), int(item[1])))
    return items


def split_into_shards(
    tiling: TileGrid, shard_width: int, shard_height: int, region_height: int | None = None
) -> list[Shard]:
    """Shards of whole column chunks (about shard_width px) by whole tile rows (about shard_height px),
    row of shards after row of shards; their windows tile the grid exactly. With `region_height` (a
    Sentinel-2 run) the rows are whole Sentinel-2 regions, so that no two shards read the same region
    for their own tiles (a shard reads a whole region even for a few of its tile rows)."""
    chunk_px = tiling.chunk_span(0)[1] - tiling.chunk_span(0)[0]
    chunks_per_shard = max(1, round(shard_width / max(1, chunk_px)))
    rows_per_shard = max(1, round(shard_height / tiling.stride))
    if region_height is not None:
        rows_per_region = max(1, round(region_height / tiling.stride))
        rows_per_shard = rows_per_region * max(1, round(rows_per_shard / rows_per_region))
    shards: list[Shard] = []
    for first_row in range(0, len(tiling.ys), rows_per_shard):
        last_row = min(first_row + rows_per_shard, len(tiling.ys)) - 1
        y0 = tiling.row_span(first_row)[0] if first_row else 0
        y1 = tiling.row_span(last_row)[1]
        for first_chunk in range(0, len(tiling.chunks), chunks_per_shard):
            last_chunk = min(first_chunk + chunks_per_shard, len(tiling.chunks)) - 1
            x0 = tiling.chunk_span(first_chunk)[0]
            x1 = tiling.chunk_span(last_chunk)[1]
            cols = (tiling.chunks[first_chunk][0], tiling.chunks[last_chunk][-1])
            shards.append(
                Shard(
                    len(shards),
                    (first_chunk, last_chunk),
                    cols,
                    (first_row, last_row),
                    (x0, y0, x1 - x0, y1 - y0),
                )
            )
    return shards


def read_plan(path: str | Path) -> Plan:
    """The plan at `path`; InputError when it is not one this version reads."""
    path = Path(path).absolute()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"The plan {path} does not exist.", "Write one with `python -m flair_qgis plan`."
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"The plan {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise InputError(f"{path} is not a flair_qgis plan.", "Write one with `python -m flair_qgis plan`.")
    if data.get("version") != PLAN_VERSION:
        raise InputError(
            f"The plan {path} has version {data.get('version')}; this flair_qgis reads version {PLAN_VERSION}.",
            "Write the plan again with this version.",
        )
    try:
        inputs, grid = data["inputs"], data["grid"]
        area = inputs["area"]
        aerial = inputs["aerial"]
        plan = Plan(
            path=path,
            name=data["name"],
            aerial=aerial if isinstance(aerial, str) else [(str(p), int(b)) for p, b in aerial],
            sentinel2=inputs["sentinel2"],
            area=None
            if area is None
            else AreaOfInterest(area["geometry"], area["crs"], bool(area["is_box"])),
            bundle=data["bundle"]["path"],
            bundle_sha256=data["bundle"]["sha256"],
            options=PlanOptions(**data["options"]),
            grid=OutputGrid(grid["crs"], Affine(*grid["transform"]), int(grid["width"]), int(grid["height"])),
            tile_size=int(data["tile_size"]),
            shards=[Shard.from_dict(s) for s in data["shards"]],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"The plan {path} is incomplete or damaged ({exc!r}).", "Write the plan again."
        ) from exc
    if data.get("fingerprint") != plan.fingerprint:
        raise InputError(
            f"The plan {path} was edited by hand: its fingerprint does not match its content.",
            "Write the plan again with `python -m flair_qgis plan` rather than editing it.",
        )
    return plan


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write `document` to `path` in one step (a temporary file renamed over it)."""
    temp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    temp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(temp, path)
