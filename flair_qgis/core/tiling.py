"""The tile grid over an output grid and the bounded-memory stitcher that blends overlapping tiles.

Design (memory bounded whatever the area):
- Tiles of S x S px start every `stride = S - overlap` px; the last row/column of tiles is moved back
  to end exactly on the area's edge (a "ragged" edge overlaps its neighbour more). An area smaller than
  one tile gets one tile reaching beyond it: the reader reads the image around the area there, and
  nodata where the image ends too; only the part inside the area is kept.
- The columns of tiles are grouped into column chunks of a fixed number of tiles (about 4096 px wide,
  independent of the area, so 1 km2 and 16 km2 use the same buffers). Chunks are processed one after
  the other, each from top to bottom, tile row by tile row.
- A chunk keeps only a strip accumulator of S rows x (its width) holding the weighted probabilities
  and the weight sum. When the next tile row starts, the rows above it are final: they are normalised
  and handed to `emit` in windows, and the strip shifts up.
- The columns a chunk shares with the next one (the overlap of its last tile with the next chunk's
  first tile) are partial sums: they are written, row strip by row strip, to an unlinked temporary
  file and read back in the same order by the next chunk, which adds them before emitting. So no tile
  is computed twice, and the only thing that grows with the area is that file (C x overlap x height).
- The Sentinel-2 series of a U-T&T run follows the same order: the reader loads it for one region at a
  time, a chunk x a band of tile rows (sentinel2/regions.py), so it does not grow with the area either.
- Blending weights are separable ramps over the overlap band, strictly positive inside the tile, so
  every pixel of the area (edges included) has a positive weight sum and overlaps fade without seams.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

#: Target width in pixels of a column chunk (rounded to whole strides).
CHUNK_WIDTH = 4096
#: Widest window handed to `emit` (the class raster is written in blocks of this width at most).
EMIT_WIDTH = 2048


@dataclass(frozen=True)
class Tile:
    """One model input: the S x S square whose top-left pixel is (x, y) on the output grid.

    `window` is the part of the square inside the grid (smaller than S x S only when the grid itself is
    smaller than a tile); `row`, `col` index the tile in the grid, `chunk` its column chunk."""

    row: int
    col: int
    chunk: int
    x: int
    y: int
    window: Window


def tile_origins(length: int, tile_size: int, stride: int) -> list[int]:
    """Start offsets of the tiles along an axis of `length` px: every `stride`, the last one moved back
    to end on the edge; [0] when the axis is shorter than a tile."""
    if length <= tile_size:
        return [0]
    origins = list(range(0, length - tile_size, stride))
    origins.append(length - tile_size)
    return origins


def blend_ramp(tile_size: int, overlap: int) -> np.ndarray:
    """Weights along one axis of a tile: 1 in the middle, a linear ramp over the `overlap` px at each
    end, never 0 (the first and last pixels get 1 / (overlap + 1))."""
    ramp = np.ones(tile_size, np.float32)
    if overlap <= 0:
        return ramp
    steps = np.arange(1, tile_size + 1, dtype=np.float32)
    ramp = np.minimum(ramp, steps / (overlap + 1))
    return np.minimum(ramp, steps[::-1] / (overlap + 1))


def blend_weights(tile_size: int, overlap: int) -> np.ndarray:
    """S x S blending weights of a tile, the outer product of two ramps."""
    ramp = blend_ramp(tile_size, overlap)
    return np.outer(ramp, ramp)


class TileGrid:
    """The tiles covering a `width` x `height` px output grid, in processing order (chunk, row, column)."""

    def __init__(
        self, width: int, height: int, tile_size: int, overlap: int = 0, chunk_width: int = CHUNK_WIDTH
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"empty grid {width} x {height}")
        if not 0 <= overlap < tile_size:
            raise ValueError(f"the overlap must lie in 0..{tile_size - 1} px, got {overlap}")
        self.width, self.height = width, height
        self.tile_size, self.overlap = tile_size, overlap
        self.stride = tile_size - overlap
        self.xs = tile_origins(width, tile_size, self.stride)
        self.ys = tile_origins(height, tile_size, self.stride)
        # A chunk must be wider than a tile so that only its neighbour shares columns with it.
        per_chunk = max(-(-tile_size // self.stride) + 1, round(chunk_width / self.stride))
        self.chunks = [
            list(range(i, min(i + per_chunk, len(self.xs)))) for i in range(0, len(self.xs), per_chunk)
        ]

    def __len__(self) -> int:
        return len(self.xs) * len(self.ys)

    def __iter__(self) -> Iterator[Tile]:
        for chunk, cols in enumerate(self.chunks):
            for row in range(len(self.ys)):
                for col in cols:
                    yield self.tile(row, col, chunk)

    def tile(self, row: int, col: int, chunk: int) -> Tile:
        x, y = self.xs[col], self.ys[row]
        s = self.tile_size
        return Tile(row, col, chunk, x, y, Window(x, y, min(s, self.width - x), min(s, self.height - y)))

    def chunk_span(self, chunk: int) -> tuple[int, int, int]:
        """(first column the chunk emits, first column it does not emit, end of its accumulator)."""
        cols = self.chunks[chunk]
        start = self.xs[cols[0]]
        last = chunk == len(self.chunks) - 1
        stop = self.width if last else self.xs[self.chunks[chunk + 1][0]]
        end = min(self.xs[cols[-1]] + self.tile_size, self.width)
        return start, stop, end

    def row_span(self, row: int) -> tuple[int, int]:
        """The rows that are final once tile row `row` has been added: up to the next row's start."""
        start = self.ys[row]
        stop = self.height if row == len(self.ys) - 1 else self.ys[row + 1]
        return start, stop


Emit = Callable[[Window, np.ndarray, np.ndarray], None]


class Stitcher:
    """Blends tile predictions (C x S x S probabilities) added in TileGrid order and emits finished
    windows as `emit(window, probabilities C x h x w float32, valid h x w bool)`.

    Memory: C x S x chunk width floats for the strip, plus one row strip of the carried overlap."""

    def __init__(self, grid: TileGrid, n_classes: int, emit: Emit, emit_width: int = EMIT_WIDTH) -> None:
        self.grid = grid
        self.n_classes = n_classes
        self.emit = emit
        self.emit_width = emit_width
        self.weights = blend_weights(grid.tile_size, grid.overlap)
        widest = max(self.grid.chunk_span(c)[2] - self.grid.chunk_span(c)[0] for c in range(len(grid.chunks)))
        s = grid.tile_size
        self._sum = np.zeros((n_classes, s, widest), np.float32)
        self._weight = np.zeros((s, widest), np.float32)
        self._valid = np.zeros((s, widest), bool)
        self._chunk = -1
        self._row = -1
        self._carried = 0  # rows at the top of the buffers that hold the tile row above's sums
        self._filled = 0
        self._carry_in: _Fifo | None = None
        self._carry_out: _Fifo | None = None

    def add(self, tile: Tile, probabilities: np.ndarray, valid: np.ndarray) -> None:
        """Add one tile's C x S x S probabilities and its S x S (or window-sized) validity mask. The
        probabilities are weighted in place (no array of a tile's size made per tile): they are the
        stitcher's afterwards."""
        if (tile.chunk, tile.row) != (self._chunk, self._row):
            if self._row >= 0:
                self._finish_row()
            if tile.chunk != self._chunk:
                self._start_chunk(tile.chunk)
            elif tile.row != self._row + 1:
                raise ValueError("tiles must be added in TileGrid order")
            self._row = tile.row
            self._filled = 0  # buffer columns a tile of this row has reached
        start = self._span[0]
        h, w = tile.window.height, tile.window.width
        x0 = tile.x - start
        weights = self.weights[:h, :w]
        weighted = np.multiply(probabilities[:, :h, :w], weights, out=probabilities[:, :h, :w])
        # The buffers are not cleared between rows: a pixel no tile has reached yet is assigned, the
        # others added to (the same sums, without writing zeros over the whole strip for every row).
        # Reached already: the rows carried from the tile row above, and the columns of the tile to
        # the left in this row.
        top = min(self._carried, h)
        left = min(max(self._filled - x0, 0), w)
        for rows, cols, add in (
            (slice(0, top), slice(0, w), True),
            (slice(top, h), slice(0, left), True),
            (slice(top, h), slice(left, w), False),
        ):
            if rows.start >= rows.stop or cols.start >= cols.stop:
                continue
            at = (rows, slice(x0 + cols.start, x0 + cols.stop))
            if add:
                self._sum[(slice(None), *at)] += weighted[:, rows, cols]
                self._weight[at] += weights[rows, cols]
            else:
                self._sum[(slice(None), *at)] = weighted[:, rows, cols]
                self._weight[at] = weights[rows, cols]
        self._filled = max(self._filled, x0 + w)
        self._valid[:h, x0 : x0 + w] = valid[:h, :w]

    def finish(self) -> None:
        """Emit what is left once the last tile has been added."""
        if self._row >= 0:
            self._finish_row()
            self._row = -1
        for fifo in (self._carry_in, self._carry_out):
            if fifo is not None:
                fifo.close()
        self._carry_in = self._carry_out = None

    def _start_chunk(self, chunk: int) -> None:
        if chunk != self._chunk + 1:
            raise ValueError("tiles must be added in TileGrid order")
        if self._carry_in is not None:
            self._carry_in.close()
        self._carry_in, self._carry_out = self._carry_out, None
        if self._carry_in is not None:
            self._carry_in.rewind()
        self._chunk, self._row = chunk, -1
        self._span = self.grid.chunk_span(chunk)
        if chunk < len(self.grid.chunks) - 1:
            self._carry_out = _Fifo()
        self._carried = 0  # the chunk's first row assigns every pixel: nothing to clear
        self._valid[:] = False

    def _finish_row(self) -> None:
        start, stop, end = self._span
        row_start, row_stop = self.grid.row_span(self._row)
        rows = row_stop - row_start
        width = end - start
        total, weight = self._sum[:, :rows, :width], self._weight[:rows, :width]
        if self._carry_in is not None:
            carried = self._carry_in.read((self.n_classes + 1, rows, -1))
            cw = carried.shape[2]
            total[:, :, :cw] += carried[:-1]
            weight[:, :cw] += carried[-1]
        if self._carry_out is not None:
            shared = slice(stop - start, width)
            self._carry_out.write(np.concatenate([total[:, :, shared], weight[None, :, shared]]))
        emitted = stop - start
        for left in range(0, emitted, self.emit_width):
            right = min(left + self.emit_width, emitted)
            part = total[:, :, left:right]
            part /= weight[:, left:right]
            window = Window(start + left, row_start, right - left, rows)
            self.emit(window, part, self._valid[:rows, left:right])
        shift = rows if self._row < len(self.grid.ys) - 1 else self.grid.tile_size
        self._shift(shift)

    def _shift(self, rows: int) -> None:
        """Move the rows the next tile row adds to (the overlap) to the top; the rest is assigned by it."""
        keep = max(self.grid.tile_size - rows, 0)
        for buffer in (self._sum[:, :, :], self._weight[None], self._valid[None]):
            if keep > 0:
                buffer[:, :keep] = buffer[:, rows : rows + keep]
        self._valid[keep:] = False
        self._carried = keep


class _Fifo:
    """Arrays written one after the other to an unlinked temporary file and read back in order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="flair_carry_")  # noqa: SIM115 (closed by close())
        self._shapes: list[tuple[int, ...]] = []
        self._next = 0

    def write(self, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array, np.float32)
        self._file.write(data.tobytes())
        self._shapes.append(data.shape)

    def rewind(self) -> None:
        self._file.seek(0)
        self._next = 0

    def read(self, expected: tuple[int, ...]) -> np.ndarray:
        shape = self._shapes[self._next]
        self._next += 1
        if shape[:2] != expected[:2]:
            raise ValueError(f"carried strip {shape} does not match {expected}")
        count = int(np.prod(shape))
        data = np.frombuffer(self._file.read(count * 4), np.float32, count)
        return data.reshape(shape)

    def close(self) -> None:
        self._file.close()
