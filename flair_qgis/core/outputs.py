"""The map's files, written so that a failure or a cancel leaves nothing behind: where each goes
(OutputPaths), which existing files may be replaced, and the writer that makes the whole set appear at
once. What each file holds, and how it is written, is the table of output_kinds.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
import rasterio.shutil
from rasterio.windows import Window

from .errors import OutputError
from .gdal_runtime import RASTERIO_ERRORS
from .geometry import OutputGrid
from .nomenclature import Nomenclature
from .output_kinds import ClassStatistics, WindowValues, compute_statistics, engine_kinds, output_kind
from .transaction import (
    OutputLock,
    check_replaceable,
    clean_dead_runs,
    partial_path,
    recover,
    switch,
)


@dataclass(frozen=True)
class OutputPaths:
    """Where each output of one map goes, by kind (output_kinds: "classes", "qml", "aux",
    "statistics_json", "statistics_csv", and the optional kinds asked for, e.g. "confidence");
    `paths.confidence` is the file of that kind, None when it is not written."""

    files: dict[str, Path]
    #: Kinds whose path the user chose one by one (Processing's destinations), besides `classes`.
    named: frozenset[str] = frozenset()

    @classmethod
    def for_classes(
        cls, classes: str | Path, *, destinations: dict[str, str | Path] | None = None, **asked: bool
    ) -> OutputPaths:
        """The paths of every output beside the class raster `classes` (e.g. map.tif): those always
        written and the optional kinds asked by name (`confidence=True`). `destinations` puts some
        outputs (a kind with a Processing parameter) at paths of their own, which asks for them."""
        classes = Path(classes)
        chosen = {kind: Path(path) for kind, path in (destinations or {}).items() if path}
        unknown = set(chosen) - {k.name for k in engine_kinds() if k.parameter and k.name != "classes"}
        if unknown:
            raise ValueError(f"no such output destination: {sorted(unknown)}")
        optional = {k.name for k in engine_kinds() if k.optional}
        if set(asked) - optional:
            raise ValueError(f"no such optional output: {sorted(set(asked) - optional)}")
        files = {"classes": classes}
        for kind in engine_kinds():
            if kind.name != "classes" and (not kind.optional or asked.get(kind.name) or kind.name in chosen):
                files[kind.name] = chosen.get(kind.name, kind.beside(classes))
        finals = [os.path.normcase(os.path.abspath(p)) for p in files.values()]
        if len(set(finals)) != len(finals):
            raise OutputError("Two outputs have the same path.", "Choose a different path for each output.")
        return cls(files, frozenset(chosen))

    def __getattr__(self, name: str) -> Path | None:
        if name.startswith("_") or name in ("files", "named") or name not in {k.name for k in engine_kinds()}:
            raise AttributeError(name)
        return self.files.get(name)

    @property
    def classes(self) -> Path:
        return self.files["classes"]

    def items(self) -> dict[str, Path]:
        """Every output to write, by kind, in the table's order."""
        return dict(self.files)

    def rasters(self) -> dict[str, Path]:
        """The raster outputs, by kind."""
        return {k: p for k, p in self.files.items() if output_kind(k).writer.raster}

    def members(self, stale: bool = True) -> list[Path]:
        """Every path the previous set of this map may have: the outputs, GDAL's companion files of the
        rasters (map.tif.msk...) and, with `stale`, the optional outputs this run does not write at
        their usual place beside the map (a previous run's map.confidence.tif), with their companions."""
        rasters = list(self.rasters().values())
        paths = list(self.files.values())
        if stale:
            for kind in engine_kinds():
                beside = kind.beside(self.classes)
                if kind.optional and beside not in paths:
                    paths.append(beside)
                    rasters += [beside] if kind.writer.raster else []
        paths += [r.with_name(r.name + suffix) for r in rasters for suffix in RASTER_COMPANIONS]
        return list(dict.fromkeys(paths))

    def lock_targets(self) -> list[Path]:
        """The paths locked during a run: the class raster, and each output in another folder."""
        folder = self.classes.parent.resolve()
        others = [p for p in self.files.values() if p.parent.resolve() != folder]
        return sorted(dict.fromkeys([self.classes, *others]))


#: Files GDAL may write beside a GeoTIFF: its PAM side-car, an external mask, external overviews.
RASTER_COMPANIONS = (".aux.xml", ".msk", ".ovr")


@dataclass(frozen=True)
class OutputOptions:
    """How the outputs are written. `language` ("en"/"fr") names the classes in the style and statistics."""

    cog: bool = False
    #: Replace the whole previous set of this map (its stale members included), as --overwrite asks.
    overwrite: bool = False
    #: Processing's rule instead: the files at the paths the user chose (the class raster, the named
    #: destinations) and GDAL's companions of those rasters may be replaced; the other files of the set
    #: (map.qml, map.stats.json, ...) only when this program wrote them (see written_by_this_program).
    replace_named_only: bool = False
    language: str = "en"
    block_size: int = 512  # a multiple of 16
    compress: str = "DEFLATE"
    #: GDAL's block cache is capped at this many MB (reads included: the cache is shared by the process).
    #: GDAL's default, 5 % of RAM, lets memory grow with the map's area. See capped_gdal_cache.
    gdal_cache_mb: int = 128


def capped_gdal_cache(options: OutputOptions | None = None) -> rasterio.Env:
    """The environment that caps GDAL's block cache at `options.gdal_cache_mb`. GDAL reads GDAL_CACHEMAX
    once, at the process's first block read, so a run enters it before it reads anything (the value
    checks read the image before the writer opens); a process that read rasters before (QGIS) keeps its
    own cache size."""
    mb = (options or OutputOptions()).gdal_cache_mb
    return rasterio.Env(GDAL_CACHEMAX=mb * 2**20)


def check_outputs(paths: OutputPaths, overwrite: bool | OutputOptions) -> None:
    """OutputError unless every output can be written: the folder exists and takes a new file (tried
    for real), no output path is a folder or a link, and no file of the set exists unless the options
    allow replacing it (`overwrite` or OutputOptions)."""
    options = overwrite if isinstance(overwrite, OutputOptions) else OutputOptions(overwrite=overwrite)
    folders = {p.parent for p in paths.items().values()}
    for folder in folders:
        _check_folder(folder)
    replaceable = replacement_rule(paths, options)
    for path in paths.members(stale=not options.replace_named_only):
        check_replaceable(path, replaceable)


def replacement_rule(paths: OutputPaths, options: OutputOptions):
    """Whether an existing file of the set may be replaced, by path."""
    if not options.replace_named_only:
        return lambda path: options.overwrite
    named = [paths.classes, *(getattr(paths, kind) for kind in paths.named)]
    named += [r.with_name(r.name + s) for r in paths.rasters().values() for s in RASTER_COMPANIONS]
    named = set(named)

    def replaceable(path: Path) -> bool:
        return path in named or written_by_this_program(path, paths)

    replaceable.hint = (  # type: ignore[attr-defined]
        "It is not a file this program wrote for this map: move it, or choose another name for the map."
    )
    return replaceable


def written_by_this_program(path: Path, paths: OutputPaths) -> bool:
    """Whether `path`, a side file of `paths`' set, is one this program wrote (its kind's writer
    recognises it: a style with this program's mark, statistics of this map...). Anything else is the
    user's."""
    kinds = [kind for kind, member in paths.files.items() if member == path]
    try:
        if not kinds or path.stat().st_size > 1 << 20:
            return False
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return output_kind(kinds[0]).writer.recognises(text, paths)


class OutputReservation:
    """The outputs of one run, reserved before any work: the locks beside them taken (OutputError when
    another run holds one), what dead runs left there recovered, and the set checked. Use as a context
    manager; the locks are released on every way out."""

    def __init__(self, paths: OutputPaths, options: OutputOptions | None = None) -> None:
        self.paths = paths
        self.options = options or OutputOptions()
        self.token = secrets.token_hex(8)
        self.locks = [OutputLock(target, self.token) for target in paths.lock_targets()]
        #: What was recovered from interrupted runs, for the user.
        self.notes: list[str] = []

    @property
    def main_lock(self) -> OutputLock:
        return self.locks[[lock.target for lock in self.locks].index(self.paths.classes)]

    def __enter__(self) -> OutputReservation:
        folders = {p.parent for p in self.paths.items().values()}
        for folder in folders:
            _check_folder(folder)
        try:
            for lock in self.locks:
                lock.acquire()
            for lock in self.locks:
                if lock.previous:
                    self.notes += recover(lock.previous, folders)
            self.notes += clean_dead_runs(folders, {lock.path for lock in self.locks})
            check_outputs(self.paths, self.options)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        for lock in self.locks:
            lock.release()


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise OutputError(
            f"The output folder {folder} does not exist.", "Create it or choose another folder."
        )
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder.", "Choose an existing folder for the outputs.")
    probe = folder / f".flair-write-test-{secrets.token_hex(4)}"
    try:
        probe.open("xb").close()
    except OSError as exc:
        raise OutputError(
            f"The output folder {folder} is not writable: {exc.strerror or exc}.",
            "Choose a folder you can write to.",
        ) from exc
    probe.unlink()


class OutputWriter:
    """Writes one map window by window under temporary names; `commit()` makes it appear.

    Every file is first written under a hidden temporary name in its target folder
    (`.map.tif.partial-<random>`) and renamed to its real name only by `commit()`; an exception, a
    cancel or a full disk removes the temporary files and leaves the output paths untouched. With
    `cog`, the rasters are converted to Cloud-Optimised GeoTIFFs (with overviews) before the renames.

    Use as a context manager: leaving the block by an exception, or without `commit()`, removes every
    temporary file. Each pixel must be written once (the statistics count what is written). Create,
    write and commit on one thread (other threads may read rasters meanwhile). While it is open,
    GDAL's block cache is capped (OutputOptions.gdal_cache_mb) so that memory does not grow with area.
    """

    def __init__(
        self,
        paths: OutputPaths,
        grid: OutputGrid,
        nomenclature: Nomenclature,
        options: OutputOptions | None = None,
        reservation: OutputReservation | None = None,
        *,
        model: dict[str, str] | None = None,
    ) -> None:
        self.paths = paths
        #: The model that made the map (BundleSpec.model_summary), for the statistics JSON; None: left out.
        self.model = model
        self.grid = grid
        self.nomenclature = nomenclature
        self.options = options or OutputOptions()
        self.committed = False
        self.statistics: list[ClassStatistics] = []
        #: What the run found valid but misleading (given to commit), for the statistics JSON.
        self.warnings: list[str] = []
        #: Pixels written per class code (the statistics).
        self.counts = np.zeros(256, np.int64)
        self._temps: dict[str, Path] = {}
        self._datasets: dict[str, Any] = {}
        self._gdal_env = contextlib.ExitStack()
        self._own = reservation is None  # a reservation of its own, released when done
        self.reservation = reservation or OutputReservation(paths, self.options).__enter__()
        if not self._own:
            check_outputs(paths, self.options)
        # GDAL_TIFF_INTERNAL_MASK: the probabilities' mask inside the GeoTIFF, not in an external .msk
        # (QGIS's GDAL 3.6 writes it outside by default).
        self._gdal_env.enter_context(capped_gdal_cache(self.options))
        self._gdal_env.enter_context(rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True))
        with self._guard(paths.classes):
            self._open_rasters()

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()

    # --- writing -----------------------------------------------------------------------------------

    def write(
        self,
        window: Window,
        classes: np.ndarray,
        confidence: np.ndarray | None = None,
        probabilities: np.ndarray | None = None,
    ) -> None:
        """Write `window` of the grid: classes uint8 h x w (CLASS_NODATA outside the map), confidence
        float32 h x w in 0..1 and probabilities float32 C x h x w in 0..1 (NaN or class 0 = nodata)."""
        shape = (int(window.height), int(window.width))
        if classes.shape != shape:
            raise ValueError(f"classes are {classes.shape}, the window is {shape}")
        values = WindowValues(classes, confidence, probabilities)
        with self._guard(self.paths.classes):
            for kind, dataset in self._datasets.items():
                output_kind(kind).writer.write(dataset, window, values)
            self.counts += np.bincount(classes.ravel(), minlength=256)[:256]

    def commit(self, warnings: Sequence[str] = ()) -> dict[str, Path]:
        """Finish every file and rename them to their real names; returns them by kind (see
        OutputPaths.items). `warnings`, what the run found valid but misleading, go into the statistics
        JSON in their order. Raises OutputError (with nothing left behind) when that fails."""
        if self.committed:
            raise RuntimeError("outputs already committed")
        self.warnings = [str(w) for w in warnings]
        with self._guard(self.paths.classes):
            self._close_rasters()
            if self.options.cog:
                self._convert_to_cog()
            self.statistics = compute_statistics(
                self.counts, self.nomenclature, self.grid.pixel_area_m2, self.options.language
            )
            for kind, final in self.paths.files.items():
                if not output_kind(kind).writer.raster:
                    output_kind(kind).writer.finish(self, self._temp(kind, final))
        written = self._switch()
        return written

    def abort(self) -> None:
        """Close and remove every temporary file; the output paths are left as they were."""
        for dataset in self._datasets.values():
            with contextlib.suppress(Exception):
                dataset.close()
        self._datasets.clear()
        for temp in self._temps.values():
            _remove_with_side_files(temp)
        self._temps.clear()
        self._gdal_env.close()
        if self._own:
            self.reservation.release()

    # --- internals ---------------------------------------------------------------------------------

    def _temp(self, kind: str, final: Path) -> Path:
        temp = partial_path(final, self.reservation.token)
        if kind.endswith("_cog"):
            temp = temp.with_name(temp.name + "-cog")
        self._temps[kind] = temp
        return temp

    def raster(self, temp: Path, count: int, **profile: Any) -> Any:
        """A new uint8 GeoTIFF dataset of the grid at `temp` (tiled, compressed): for the writers' `open`."""
        size = self.options.block_size
        options: dict[str, Any] = {
            "driver": "GTiff",
            "width": self.grid.width,
            "height": self.grid.height,
            "count": count,
            "dtype": "uint8",
            "crs": self.grid.crs,
            "transform": self.grid.transform,
            "tiled": True,
            "blockxsize": size,
            "blockysize": size,
            "compress": self.options.compress,
            "predictor": 2,
            "bigtiff": "IF_SAFER",
        }
        options.update(profile)
        return rasterio.open(temp, "w", **options)

    def _open_rasters(self) -> None:
        for kind, final in self.paths.rasters().items():
            self._datasets[kind] = output_kind(kind).writer.open(self, self._temp(kind, final))

    def _close_rasters(self) -> None:
        while self._datasets:
            _, dataset = self._datasets.popitem()
            dataset.close()

    def _convert_to_cog(self) -> None:
        for kind, final in self.paths.rasters().items():
            source = self._temps[kind]
            target = self._temp(kind + "_cog", final)
            rasterio.shutil.copy(
                source,
                target,
                driver="COG",
                compress=self.options.compress,
                predictor="YES",
                blocksize=self.options.block_size,
                overviews="AUTO",
                resampling=output_kind(kind).writer.overview_resampling,
                bigtiff="IF_SAFER",
            )
            _remove_with_side_files(source)
            self._temps[kind] = self._temps.pop(kind + "_cog")

    def _switch(self) -> dict[str, Path]:
        """Put the new set in place of the previous one in one step (transaction.switch); on failure the
        previous set is as it was and nothing of the new one is left."""
        finals = self.paths.items()
        placements = {finals[kind]: temp for kind, temp in self._temps.items()}
        for kind, final in self.paths.rasters().items():
            temp = self._temps[kind]
            for suffix in RASTER_COMPANIONS:
                companion = temp.with_name(temp.name + suffix)
                if not companion.exists():
                    continue
                if kind == "classes" and suffix == ".aux.xml":  # this writer's own side-car wins
                    companion.unlink()
                    continue
                placements[final.with_name(final.name + suffix)] = companion
        members = self.paths.members(stale=not self.options.replace_named_only)
        try:
            switch(
                placements,
                members,
                replacement_rule(self.paths, self.options),
                self.reservation.token,
                self.reservation.main_lock,
            )
        except BaseException:
            self.abort()
            raise
        self._temps.clear()
        self.committed = True
        self._gdal_env.close()
        if self._own:
            self.reservation.release()
        return finals

    @contextlib.contextmanager
    def _guard(self, path: Path):
        """Turn I/O failures into OutputError, removing every temporary file first."""
        try:
            yield
        except (OSError, *RASTERIO_ERRORS) as exc:
            self.abort()
            raise _output_error(exc, path) from exc
        except BaseException:
            self.abort()
            raise


def _output_error(exc: BaseException, path: Path) -> OutputError:
    if _disk_full(exc) or _free_bytes(path.parent) < _LOW_SPACE:
        return OutputError(
            f"The disk is full: {path.name} could not be written in {path.parent}. Nothing was kept.",
            "Free some space or choose another folder.",
        )
    return OutputError(f"Writing {path} failed: {exc}", "Check the folder and the free space.")


#: Free space under which a failed write is put down to a full disk (GDAL does not always say ENOSPC).
_LOW_SPACE = 16 * 2**20


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return _LOW_SPACE


def _disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from, says the disk is full."""
    seen = 0
    while exc is not None and seen < 10:
        if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _remove_with_side_files(path: Path) -> None:
    """Remove a temporary file and whatever GDAL may have put beside it."""
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in RASTER_COMPANIONS)):
        with contextlib.suppress(OSError):
            candidate.unlink()
