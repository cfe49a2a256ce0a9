"""The tile grid and the bounded-memory stitcher, checked against a plain whole-array blend."""

from __future__ import annotations

import numpy as np
import pytest

from flair_qgis.core.tiling import Stitcher, TileGrid, blend_ramp, blend_weights, tile_origins


def test_tile_origins_clamp_the_last_tile_on_the_edge() -> None:
    assert tile_origins(100, 32, 24) == [0, 24, 48, 68]
    assert tile_origins(32, 32, 24) == [0]
    assert tile_origins(20, 32, 24) == [0]
    assert tile_origins(80, 32, 24) == [0, 24, 48]


def test_blend_ramp_is_positive_and_flat_in_the_middle() -> None:
    ramp = blend_ramp(16, 4)
    np.testing.assert_allclose(ramp, [0.2, 0.4, 0.6, 0.8] + [1.0] * 8 + [0.8, 0.6, 0.4, 0.2], rtol=1e-6)
    assert (blend_weights(16, 15) > 0).all()
    assert (blend_ramp(16, 0) == 1).all()


def test_grid_order_and_chunks() -> None:
    grid = TileGrid(100, 50, 32, overlap=8, chunk_width=48)
    assert grid.xs == [0, 24, 48, 68] and grid.ys == [0, 18]
    # 48 px would be 2 tiles, but a chunk must be wider than a tile: 3 tiles (ceil(32 / 24) + 1).
    assert grid.chunks == [[0, 1, 2], [3]]
    order = [(t.chunk, t.row, t.col) for t in grid]
    assert order == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 1, 2), (1, 0, 3), (1, 1, 3)]
    assert len(grid) == 8
    # chunk 0 emits columns 0..67 and carries 68..79 (shared with the clamped last tile) to chunk 1
    assert grid.chunk_span(0) == (0, 68, 80) and grid.chunk_span(1) == (68, 100, 100)
    small = TileGrid(10, 7, 32, overlap=4)
    (tile,) = list(small)
    assert (tile.window.width, tile.window.height) == (10, 7)


def naive_blend(grid: TileGrid, predictions: dict, n_classes: int) -> np.ndarray:
    """The whole-array weighted average the stitcher must reproduce."""
    total = np.zeros((n_classes, grid.height, grid.width), np.float64)
    weight = np.zeros((grid.height, grid.width), np.float64)
    w2d = blend_weights(grid.tile_size, grid.overlap)
    for tile in grid:
        h, w = tile.window.height, tile.window.width
        total[:, tile.y : tile.y + h, tile.x : tile.x + w] += (
            predictions[tile.row, tile.col][:, :h, :w] * w2d[:h, :w]
        )
        weight[tile.y : tile.y + h, tile.x : tile.x + w] += w2d[:h, :w]
    return total / weight


def stitch(grid: TileGrid, predictions: dict, n_classes: int, emit_width: int = 2048, valid_field=None):
    if valid_field is None:
        valid_field = np.ones((grid.height, grid.width), bool)
    out = np.full((n_classes, grid.height, grid.width), np.nan, np.float32)
    valid_out = np.zeros((grid.height, grid.width), bool)
    calls = []

    def emit(window, probabilities, valid):
        rows, cols = window.toslices()
        assert np.isnan(out[:, rows, cols]).all(), "a pixel was emitted twice"
        out[:, rows, cols] = probabilities
        valid_out[rows, cols] = valid
        calls.append(window)

    stitcher = Stitcher(grid, n_classes, emit, emit_width=emit_width)
    for tile in grid:
        valid = valid_field[tile.window.toslices()]
        stitcher.add(tile, predictions[tile.row, tile.col].copy(), valid)  # add() weights it in place
    stitcher.finish()
    return out, valid_out, calls


@pytest.mark.parametrize(
    ("width", "height", "size", "overlap", "chunk"),
    [
        (100, 50, 32, 8, 48),
        (137, 91, 32, 12, 40),
        (20, 13, 32, 4, 4096),
        (64, 64, 32, 0, 32),
        (300, 40, 16, 15, 20),
    ],
)
def test_stitcher_equals_the_whole_array_blend(
    width: int, height: int, size: int, overlap: int, chunk: int
) -> None:
    """Several chunks (partial sums carried through the temporary file), ragged edges and an area
    smaller than a tile all give the plain blend, and every pixel is emitted exactly once."""
    rng = np.random.default_rng(width)
    grid = TileGrid(width, height, size, overlap, chunk_width=chunk)
    n_classes = 3
    predictions = {(t.row, t.col): rng.random((n_classes, size, size)).astype(np.float32) for t in grid}
    valid_field = rng.random((height, width)) > 0.3
    out, valid, calls = stitch(grid, predictions, n_classes, emit_width=24, valid_field=valid_field)
    np.testing.assert_allclose(out, naive_blend(grid, predictions, n_classes), rtol=1e-5, atol=1e-6)
    assert all(c.width <= 24 for c in calls)
    np.testing.assert_array_equal(valid, valid_field)


def test_identical_predictions_blend_to_themselves_without_seams() -> None:
    """A pointwise model sees the same value for a pixel from every tile: blending must return it
    exactly, whatever the overlap (no seam where tiles meet)."""
    grid = TileGrid(150, 110, 32, overlap=10, chunk_width=50)
    field_values = np.random.default_rng(3).random((2, 110, 150)).astype(np.float32)
    predictions = {}
    for tile in grid:
        part = np.zeros((2, 32, 32), np.float32)
        h, w = tile.window.height, tile.window.width
        part[:, :h, :w] = field_values[:, tile.y : tile.y + h, tile.x : tile.x + w]
        predictions[tile.row, tile.col] = part
    out, _, _ = stitch(grid, predictions, 2)
    np.testing.assert_allclose(out, field_values, rtol=1e-5)


def test_memory_does_not_grow_with_the_area() -> None:
    small = Stitcher(TileGrid(5000, 5000, 512, 64), 13, lambda *a: None)
    large = Stitcher(TileGrid(20000, 20000, 512, 64), 13, lambda *a: None)
    assert small._sum.nbytes == large._sum.nbytes
    assert small._sum.shape[2] < 5000


@pytest.mark.parametrize(
    ("width", "height", "size", "overlap"), [(100, 90, 32, 8), (137, 91, 32, 12), (20, 13, 32, 4)]
)
def test_within_a_chunk_the_blend_is_the_float32_sum_from_zero_bit_for_bit(
    width: int, height: int, size: int, overlap: int
) -> None:
    """The stitcher assigns a pixel that no tile has reached yet instead of clearing its buffers for
    every row and adding: in float32, in the tiles' order, that is exactly the sum from zero."""
    rng = np.random.default_rng(height)
    grid = TileGrid(width, height, size, overlap, chunk_width=4096)
    predictions = {(t.row, t.col): rng.random((3, size, size)).astype(np.float32) for t in grid}
    total = np.zeros((3, height, width), np.float32)
    weight = np.zeros((height, width), np.float32)
    w2d = blend_weights(size, overlap)
    for tile in grid:
        h, w = tile.window.height, tile.window.width
        total[:, tile.y : tile.y + h, tile.x : tile.x + w] += (
            predictions[tile.row, tile.col][:, :h, :w] * w2d[:h, :w]
        )
        weight[tile.y : tile.y + h, tile.x : tile.x + w] += w2d[:h, :w]
    out, _, _ = stitch(grid, predictions, 3)
    np.testing.assert_array_equal(out, total / weight)
