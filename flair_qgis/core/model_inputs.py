"""The table of a model's inputs: one ModelInput per kind of input a bundle's graph may take (the aerial
tiles, the Sentinel-2 series and its dates, the aerial metadata vector), with the tensors it is fed
through and the function that fills them for a batch of tiles. The graph check (bundle.check_graph), the
TensorRT optimisation profile (predict.input_shapes) and the tile loop (predict.TileRun) all read this
table, so that a new input is its description in bundle_spec.py, one entry here and its feed function
(reading through an engine module of its own when it comes from files).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from rasterio.windows import Window

from .sentinel2 import prepare_window
from .sentinel2.preprocess import pad_series

if TYPE_CHECKING:
    from .bundle_spec import BundleSpec
    from .tiling import Tile

#: The most Sentinel-2 frames a TensorRT profile plans for when the bundle gives no limit (a monthly
#: average gives at most 12).
MAX_FRAMES = 64

#: One dimension of a tensor: the size the bundle's description fixes (None: free), and the field that
#: fixes it (or the dimension's name, "batch" or "dates", when it is free).
Dim = tuple[int | None, str]


@dataclass(frozen=True)
class Tensor:
    """One graph input: the spec's field that describes it, its name, its dimensions (the batch first)
    and, for a free "dates" dimension, the most frames a run plans for."""

    field: str
    name: str
    dims: tuple[Dim, ...]
    frames: int = MAX_FRAMES

    def profile(self, batch: int) -> tuple[tuple[int, ...], ...]:
        """(smallest, usual, largest) shape in a run of batches of up to `batch` tiles."""
        free = {"batch": (1, batch, batch), "dates": (1, self.frames, self.frames)}
        sizes = [free[name] if size is None else (size, size, size) for size, name in self.dims]
        return tuple(tuple(s[i] for s in sizes) for i in range(3))


@dataclass
class Batch:
    """What the feed functions give the model for a batch of tiles: `feeds` by tensor name, the aerial
    image's valid pixels per tile, and how many tiles' Sentinel-2 windows had only cloudy dates."""

    tiles: list[Tile]
    feeds: dict[str, np.ndarray] = field(default_factory=dict)
    valid: list[np.ndarray] = field(default_factory=list)
    cloudy: int = 0


@dataclass(frozen=True)
class ModelInput:
    """One kind of input. `tensors(spec)`: the graph inputs it is fed through ([] when the bundle does
    not take it). `feed(run, batch)`: fills them for `batch.tiles`, on the reader thread; `run` is the
    predict.TileRun (its aerial composition, grid, Sentinel-2 series and stage timer)."""

    key: str
    tensors: Callable[[BundleSpec], list[Tensor]]
    feed: Callable[[Any, Batch], None]


def _aerial_tensors(spec: BundleSpec) -> list[Tensor]:
    a, tile = spec.aerial, "inputs.aerial.tile_size"
    bands = (len(a.bands), "inputs.aerial.bands")
    return [
        Tensor("inputs.aerial", a.name, ((None, "batch"), bands, (a.tile_size, tile), (a.tile_size, tile)))
    ]


def _feed_aerial(run: Any, batch: Batch) -> None:
    """The aerial tiles, composed on the map's grid and normalised, and their valid pixels."""
    size = run.spec.aerial.tile_size
    aerial = np.empty((len(batch.tiles), len(run.spec.aerial.bands), size, size), np.float32)
    since = time.perf_counter()
    for i, tile in enumerate(batch.tiles):
        raw, mask = run.aerial.read(run.grid, Window(tile.x, tile.y, size, size))
        aerial[i] = run.aerial.normalise(raw)
        batch.valid.append(mask)
    run._timed("aerial reading", since)
    batch.feeds[run.spec.aerial.name] = aerial


def _sentinel2_tensors(spec: BundleSpec) -> list[Tensor]:
    s2 = spec.sentinel2
    if s2 is None:
        return []
    w, window = s2.window_size, "inputs.sentinel2.window_size"
    frames = s2.max_dates or (12 if s2.monthly_average else MAX_FRAMES)
    bands = (len(s2.bands), "inputs.sentinel2.bands")
    series = ((None, "batch"), (None, "dates"), bands, (w, window), (w, window))
    return [
        Tensor("inputs.sentinel2", s2.name, series, frames),
        Tensor("inputs.sentinel2.dates_name", s2.dates_name, ((None, "batch"), (None, "dates")), frames),
    ]


def _feed_sentinel2(run: Any, batch: Batch) -> None:
    """The Sentinel-2 windows centred on each tile, T padded to the batch's longest series."""
    spec = run.spec.sentinel2
    prepared = []
    for tile in batch.tiles:
        since, loaded = time.perf_counter(), run.sentinel2.loaded
        data, masks, dates = run.sentinel2.window(tile)
        region = run.sentinel2.loaded != loaded  # this window's region was read for it
        since = run._timed("Sentinel-2 regions" if region else "Sentinel-2 windows", since)
        prepared.append(prepare_window(data, masks, dates, spec))
        run._timed("Sentinel-2 windows", since)
    values, positions = pad_series(
        [p.values for p in prepared], [p.positions for p in prepared], spec.pad_value
    )
    batch.feeds[spec.name] = values
    batch.feeds[spec.dates_name] = positions
    batch.cloudy += sum(1 for p in prepared if p.cloudy_fallback)


def _metadata_tensors(spec: BundleSpec) -> list[Tensor]:
    meta = spec.aerial_metadata
    if meta is None:
        return []
    return [
        Tensor(
            "inputs.aerial_metadata", meta.name, ((None, "batch"), (meta.size, "inputs.aerial_metadata.size"))
        )
    ]


def _feed_metadata(run: Any, batch: Batch) -> None:
    """Zeros: arbitrary imagery has no acquisition metadata (predict warns once)."""
    meta = run.spec.aerial_metadata
    batch.feeds[meta.name] = np.zeros((len(batch.tiles), meta.size), np.float32)


MODEL_INPUTS: tuple[ModelInput, ...] = (
    ModelInput("aerial", _aerial_tensors, _feed_aerial),
    ModelInput("sentinel2", _sentinel2_tensors, _feed_sentinel2),
    ModelInput("aerial_metadata", _metadata_tensors, _feed_metadata),
)


def taken(spec: BundleSpec) -> list[ModelInput]:
    """The inputs of the table that `spec`'s model takes, in the table's order."""
    return [kind for kind in MODEL_INPUTS if kind.tensors(spec)]


def graph_inputs(spec: BundleSpec) -> list[Tensor]:
    """Every tensor `spec`'s graph must take, in the table's order."""
    return [tensor for kind in MODEL_INPUTS for tensor in kind.tensors(spec)]
