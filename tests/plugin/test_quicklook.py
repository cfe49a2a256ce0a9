"""The quick-look PNG rendered by QGIS shows the aerial image, the styled classes where they are, and a
legend with every class."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.PyQt.QtGui import QColor, QImage

from flair_qgis.adapters.quicklook import LEGEND_WIDTH, MARGIN, PANEL, TITLE_HEIGHT, write_quicklook
from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.core.output_kinds import write_qml

from .rasters import quadrant_classes, write_geotiff

# Colours copied by hand from shared/FLAIR2.md, not from the code under test.
EXPECTED = {1: "#db0e9a", 5: "#1553ae", 7: "#46e483", 11: "#fff30d"}


def _rgb(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    colour = QColor(image.pixel(x, y))
    return colour.red(), colour.green(), colour.blue()


def test_quicklook_shows_aerial_classes_and_legend(tmp_path, qgis_app) -> None:
    size = 200
    aerial = np.zeros((5, size, size), dtype=np.uint8)
    aerial[0], aerial[1], aerial[2] = 200, 40, 10  # a reddish-orange image
    aerial_path = write_geotiff(tmp_path / "aerial.tif", aerial)
    classes_path = write_geotiff(tmp_path / "map.tif", quadrant_classes(size, (1, 5, 7, 11)), nodata=0)
    write_qml(tmp_path / "map.qml", FLAIR_13, "en")

    png = write_quicklook(aerial_path, classes_path, tmp_path / "quicklook.png", title="Test")
    image = QImage(str(png))
    assert image.width() == 3 * MARGIN + 2 * PANEL + LEGEND_WIDTH

    # Left panel: the aerial image's first three bands as RGB.
    left = MARGIN + PANEL // 2, TITLE_HEIGHT + PANEL // 2
    assert _rgb(image, *left) == pytest.approx((200, 40, 10), abs=3)
    # Right panel: each quadrant in its class colour.
    x0, y0 = 2 * MARGIN + PANEL, TITLE_HEIGHT
    quarter = PANEL // 4
    spots = {
        1: (quarter, quarter),
        5: (3 * quarter, quarter),
        7: (quarter, 3 * quarter),
        11: (3 * quarter, 3 * quarter),
    }
    for code, (dx, dy) in spots.items():
        expected = QColor(EXPECTED[code])
        assert _rgb(image, x0 + dx, y0 + dy) == (expected.red(), expected.green(), expected.blue()), code
    # Legend: one swatch per class of the nomenclature, in order, with the class colour.
    legend_x = 3 * MARGIN + 2 * PANEL + 9
    for row, cls in enumerate(FLAIR_13.classes):
        assert _rgb(image, legend_x, TITLE_HEIGHT + 28 + 24 * row + 9) == cls.rgb, cls.name


def test_quicklook_refuses_an_unreadable_raster(tmp_path, qgis_app) -> None:
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a raster")
    with pytest.raises(ValueError, match="QGIS cannot open"):
        write_quicklook(broken, broken, tmp_path / "quicklook.png")
    assert not (tmp_path / "quicklook.png").exists()
