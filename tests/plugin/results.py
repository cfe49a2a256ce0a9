"""FLAIR results whose answer is known, written by the engine's own OutputWriter (class raster with its
names, colours and .aux.xml; confidence; probabilities) for the review algorithms' tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.windows import Window

from flair_qgis.core.geometry import OutputGrid
from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.core.outputs import OutputPaths, OutputWriter

from .rasters import CRS, GSD, ORIGIN


def write_result(
    path: Path,
    classes: np.ndarray,
    confidence: np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    gsd: float = GSD,
) -> OutputPaths:
    """Write a FLAIR result at `path` (map.tif): classes uint8 rows x cols (0 = nodata), confidence float
    0..1 rows x cols, probabilities float 13 x rows x cols; returns the paths written."""
    rows, cols = classes.shape
    grid = OutputGrid(CRS, Affine(gsd, 0.0, ORIGIN[0], 0.0, -gsd, ORIGIN[1]), cols, rows)
    paths = OutputPaths.for_classes(
        path, confidence=confidence is not None, probabilities=probabilities is not None
    )
    with OutputWriter(paths, grid, FLAIR_13) as writer:
        writer.write(Window(0, 0, cols, rows), classes.astype(np.uint8), confidence, probabilities)
        writer.commit()
    return paths
