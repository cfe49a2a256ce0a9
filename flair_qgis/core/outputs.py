"""The map's files, written so that a failure or a cancel leaves nothing behind: the class raster with
its palette, names and QGIS style, optional confidence and probabilities, and per-class statistics.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import secrets
import shutil
import xml.etree.ElementTree as ET
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
from .nomenclature import CLASS_NODATA, Nomenclature
from .transaction import (
    OutputLock,
    check_replaceable,
    clean_dead_runs,
    partial_path,
    recover,
    switch,
)

#: The custom property that marks a style as written by this program (see written_by_this_program).
_QML_MARK = "flair_qgis/generated"

#: Nodata of the confidence raster (above 100 %); the class raster's is CLASS_NODATA (0, no class has it).
CONFIDENCE_NODATA = 255


@dataclass(frozen=True)
class OutputPaths:
    """Where each output of one map goes; `confidence` and `probabilities` are None when not asked.

    Beside `map.tif`:
      map.tif                uint8 class codes of the nomenclature, 0 = nodata (outside the area or no
                             image), colour table and class names (band metadata) embedded; tiled, DEFLATE
      map.tif.aux.xml        category names and a raster attribute table (code, name, colour), where GDAL
                             keeps them for GeoTIFFs, so that GDAL, QGIS and ArcGIS show class names
      map.qml                QGIS style: paletted renderer with the official colours and names
      map.stats.json / .csv  per-class pixels, hectares and percent of the classified area; the JSON
                             also lists the run's warnings (valid but misleading input)
      map.confidence.tif     (optional) uint8 percent 0..100: the mapped class's probability; 255 = nodata;
                             GDAL scale 0.01, so GIS that apply it show 0..1
      map.probabilities.tif  (optional) uint8 probability x 255 (GDAL scale 1/255), one band per class
                             named after it; outside the map masked (an internal per-dataset mask)
    """

    classes: Path
    qml: Path
    aux: Path
    statistics_json: Path
    statistics_csv: Path
    confidence: Path | None = None
    probabilities: Path | None = None

    #: Kinds whose path the user chose one by one (Processing's destinations), besides `classes`.
    named: frozenset[str] = frozenset()

    @classmethod
    def for_classes(
        cls,
        classes: str | Path,
        *,
        confidence: bool = False,
        probabilities: bool = False,
        destinations: dict[str, str | Path] | None = None,
    ) -> OutputPaths:
        """The paths of every output beside the class raster `classes` (e.g. map.tif); `destinations`
        puts some outputs ("confidence", "probabilities", "statistics_csv") at paths of their own."""
        classes = Path(classes)
        stem = classes.with_suffix("")
        chosen = {kind: Path(path) for kind, path in (destinations or {}).items() if path}
        unknown = set(chosen) - {"confidence", "probabilities", "statistics_csv"}
        if unknown:
            raise ValueError(f"no such output destination: {sorted(unknown)}")
        confidence = confidence or "confidence" in chosen
        probabilities = probabilities or "probabilities" in chosen
        paths = cls(
            classes=classes,
            qml=classes.with_suffix(".qml"),
            aux=classes.with_name(classes.name + ".aux.xml"),
            statistics_json=stem.with_name(stem.name + ".stats.json"),
            statistics_csv=chosen.get("statistics_csv", stem.with_name(stem.name + ".stats.csv")),
            confidence=chosen.get("confidence", stem.with_name(stem.name + ".confidence.tif"))
            if confidence
            else None,
            probabilities=chosen.get("probabilities", stem.with_name(stem.name + ".probabilities.tif"))
            if probabilities
            else None,
            named=frozenset(chosen),
        )
        finals = [os.path.normcase(os.path.abspath(p)) for p in paths.items().values()]
        if len(set(finals)) != len(finals):
            raise OutputError("Two outputs have the same path.", "Choose a different path for each output.")
        return paths

    def items(self) -> dict[str, Path]:
        """Every output to write, by kind ("classes", "qml", "aux", "statistics_json", ...)."""
        kinds = ("classes", "qml", "aux", "statistics_json", "statistics_csv", "confidence", "probabilities")
        return {kind: getattr(self, kind) for kind in kinds if getattr(self, kind) is not None}

    def rasters(self) -> dict[str, Path]:
        """The raster outputs, by kind."""
        return {k: p for k, p in self.items().items() if k in ("classes", "confidence", "probabilities")}

    def members(self, stale: bool = True) -> list[Path]:
        """Every path the previous set of this map may have: the outputs, GDAL's companion files of the
        rasters (map.tif.msk...) and, with `stale`, the optional rasters this run does not write at
        their usual place beside the map (a previous run's map.confidence.tif), with their companions."""
        rasters = list(self.rasters().values())
        if stale:
            beside = OutputPaths.for_classes(self.classes, confidence=True, probabilities=True)
            rasters += [p for p in (beside.confidence, beside.probabilities) if p not in rasters]
        paths = list(self.items().values()) + rasters
        paths += [r.with_name(r.name + suffix) for r in rasters for suffix in RASTER_COMPANIONS]
        return list(dict.fromkeys(paths))

    def lock_targets(self) -> list[Path]:
        """The paths locked during a run: the class raster, and each output in another folder."""
        folder = self.classes.parent.resolve()
        others = [p for p in self.items().values() if p.parent.resolve() != folder]
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
    #: GDAL's block cache is capped at this many MB while the writer is open (reads included: the cache is
    #: shared by the process). GDAL's default, 5 % of RAM, lets memory grow with the map's area.
    gdal_cache_mb: int = 128


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
    """Whether `path`, a side file of `paths`' set, is one this program wrote: a style with this
    program's mark, statistics of this map in this program's layout. Anything else is the user's."""
    try:
        if path.stat().st_size > 1 << 20:
            return False
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if path == paths.qml:
        return _QML_MARK in text
    if path == paths.statistics_json:
        try:
            document = json.loads(text)
        except ValueError:
            return False
        return (
            isinstance(document, dict)
            and document.get("map") == paths.classes.name
            and {"nomenclature", "classes", "pixel_area_m2"} <= set(document)
        )
    if path == paths.statistics_csv:
        return text.startswith("code,class,hectares,percent\n")
    return False


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


def compute_statistics(
    counts: np.ndarray, nomenclature: Nomenclature, pixel_area_m2: float, language: str = "en"
) -> list[ClassStatistics]:
    """One row per class of `nomenclature` (in its order) from `counts[code]` = pixels of that code."""
    codes = nomenclature.codes
    classified = int(sum(int(counts[code]) for code in codes))
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
    ) -> None:
        self.paths = paths
        self.grid = grid
        self.nomenclature = nomenclature
        self.options = options or OutputOptions()
        self.committed = False
        self.statistics: list[ClassStatistics] = []
        self._warnings: list[str] = []
        self._counts = np.zeros(256, np.int64)
        self._temps: dict[str, Path] = {}
        self._datasets: dict[str, Any] = {}
        self._gdal_env = contextlib.ExitStack()
        self._own = reservation is None  # a reservation of its own, released when done
        self.reservation = reservation or OutputReservation(paths, self.options).__enter__()
        if not self._own:
            check_outputs(paths, self.options)
        # GDAL_TIFF_INTERNAL_MASK: the probabilities' mask inside the GeoTIFF, not in an external .msk
        # (QGIS's GDAL 3.6 writes it outside by default).
        self._gdal_env.enter_context(
            rasterio.Env(GDAL_CACHEMAX=self.options.gdal_cache_mb * 2**20, GDAL_TIFF_INTERNAL_MASK=True)
        )
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
        outside = classes == CLASS_NODATA
        with self._guard(self.paths.classes):
            self._datasets["classes"].write(classes.astype(np.uint8, copy=False), 1, window=window)
            self._counts += np.bincount(classes.ravel(), minlength=256)[:256]
            if confidence is not None and "confidence" in self._datasets:
                self._datasets["confidence"].write(_confidence_codes(confidence, outside), 1, window=window)
            if probabilities is not None and "probabilities" in self._datasets:
                dataset = self._datasets["probabilities"]
                dataset.write(_probability_codes(probabilities), window=window)
                dataset.write_mask(np.where(outside, 0, 255).astype(np.uint8), window=window)

    def commit(self, warnings: Sequence[str] = ()) -> dict[str, Path]:
        """Finish every file and rename them to their real names; returns them by kind (see
        OutputPaths.items). `warnings`, what the run found valid but misleading, go into the statistics
        JSON in their order. Raises OutputError (with nothing left behind) when that fails."""
        if self.committed:
            raise RuntimeError("outputs already committed")
        self._warnings = [str(w) for w in warnings]
        with self._guard(self.paths.classes):
            self._close_rasters()
            if self.options.cog:
                self._convert_to_cog()
            self.statistics = compute_statistics(
                self._counts, self.nomenclature, self.grid.pixel_area_m2, self.options.language
            )
            self._write_side_cars()
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

    def _raster(self, kind: str, final: Path, count: int, **profile: Any) -> Any:
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
        dataset = rasterio.open(self._temp(kind, final), "w", **options)
        self._datasets[kind] = dataset
        return dataset

    def _open_rasters(self) -> None:
        language = self.options.language
        classes = self._raster("classes", self.paths.classes, 1, nodata=CLASS_NODATA)
        colours = {CLASS_NODATA: (0, 0, 0, 0)}
        colours.update({c.code: (*c.rgb, 255) for c in self.nomenclature.classes})
        classes.write_colormap(1, colours)
        classes.set_band_description(1, f"land cover ({self.nomenclature.name})")
        classes.update_tags(NOMENCLATURE=self.nomenclature.name)
        classes.update_tags(1, **{f"CLASS_{c.code}": c.label(language) for c in self.nomenclature.classes})
        if self.paths.confidence is not None:
            confidence = self._raster("confidence", self.paths.confidence, 1, nodata=CONFIDENCE_NODATA)
            # Stored as percent; GIS that apply the scale (QGIS does) show, and label, the probability 0..1.
            confidence.set_band_description(1, "confidence (0..1)")
            confidence.scales = (0.01,)
        if self.paths.probabilities is not None:
            count = len(self.nomenclature.classes)
            probabilities = self._raster("probabilities", self.paths.probabilities, count)
            probabilities.scales = (1 / 255,) * count
            for band, cls in enumerate(self.nomenclature.classes, start=1):
                probabilities.set_band_description(band, cls.label(language))
                probabilities.update_tags(band, CODE=str(cls.code))

    def _close_rasters(self) -> None:
        while self._datasets:
            _, dataset = self._datasets.popitem()
            dataset.close()

    def _convert_to_cog(self) -> None:
        for kind in ("classes", "confidence", "probabilities"):
            if kind not in self._temps:
                continue
            source = self._temps[kind]
            final = getattr(self.paths, kind)
            target = self._temp(kind + "_cog", final)
            rasterio.shutil.copy(
                source,
                target,
                driver="COG",
                compress=self.options.compress,
                predictor="YES",
                blocksize=self.options.block_size,
                overviews="AUTO",
                resampling="NEAREST" if kind == "classes" else "AVERAGE",
                bigtiff="IF_SAFER",
            )
            _remove_with_side_files(source)
            self._temps[kind] = self._temps.pop(kind + "_cog")

    def _write_side_cars(self) -> None:
        language = self.options.language
        _write_text(self._temp("qml", self.paths.qml), qml_text(self.nomenclature, language))
        _write_text(self._temp("aux", self.paths.aux), aux_xml_text(self.nomenclature, language))
        _write_text(self._temp("statistics_json", self.paths.statistics_json), self._statistics_json())
        _write_text(
            self._temp("statistics_csv", self.paths.statistics_csv), statistics_csv_text(self.statistics)
        )

    def _statistics_json(self) -> str:
        classified = sum(row.pixels for row in self.statistics)
        document = {
            "map": self.paths.classes.name,
            "nomenclature": self.nomenclature.name,
            "pixel_area_m2": self.grid.pixel_area_m2,
            "classified_pixels": classified,
            "classified_hectares": classified * self.grid.pixel_area_m2 / 10_000,
            "nodata_pixels": int(self._counts[CLASS_NODATA]),
            "classes": [row.to_dict() for row in self.statistics],
            "warnings": self._warnings,
        }
        return json.dumps(document, ensure_ascii=False, indent=1) + "\n"

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


def _write_text(path: Path, text: str) -> None:
    with path.open("x", encoding="utf-8", newline="") as stream:
        stream.write(text)


def _confidence_codes(confidence: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """uint8 percent of `confidence` (0..1), CONFIDENCE_NODATA where outside or NaN."""
    percent = _scaled_codes(confidence, 100)
    percent[outside | np.isnan(confidence)] = CONFIDENCE_NODATA
    return percent


def _probability_codes(probabilities: np.ndarray) -> np.ndarray:
    """uint8 round(p x 255) of C x h x w probabilities (NaN -> 0; the mask says where the map is)."""
    return _scaled_codes(probabilities, 255)


def _scaled_codes(values: np.ndarray, top: int) -> np.ndarray:
    """uint8 round(clip(values, 0, 1) x top), NaN -> 0, with a single float temporary."""
    scaled = np.nan_to_num(values.astype(np.float32), nan=0.0, copy=False)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= top
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)


def statistics_csv_text(rows: list[ClassStatistics]) -> str:
    """CSV with columns code, class, hectares (4 decimals), percent (2 decimals)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "class", "hectares", "percent"])
    for row in rows:
        writer.writerow([row.code, row.name, f"{row.hectares:.4f}", f"{row.percent:.2f}"])
    return buffer.getvalue()


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
    ET.SubElement(
        provider,
        "resampling",
        {
            "enabled": "false",
            "zoomedInResamplingMethod": "nearestNeighbour",
            "zoomedOutResamplingMethod": "nearestNeighbour",
            "maxOversampling": "2",
        },
    )
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        {"type": "paletted", "band": "1", "opacity": "1", "alphaBand": "-1", "nodataColor": ""},
    )
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for cls in nomenclature.classes:
        ET.SubElement(
            palette,
            "paletteEntry",
            {
                "value": str(cls.code),
                "color": cls.colour.lower(),
                "label": cls.label(language),
                "alpha": "255",
            },
        )
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
