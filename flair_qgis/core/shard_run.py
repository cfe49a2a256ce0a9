"""One shard of a plan (shards.py) computed, identical pixel for pixel to its part of one run over the
whole area (overlap blending included), and committed with a checked completion record.

Why a shard equals its part of a single run:
- Its tiles are the whole run's tiles (ShardTiling cuts them from the whole tiling), at the same places
  on the same output grid.
- A shard also runs its context margin: the whole run's tiles left of and above its interior whose
  squares reach into it. The margin columns form a chunk of their own, which hands its overlap to the
  shard's first chunk as the previous chunk does in the whole run, so every pixel of the interior sums
  the same tiles' weighted probabilities in the same order: the same floats, not merely close ones.
- Each tile's Sentinel-2 window comes from the whole run's region that holds the tile
  (sentinel2/regions.py): the same bounds, the same dates, the same reads.
- The interior alone is written, to the shard's own GeoTIFF, by the engine's transactional writer
  (temporary names, renamed when complete). A completion record beside it, written last, carries the
  plan's fingerprint and the files' SHA-256: a later run trusts a shard only when both still match.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from .aerial import open_aerial
from .bundle import load_bundle
from .errors import BundleError, InputError
from .gdal_runtime import require_one_gdal
from .geometry import OutputGrid, window_transform
from .models.download import file_sha256
from .outputs import OutputOptions, OutputReservation, OutputWriter, capped_gdal_cache
from .predict import PredictionRequest, TileRun
from .runtime import Runner, create_runner
from .sentinel2 import RegionalSeries, discover
from .shards import Plan, Shard, write_json
from .tiling import Stitcher, Tile, TileGrid

# ------------------------------------------------------------------------------------- shard tiling


class ShardTiling(TileGrid):
    """The tiles a shard runs, at their places on the whole output grid: its margin columns (the whole
    run's tiles left of the shard that reach into it) as chunk 0, then the shard's own column chunks;
    its margin rows above, then its own rows. `whole_tile(tile)` is the same tile in the whole tiling."""

    def __init__(self, whole: TileGrid, shard: Shard) -> None:
        # Cut from the whole tiling (not laid out anew from a size as TileGrid does), so that every tile
        # keeps its place and the chunks their boundaries.
        s = whole.tile_size
        x0, y0 = shard.window[0], shard.window[1]
        first_col = min(c for c in range(len(whole.xs)) if whole.xs[c] + s > x0)
        first_row = min(r for r in range(len(whole.ys)) if whole.ys[r] + s > y0)
        last_col, last_row = shard.cols[1], shard.rows[1]
        self.tile_size, self.overlap, self.stride = s, whole.overlap, whole.stride
        self.xs = whole.xs[first_col : last_col + 1]
        self.ys = whole.ys[first_row : last_row + 1]
        self.width = min(self.xs[-1] + s, whole.width)
        self.height = min(self.ys[-1] + s, whole.height)
        own = [[c - first_col for c in whole.chunks[k]] for k in range(shard.chunks[0], shard.chunks[1] + 1)]
        margin = list(range(own[0][0]))
        self.chunks = ([margin] if margin else []) + own
        self._col0, self._row0 = first_col, first_row
        self._chunk_of = {c: k for k, cols in enumerate(whole.chunks) for c in cols}
        self.whole = whole

    def whole_tile(self, tile: Tile) -> Tile:
        col, row = tile.col + self._col0, tile.row + self._row0
        return self.whole.tile(row, col, self._chunk_of[col])


class _WholeRunWindows:
    """Sentinel-2 windows of a shard's tiles from the whole run's regions (RegionalSeries of the whole
    tiling), so that a tile gets the window a single run gives it."""

    def __init__(self, series: RegionalSeries, tiling: ShardTiling) -> None:
        self.series, self.tiling = series, tiling

    def window(self, tile: Tile):
        return self.series.window(self.tiling.whole_tile(tile))

    @property
    def warnings(self) -> list[str]:
        return self.series.warnings

    @property
    def loaded(self) -> int:
        return self.series.loaded


class _InteriorWriter:
    """The shard's OutputWriter seen through whole-grid windows: `write` takes windows of the whole
    grid inside the shard's interior and writes them at their place in the shard's raster."""

    def __init__(self, writer: OutputWriter, interior: Window) -> None:
        self.writer, self.interior = writer, interior

    def write(self, window: Window, classes, confidence=None, probabilities=None) -> None:
        local = Window(
            window.col_off - self.interior.col_off,
            window.row_off - self.interior.row_off,
            window.width,
            window.height,
        )
        self.writer.write(local, classes, confidence, probabilities)


class ShardRun(TileRun):
    """The engine's tile loop (predict.TileRun) over a shard's tiles, writing only its interior."""

    def __init__(self, plan: Plan, shard: Shard, request: PredictionRequest, *args: Any) -> None:
        super().__init__(request, *args, plan.options.chunk_width, plan.options.region_height)
        self.tiling = ShardTiling(self.tiling, shard)
        if self.sentinel2 is not None:
            self.sentinel2 = _WholeRunWindows(self.sentinel2, self.tiling)  # type: ignore[assignment]
        self.interior = Window(*shard.window)
        self.shard_grid = OutputGrid(
            self.grid.crs,
            window_transform(self.grid.transform, self.interior),
            shard.window[2],
            shard.window[3],
        )
        self.paths = plan.shard_paths(shard)

    def execute(self, reservation: OutputReservation):  # type: ignore[override]
        options = OutputOptions(overwrite=True, language=self.request.language)
        with OutputWriter(
            self.paths,
            self.shard_grid,
            self.spec.nomenclature,
            options,
            reservation,
            model=self.spec.model_summary(),
        ) as writer:
            self.writer = _InteriorWriter(writer, self.interior)  # type: ignore[assignment]
            stitcher = Stitcher(self.tiling, len(self.codes), self.emit)
            self.run_tiles(stitcher)
            stitcher.finish()
            written = writer.commit()
        if self.sentinel2 is not None:
            self.warnings += self.sentinel2.warnings
        return writer.statistics, written

    def emit(self, window: Window, probabilities: np.ndarray, valid: np.ndarray) -> None:
        inner = self.interior
        c0, r0 = max(window.col_off, inner.col_off), max(window.row_off, inner.row_off)
        c1 = min(window.col_off + window.width, inner.col_off + inner.width)
        r1 = min(window.row_off + window.height, inner.row_off + inner.height)
        if c1 <= c0 or r1 <= r0:
            return  # the margin: computed for its overlap with the interior, not written
        rows = slice(r0 - window.row_off, r1 - window.row_off)
        cols = slice(c0 - window.col_off, c1 - window.col_off)
        super().emit(Window(c0, r0, c1 - c0, r1 - r0), probabilities[:, rows, cols], valid[rows, cols])


# ------------------------------------------------------------------------------------ run one shard


@dataclass
class ShardOutcome:
    """What running one shard did: "computed", or "committed" when a valid result was there already."""

    index: int
    status: str
    seconds: float = 0.0
    tiles: int = 0
    km2: float = 0.0
    warnings: list[str] = field(default_factory=list)
    worker: str = ""


_SHA256_CACHE: dict[tuple[str, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    """file_sha256, computed once per process for a file of unchanged size and modification time."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_CACHE:
        _SHA256_CACHE[key] = file_sha256(path)
    return _SHA256_CACHE[key]


def check_bundle(plan: Plan, sha256: Callable[[Path], str] = file_sha256) -> None:
    """BundleError when the plan's bundle is missing or is no longer the file the plan was made with."""
    path = Path(plan.bundle)
    if not path.is_file():
        raise BundleError(
            f"The plan's bundle {path} does not exist.", hint="Put it back, or write a new plan."
        )
    digest = sha256(path)
    if digest != plan.bundle_sha256:
        raise BundleError(
            f"The bundle {path} has changed since the plan {plan.path.name} was written (SHA-256 "
            f"{digest[:12]}…, the plan has {plan.bundle_sha256[:12]}…): its shards would not match.",
            hint="Put the original bundle back, or write a new plan (its shards are then recomputed).",
        )


def shard_state(plan: Plan, shard: Shard, *, verify: bool = False) -> str:
    """ "committed" (a record matching the plan and the files), "missing", or "stale" (a record of another
    plan's fingerprint, or files that no longer match their record).

    A file of the recorded size and modification time is taken as is, unless `verify`; one whose time
    changed (a copied folder) is compared by SHA-256, so only a changed content makes a shard stale."""
    record_path = plan.record_path(shard)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "stale"
    if not isinstance(record, dict) or record.get("fingerprint") != plan.fingerprint:
        return "stale"
    for name, expected in record.get("files", {}).items():
        path = plan.shards_folder / name
        try:
            stat = path.stat()
            if stat.st_size != expected["size"]:
                return "stale"
            if (verify or stat.st_mtime_ns != expected["mtime_ns"]) and file_sha256(path) != expected[
                "sha256"
            ]:
                return "stale"
        except (OSError, KeyError, TypeError):
            return "stale"
    return "committed"


def run_shard(
    plan: Plan,
    index: int,
    runner: Runner | None = None,
    *,
    worker: str = "",
    is_cancelled: Callable[[], bool] | None = None,
) -> ShardOutcome:
    """Compute shard `index` of `plan` unless a valid result is committed already; `runner` is an ONNX
    Runtime session to reuse (one is made for the plan's device otherwise). The shard's files are
    written under temporary names and renamed when complete; its completion record is written last."""
    shard = plan.shards[index]
    if shard_state(plan, shard) == "committed":
        return ShardOutcome(index, "committed", km2=plan.shard_area_km2(shard), worker=worker)
    started, wall = time.monotonic(), time.time()
    require_one_gdal()
    check_bundle(plan, _cached_sha256)
    bundle = load_bundle(plan.bundle)
    plan.shards_folder.mkdir(exist_ok=True)
    record_path = plan.record_path(shard)
    record_path.unlink(missing_ok=True)
    request = plan.request(plan.shard_paths(shard).classes)
    runner = runner or create_runner(bundle.path, plan.options.device, plan.options.threads)
    warnings: list[str] = []
    paths = plan.shard_paths(shard)
    with (
        capped_gdal_cache(),  # before the first read: memory flat in area
        OutputReservation(paths, OutputOptions(overwrite=True)) as reservation,
        open_aerial(bundle.spec.aerial, request.aerial) as aerial,
    ):
        warnings += reservation.notes
        grid = aerial.grid_for(plan.area)
        if grid != plan.grid:
            raise InputError(
                f"The aerial image of the plan {plan.path.name} has changed: its grid is no longer the plan's.",
                "Write a new plan for the image as it is now.",
            )
        warnings += aerial.warnings
        catalog = discover(plan.sentinel2) if bundle.spec.sentinel2 is not None and plan.sentinel2 else None
        run = ShardRun(
            plan,
            shard,
            request,
            bundle,
            aerial,
            grid,
            catalog,
            runner,
            lambda fraction, message: None,
            is_cancelled or (lambda: False),
        )
        statistics, written = run.execute(reservation)
        warnings += run.warnings
    files = {}
    for path in written.values():
        stat = path.stat()
        files[path.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(path)}
    record = {
        "fingerprint": plan.fingerprint,
        "shard": shard.index,
        "window": list(shard.window),
        "files": files,
        "pixels": {str(row.code): row.pixels for row in statistics},
        "tiles": run.tiles_done,
        "provider": runner.provider,
        # The ONNX Runtime session that ran it (process and object): one per worker, reused.
        "session": f"{os.getpid()}-{id(runner):x}",
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "worker": worker or socket.gethostname(),
        "started": wall,
        "seconds": time.monotonic() - started,
        "warnings": warnings,
    }
    write_json(record_path, record)
    return ShardOutcome(
        index,
        "computed",
        record["seconds"],
        run.tiles_done,
        plan.shard_area_km2(shard),
        warnings,
        record["worker"],
    )
