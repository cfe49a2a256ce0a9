"""One prediction from end to end: check every input first, then run the bundle tile by tile on a
reader thread's prefetched batches, blend, and hand finished windows to the output writer.

Memory does not grow with the area: tiles go column chunk by column chunk, top to bottom (tiling.py),
the stitcher keeps one strip per chunk, and the reader thread loads the Sentinel-2 series of one region
(a chunk x a band of tile rows, sentinel2/regions.py) at a time.

The request, the checks made before anything is written, and the tile loop (TileRun, which a shard's run
reuses: shard_run.py) stay in this one module of about 500 lines: one run's path reads top to bottom."""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from .aerial import AerialArgument, AerialComposition, open_aerial
from .aerial_values import value_warnings
from .area import AreaOfInterest
from .bundle import Bundle, check_graph, graph_tensors, read_bundle
from .bundle_spec import BundleSpec
from .errors import Cancelled, InputError, OutputError
from .gdal_runtime import require_one_gdal
from .geometry import OutputGrid
from .model_inputs import Batch, graph_inputs, taken
from .output_kinds import ClassStatistics, output_kinds
from .outputs import (
    OutputOptions,
    OutputPaths,
    OutputReservation,
    OutputWriter,
    capped_gdal_cache,
    check_outputs,
)
from .runtime import CPU, Job, Lanes, Runner, choose_providers, create_runner, device_label, lane_plan
from .sentinel2 import RegionalSeries, Sentinel2Catalog, discover, on_ground
from .sentinel2.regions import REGION_HEIGHT
from .tiling import CHUNK_WIDTH, Stitcher, Tile, TileGrid

#: A map whose share of area pixels with aerial data is below this gets a warning.
PARTLY_EMPTY = 0.5
#: The stages of a run whose seconds PredictionResult.stages gives. The calling thread's stages add up to
#: the run's time (with a little bookkeeping): start-up (bundle and ONNX Runtime session), inference
#: (waiting for the model's runs: runtime.Lanes), blending (the stitcher's sums), writing (class codes,
#: rasters, statistics, commit) and waiting for the reader thread. The inference lanes' softmax runs
#: after each batch's run in the lane's thread (in the calling thread for one lane on the CPU), counted
#: in inference where the calling thread waits for it. The reader thread's stages run meanwhile: aerial
#: reading (with resampling and normalisation), Sentinel-2 regions (a region's series read and
#: resampled) and Sentinel-2 windows (the per-tile window cut, cloud-filtered and averaged per month).
MAIN_STAGES = ("start-up", "inference", "blending", "writing", "waiting")
LANE_STAGES = ("softmax",)
READER_STAGES = ("aerial reading", "Sentinel-2 regions", "Sentinel-2 windows")

Progress = Callable[[float, str], None]
IsCancelled = Callable[[], bool]


@dataclass
class PredictionRequest:
    """Everything one run needs; the dialog, the Processing algorithm and the CLI fill it.

    aerial: one raster (path or RasterSource) whose bands are in the bundle's order, or one
    (path | RasterSource, 1-based band) or AerialBand per bundle band. area: None for the whole aerial
    extent. overlap: px between neighbouring tiles, None for a tile size / 8. batch_size: tiles per
    inference, None for 1 on the CPU (no faster in larger batches there) and 4 on a GPU. threads: CPU
    threads for ONNX Runtime in all, None for one per physical core; on the CPU two batches run side by
    side, each on half of them, in runs of 8 batches or more (runtime.lane_plan)."""

    aerial: AerialArgument
    #: The bundle's path, or the Bundle the caller has already loaded (then it is not opened again).
    bundle: str | Path | Bundle
    output: str | Path
    #: The Sentinel-2 folder, or the catalog of it the caller has already scanned (then it is not again).
    sentinel2: str | Path | Sentinel2Catalog | None = None
    area: AreaOfInterest | None = None
    device: str = "auto"
    overlap: int | None = None
    batch_size: int | None = None
    threads: int | None = None
    #: The optional outputs to write besides the map, by kind (output_kinds), e.g. {"confidence"}.
    outputs: Collection[str] = ()
    cog: bool = False
    overwrite: bool = False
    language: str = "en"
    #: Processing: paths the user chose for some outputs, by kind ("confidence", "statistics_csv"...):
    #: those are written. When given, Processing's rule replaces files (OutputOptions.replace_named_only).
    destinations: dict[str, str | Path] | None = None


@dataclass
class PredictionResult:
    """What a run wrote and how it went. `files`: the outputs written, by kind (output_kinds);
    `result.confidence` is the file of that kind, None when it was not written."""

    files: dict[str, Path]
    statistics: list[ClassStatistics]
    provider: str
    tiles: int
    seconds: float
    grid: OutputGrid
    warnings: list[str] = field(default_factory=list)
    empty_tiles: int = 0  # tiles skipped because the aerial image has no data there
    #: Seconds the inference thread waited for the reader thread: near 0 when reading keeps up.
    waited_for_data: float = 0.0
    #: Seconds spent in each of MAIN_STAGES, LANE_STAGES and READER_STAGES (a few clock reads per batch).
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def class_raster(self) -> Path:
        return self.files["classes"]

    def __getattr__(self, name: str) -> Path | None:
        if name.startswith("_") or name == "files" or name not in {k.name for k in output_kinds()}:
            raise AttributeError(name)
        return self.files.get(name)


def predict(
    request: PredictionRequest,
    progress: Progress | None = None,
    is_cancelled: IsCancelled | None = None,
    *,
    chunk_width: int = CHUNK_WIDTH,
    region_height: int = REGION_HEIGHT,
) -> PredictionResult:
    """Run `request`; see PredictionRequest. Raises FlairError subclasses (InputError, BundleError,
    OutputError, Cancelled) with nothing left at the output paths.

    chunk_width and region_height (output px) size the column chunks of the tiling and the Sentinel-2
    regions: memory grows with them, not with the area."""
    started = time.monotonic()
    require_one_gdal()
    progress = progress or (lambda fraction, message: None)
    cancelled = is_cancelled or (lambda: False)
    # The run's own session (TileRun._start_runtime) checks the graph: no session just to read the bundle.
    bundle = request.bundle if isinstance(request.bundle, Bundle) else read_bundle(request.bundle)
    spec = bundle.spec
    check_output(request)
    check_options(request, spec)
    warnings: list[str] = []
    options = _output_options(request)
    with (
        capped_gdal_cache(options),  # before the first read: memory flat in area
        OutputReservation(_output_paths(request), options) as reservation,
        open_aerial(spec.aerial, request.aerial) as aerial,
    ):
        warnings += reservation.notes
        grid = aerial.grid_for(request.area)
        warnings += aerial.warnings
        warnings += value_warnings(aerial, grid, request.area)
        sentinel2 = _sentinel2_catalog(request, spec, warnings, progress)
        if spec.aerial_metadata is not None:
            warnings.append(
                f"The model takes an aerial metadata vector ('{spec.aerial_metadata.name}'), which arbitrary "
                "imagery does not have: it is fed zeros."
            )
        run = TileRun(
            request, bundle, aerial, grid, sentinel2, None, progress, cancelled, chunk_width, region_height
        )
        run.stages["start-up"] = time.monotonic() - started
        statistics, paths = run.execute(reservation, warnings)
        warnings += run.warnings
    return PredictionResult(
        files=paths,
        statistics=statistics,
        provider=run.runner.provider,
        tiles=run.tiles_done,
        seconds=time.monotonic() - started,
        grid=grid,
        warnings=warnings,
        empty_tiles=run.empty_tiles,
        waited_for_data=run.waited,
        stages={**run.stages, "waiting": run.waited},
    )


def check_output(request: PredictionRequest) -> None:
    """OutputError unless every output of `request` can be written (see outputs.check_outputs)."""
    path = Path(request.output)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise OutputError(f"The output {path} must be a GeoTIFF (.tif)", "Name the output map *.tif.")
    paths = _output_paths(request)
    _check_not_an_input(paths, request)
    check_outputs(paths, _output_options(request))


def _output_paths(request: PredictionRequest) -> OutputPaths:
    asked = dict.fromkeys(request.outputs, True)
    return OutputPaths.for_classes(Path(request.output), destinations=request.destinations, **asked)


def _output_options(request: PredictionRequest) -> OutputOptions:
    return OutputOptions(
        cog=request.cog,
        overwrite=request.overwrite,
        replace_named_only=request.destinations is not None,
        language=request.language,
    )


def _check_not_an_input(paths: OutputPaths, request: PredictionRequest) -> None:
    """OutputError when a file the run would write or replace is one of its inputs."""
    aerial = request.aerial
    items = [aerial] if isinstance(aerial, (str, Path)) or not isinstance(aerial, (list, tuple)) else aerial
    inputs = [request.bundle.path if isinstance(request.bundle, Bundle) else Path(request.bundle)]
    for item in items:
        source = item[0] if isinstance(item, tuple) else getattr(item, "source", item)
        source = getattr(source, "path", source)
        if isinstance(source, (str, Path)):
            inputs.append(Path(source))
    for member in paths.members():
        for source in inputs:
            try:
                same = os.path.samefile(member, source)
            except OSError:
                same = os.path.abspath(member) == os.path.abspath(source)
            if same:
                raise OutputError(
                    f"The output {member} is also an input of the run ({source.name}).",
                    "Choose another name for the map: it would replace its own input.",
                )


def check_options(request: PredictionRequest, spec: BundleSpec) -> None:
    """InputError for run options that cannot work with this bundle."""
    size = spec.aerial.tile_size
    if request.overlap is not None and not 0 <= request.overlap < size:
        raise InputError(
            f"The overlap must lie between 0 and {size - 1} px for {size} px tiles, got {request.overlap}"
        )
    if request.batch_size is not None and request.batch_size < 1:
        raise InputError(f"The batch size must be at least 1, got {request.batch_size}")
    if request.threads is not None and request.threads < 0:
        raise InputError(f"The number of threads must be positive, got {request.threads}")
    if spec.needs_sentinel2 and request.sentinel2 is None:
        raise InputError(
            f"The model {spec.model_name} needs a Sentinel-2 folder",
            "Give the folder of Sentinel-2 acquisitions covering the area (one year around the image).",
        )
    folder = request.sentinel2
    if isinstance(folder, (str, Path)) and spec.needs_sentinel2 and not Path(folder).is_dir():
        raise InputError(f"The Sentinel-2 folder {request.sentinel2} does not exist or is not a folder")


def _sentinel2_catalog(
    request: PredictionRequest, spec: BundleSpec, warnings: list[str], progress: Progress
) -> Sentinel2Catalog | None:
    """The Sentinel-2 acquisitions of the request's folder, discovered once before any tile (InputError
    for a folder without any); None for an aerial-only bundle. The series is read region by region.
    Each item the catalog skipped becomes a warning of the run (see Sentinel2Catalog.skipped_warnings)."""
    if spec.sentinel2 is None:
        if request.sentinel2 is not None:
            warnings.append("The model is aerial-only: the Sentinel-2 folder is not used.")
        return None
    assert request.sentinel2 is not None  # check_options refused a U-T&T bundle without a folder
    catalog = request.sentinel2
    if not isinstance(catalog, Sentinel2Catalog):
        catalog = discover(catalog)
    warnings += catalog.skipped_warnings()
    progress(0.0, f"Sentinel-2: {len(catalog.acquisitions)} acquisitions found")
    return catalog


class TileRun:
    """The tile loop of one prediction: a reader thread fills a bounded queue with batches while the
    calling thread runs them and stitches the results into the writer.

    The seam for runs over part of an area (shard_run.ShardRun): after __init__, `tiling` may be replaced
    by a TileGrid of the same tiles at the same places and `sentinel2` by anything with `window(tile)` and
    `warnings`; `emit(window, probabilities, valid)` may be overridden to write part of each finished
    window; `run_tiles(stitcher)` runs every tile of `tiling` into `stitcher`."""

    def __init__(
        self,
        request: PredictionRequest,
        bundle: Bundle,
        aerial: AerialComposition,
        grid: OutputGrid,
        catalog: Sentinel2Catalog | None,
        runner: Runner | None,
        progress: Progress,
        cancelled: IsCancelled,
        chunk_width: int = CHUNK_WIDTH,
        region_height: int = REGION_HEIGHT,
    ) -> None:
        self.request, self.spec, self.aerial, self.grid = request, bundle.spec, aerial, grid
        self.bundle = bundle
        #: The inputs the model takes, each fed by its entry of the table for every batch.
        self.inputs = taken(self.spec)
        self.progress, self.cancelled = progress, cancelled
        #: None: started by the tile loop while the reader thread reads ahead
        self.runner: Runner | None = runner
        size = self.spec.aerial.tile_size
        overlap = size // 8 if request.overlap is None else request.overlap
        self.tiling = TileGrid(grid.width, grid.height, size, overlap, chunk_width)
        self._stop = threading.Event()  # set when the tile loop ends: the reader thread stops
        self._notes: queue.SimpleQueue[str] = queue.SimpleQueue()  # reader thread -> progress messages
        self.sentinel2: RegionalSeries | None = None
        if catalog is not None:
            assert self.spec.sentinel2 is not None
            self.sentinel2 = RegionalSeries(
                catalog,
                grid.crs,
                grid.transform,
                self.tiling,
                on_ground(self.spec.sentinel2, grid.scale),
                region_height=region_height,
                progress=self._notes.put,
                is_cancelled=lambda: self._stop.is_set() or cancelled(),
            )
        provider = runner.provider if runner is not None else choose_providers(request.device).providers[0]
        on_cpu = provider == CPU
        self.batch_size = request.batch_size or (1 if on_cpu else 4)
        #: batches run at once and each session's threads, for a runner started here (runtime.lane_plan)
        self.lanes, self.lane_threads = lane_plan(
            provider, request.threads, -(-len(self.tiling) // self.batch_size)
        )
        self.codes = np.array(self.spec.nomenclature.codes, np.uint8)
        self.tiles_done = 0
        self.waited = 0.0
        #: seconds per stage; each key is only ever added to by one thread, but LANE_STAGES' by the lanes'
        #: threads, under _lane_clock
        self.stages = dict.fromkeys(MAIN_STAGES + LANE_STAGES + READER_STAGES, 0.0)
        self._lane_clock = threading.Lock()  # the lanes' threads add to LANE_STAGES
        self.cloudy_tiles = 0
        self.empty_tiles = 0  # tiles without any valid aerial pixel, not run
        self.area_pixels = 0  # pixels of the grid in the area
        self.mapped_pixels = 0  # pixels of the area with aerial data: those with a class
        self.warnings: list[str] = []

    def execute(
        self, reservation: OutputReservation, found: Sequence[str] = ()
    ) -> tuple[list[ClassStatistics], dict[str, Path]]:
        """Run every tile and commit the map; `found`, the warnings of the checks before the run, go into
        the statistics file followed by the run's own (self.warnings)."""
        paths = _output_paths(self.request)
        options = _output_options(self.request)
        model = self.spec.model_summary()
        with OutputWriter(
            paths, self.grid, self.spec.nomenclature, options, reservation, model=model
        ) as writer:
            self.writer = writer
            stitcher = Stitcher(self.tiling, len(self.codes), self.emit)
            self.run_tiles(stitcher)
            self._blend(stitcher.finish)
            self._refuse_an_empty_map()
            self._note_what_the_run_found()
            since = time.perf_counter()
            written = writer.commit([*found, *self.warnings])
            self._timed("writing", since)
        return writer.statistics, written

    def _refuse_an_empty_map(self) -> None:
        """InputError (nothing written, a previous map kept) when no pixel of the area could be mapped:
        an empty map, exit 0, would pass for a result in scripts and batches and replace a good map."""
        if self.mapped_pixels:
            return
        if not self.area_pixels:
            raise InputError(
                "The area of interest covers no pixel of the map: it is narrower than a pixel "
                f"({self.spec.aerial.gsd:g} m); nothing was written.",
                "Draw a larger area, or map the whole image without an area.",
            )
        raise InputError(
            "No aerial pixel has data in the area: the map would be empty; nothing was written.",
            "Check the image's nodata value (an image whose every pixel equals it, e.g. nodata 0 on a dark "
            "image) and that the area covers the part of the image that has data.",
        )

    def _note_what_the_run_found(self) -> None:
        if self.mapped_pixels < self.area_pixels * PARTLY_EMPTY:
            self.warnings.append(
                f"Only {self.mapped_pixels / self.area_pixels:.0%} of the area has aerial data: the rest of "
                "the map is nodata. Check the image's nodata value and that the area lies on the image."
            )
        if self.sentinel2 is not None:
            self.warnings += self.sentinel2.warnings
        if self.cloudy_tiles:
            self.warnings.append(
                f"{self.cloudy_tiles} of {len(self.tiling)} tiles had only cloudy Sentinel-2 dates; their "
                "least cloudy dates were used."
            )

    def run_tiles(self, stitcher: Stitcher) -> None:
        batches: queue.Queue = queue.Queue(maxsize=2)
        stop = self._stop
        reader = threading.Thread(
            target=self._read_batches, args=(batches, stop), name="flair-reader", daemon=True
        )
        reader.start()
        total = len(self.tiling)
        lanes = None
        try:
            lanes = self._start_runtime()
            running: collections.deque[tuple[Batch, list[int], Job | None]] = collections.deque()
            more = True
            while more or running:
                while more and len(running) < lanes.depth:  # keep every lane busy
                    item = self._next_batch(batches)
                    if item is None:
                        more = False
                    elif isinstance(item, BaseException):
                        raise item
                    else:
                        running.append((item, *self._submit(lanes, item)))
                if not running:
                    break
                item, keep, job = running.popleft()
                probabilities = self._probabilities(item, keep, job)
                for tile, tile_probabilities, valid in zip(
                    item.tiles, probabilities, item.valid, strict=True
                ):
                    self._blend(stitcher.add, tile, tile_probabilities, valid)
                self.tiles_done += len(item.tiles)
                self.cloudy_tiles += item.cloudy
                self.progress(
                    self.tiles_done / total,
                    f"Tile {self.tiles_done} of {total} on {device_label(self.runner.provider)}",
                )
        finally:
            stop.set()
            if lanes is not None:
                lanes.close()
                if lanes.note:
                    self.warnings.append(lanes.note)
            while reader.is_alive():
                with contextlib.suppress(queue.Empty):
                    batches.get(timeout=0.05)
            reader.join()

    def _start_runtime(self) -> Lanes:
        """The ONNX Runtime session, created while the reader thread reads the first batch (a U-T&T's
        first Sentinel-2 region takes about as long as the session's graph optimisation), and the lanes
        that run batches side by side on the CPU (runtime.lane_plan; a given runner runs alone)."""
        if self.runner is not None:
            return Lanes(self.runner, ahead=self.runner.provider != CPU)
        self.progress(0.0, "Starting ONNX Runtime")
        since = time.perf_counter()

        def start() -> Runner:
            return create_runner(
                self.bundle.path,
                self.request.device,
                self.lane_threads,
                fp16=self.spec.precision == "fp16",
                shapes=input_shapes(self.spec, self.batch_size),
            )

        self.runner = start()
        # The bundle may have been read without ONNX Runtime (read_bundle): the graph ONNX Runtime loaded
        # is checked against the metadata here, before the first batch runs.
        check_graph(self.spec, *graph_tensors(self.runner.session))
        self._timed("start-up", since)
        if self.runner.fallback_reason:
            self.warnings.append(f"Running on {self.runner.provider}: {self.runner.fallback_reason}")
        return Lanes(self.runner, start, self.lanes, ahead=self.runner.provider != CPU)

    def _timed(self, stage: str, since: float) -> float:
        """Add the seconds from `since` to now to `stage`; return now."""
        now = time.perf_counter()
        self.stages[stage] += now - since
        return now

    def _blend(self, step: Callable[..., None], *args: object) -> None:
        """Call a stitcher step, its time counted as blending except the windows it writes meanwhile."""
        since, writing = time.perf_counter(), self.stages["writing"]
        step(*args)
        self.stages["blending"] += time.perf_counter() - since - (self.stages["writing"] - writing)

    def _next_batch(self, batches: queue.Queue) -> Batch | BaseException | None:
        """The reader thread's next item; meanwhile its progress messages are reported and a cancel is
        noticed (a Sentinel-2 region load can take a while)."""
        waiting = time.perf_counter()
        try:
            while True:
                while not self._notes.empty():
                    self.progress(self.tiles_done / len(self.tiling), self._notes.get())
                if self.cancelled():
                    raise Cancelled()
                with contextlib.suppress(queue.Empty):
                    return batches.get(timeout=0.1)
        finally:
            self.waited += time.perf_counter() - waiting

    def _submit(self, lanes: Lanes, batch: Batch) -> tuple[list[int], Job | None]:
        """The batch's tiles that have a valid pixel, and their run started on `lanes` (None when there
        is none: an empty tile is not run, its output is masked)."""
        keep = [
            i
            for i, (tile, valid) in enumerate(zip(batch.tiles, batch.valid, strict=True))
            if _has_data(tile, valid)
        ]
        self.empty_tiles += len(batch.tiles) - len(keep)
        if not keep:
            return keep, None
        feeds = batch.feeds if len(keep) == len(batch.tiles) else {k: v[keep] for k, v in batch.feeds.items()}
        then = self._softmax if self.spec.output.kind == "logits" else None
        return keep, lanes.submit(self.spec.output.name, feeds, then)

    def _softmax(self, logits: np.ndarray) -> np.ndarray:
        """A batch's probabilities from its logits, in the lane that ran it."""
        since = time.perf_counter()
        probabilities = softmax(logits, axis=1, in_place=True)
        with self._lane_clock:
            self.stages["softmax"] += time.perf_counter() - since
        return probabilities

    def _probabilities(self, batch: Batch, keep: list[int], job: Job | None) -> np.ndarray:
        """B x C x S x S probabilities of a submitted batch, once its run and softmax are over (the wait
        counts as inference); the tiles not run are zeros."""
        since = time.perf_counter()
        output = job.result() if job is not None else None
        self._timed("inference", since)
        if output is not None and len(keep) == len(batch.tiles):
            return output
        size = self.spec.aerial.tile_size
        probabilities = np.zeros((len(batch.tiles), len(self.codes), size, size), np.float32)
        if output is not None:
            probabilities[keep] = output
        return probabilities

    def _read_batches(self, batches: queue.Queue, stop: threading.Event) -> None:
        try:
            for tiles in _chunks(iter(self.tiling), self.batch_size):
                if stop.is_set():
                    return
                batches.put(self._read_batch(tiles))
            batches.put(None)
        except BaseException as exc:  # handed to the main thread, which raises it
            batches.put(exc)

    def _read_batch(self, tiles: list[Tile]) -> Batch:
        """Each input the model takes (model_inputs.MODEL_INPUTS) fed for `tiles`."""
        batch = Batch(tiles)
        for kind in self.inputs:
            kind.feed(self, batch)
        return batch

    def emit(self, window: Window, probabilities: np.ndarray, valid: np.ndarray) -> None:
        """Write one finished window: class codes (0 = nodata outside the area or the image) and the
        probabilities, from which each output's writer takes what it needs."""
        since = time.perf_counter()
        inside = valid
        if self.request.area is not None:
            in_area = self.request.area.mask(self.grid, window)
            inside = inside & in_area
            self.area_pixels += int(np.count_nonzero(in_area))
        else:
            self.area_pixels += valid.size
        self.mapped_pixels += int(np.count_nonzero(inside))
        classes = self.codes[best_class(probabilities)]
        classes[~inside] = 0
        self.writer.write(window, classes, probabilities=probabilities)
        self._timed("writing", since)


def input_shapes(spec: BundleSpec, batch: int) -> dict[str, tuple[tuple[int, ...], ...]]:
    """Each graph input's (smallest, usual, largest) shape in a run of batches of up to `batch` tiles:
    the optimisation profile a TensorRT engine is built for."""
    return {tensor.name: tensor.profile(batch) for tensor in graph_inputs(spec)}


def softmax(logits: np.ndarray, axis: int = 1, *, in_place: bool = False) -> np.ndarray:
    """Probabilities from logits along `axis` (numerically stable, float32); `in_place` writes them over
    `logits` (a run's own model output: no second array of a batch's size)."""
    top = logits.max(axis=axis, keepdims=True)
    shifted = np.subtract(logits, top, out=logits) if in_place else logits - top
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted


def best_class(probabilities: np.ndarray) -> np.ndarray:
    """The index of the largest of C x H x W `probabilities` at each pixel, H x W uint8: np.argmax along
    axis 0 (the first on ties, the first NaN where there is one) in C passes over whole planes, about 4x
    faster than numpy's reduction across planes, which took most of the writing time."""
    count = len(probabilities)
    if count > 256:
        return np.argmax(probabilities, axis=0)
    best = probabilities[0].copy()
    index = np.zeros(best.shape, np.uint8)
    higher = np.empty(best.shape, bool)
    for c in range(1, count):
        np.greater(probabilities[c], best, out=higher)
        np.putmask(index, higher, c)
        np.maximum(best, probabilities[c], out=best)  # NaN propagates: NaN pixels are left to np.argmax
    if np.isnan(best).any():
        return np.argmax(probabilities, axis=0)
    return index


def _has_data(tile: Tile, valid: np.ndarray) -> bool:
    """Whether the part of the tile inside the grid has a pixel with data."""
    return bool(valid[: tile.window.height, : tile.window.width].any())


def _chunks(tiles: Iterator[Tile], size: int) -> Iterator[list[Tile]]:
    batch: list[Tile] = []
    for tile in tiles:
        batch.append(tile)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
