"""XYZ tiles on disk, served to QGIS's real XYZ provider through file:// URLs: a web-service layer
(no pixel grid of its own, ARGB rendering) whose content is known."""

from __future__ import annotations

import math
from pathlib import Path

from qgis.core import QgsRasterLayer
from qgis.PyQt.QtGui import QColor, QImage

ZOOM = 18
HALF_WORLD = 6378137.0 * math.pi  # Web Mercator's half extent in metres


def tile_of(x: float, y: float, zoom: int = ZOOM) -> tuple[int, int]:
    """The XYZ tile (column, row) holding the Web Mercator point (x, y)."""
    size = 2 * HALF_WORLD / 2**zoom
    return int((x + HALF_WORLD) // size), int((HALF_WORLD - y) // size)


def tile_bounds(col: int, row: int, zoom: int = ZOOM) -> tuple[float, float, float, float]:
    size = 2 * HALF_WORLD / 2**zoom
    xmin, ymax = -HALF_WORLD + col * size, HALF_WORLD - row * size
    return xmin, ymax - size, xmin + size, ymax


def write_tiles(folder: Path, centre: tuple[int, int], rgb: tuple[int, int, int], radius: int = 1) -> Path:
    """Uniform 256 px PNG tiles of colour `rgb` around tile `centre` (col, row) at ZOOM; others absent."""
    image = QImage(256, 256, QImage.Format_ARGB32)
    image.fill(QColor(*rgb))
    for col in range(centre[0] - radius, centre[0] + radius + 1):
        for row in range(centre[1] - radius, centre[1] + radius + 1):
            path = folder / str(ZOOM) / str(col) / f"{row}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            assert image.save(str(path))
    return folder


def xyz_layer(folder: Path, name: str = "tiles") -> QgsRasterLayer:
    """The tiles in `folder` as a QGIS XYZ layer (provider "wms", type=xyz)."""
    url = f"file://{folder}/%7Bz%7D/%7Bx%7D/%7By%7D.png"
    layer = QgsRasterLayer(f"type=xyz&url={url}&zmin={ZOOM}&zmax={ZOOM}", name, "wms")
    assert layer.isValid()
    return layer
