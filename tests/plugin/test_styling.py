"""Styles of the results: the FLAIR palette and class names on a real class GeoTIFF, seen on a rendered
map, and the confidence ramp."""

from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsSettings,
    QgsSingleBandPseudoColorRenderer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

from flair_qgis.adapters import styling
from flair_qgis.core.nomenclature import FLAIR_13

from .rasters import quadrant_classes, write_geotiff

# FLAIR #2 palette, copied by hand from shared/FLAIR2.md (not from the code under test).
FLAIR2_COLOURS = {
    1: "#db0e9a", 2: "#938e7b", 3: "#f80c00", 4: "#a97101", 5: "#1553ae", 6: "#194a26", 7: "#46e483",
    8: "#f3a60d", 9: "#660082", 10: "#55ff00", 11: "#fff30d", 12: "#e4df7c", 13: "#000000",
}  # fmt: skip


def render(layer: QgsRasterLayer, size: int) -> np.ndarray:
    """Render `layer` alone over its extent into a size x size RGB array."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor("#808080"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return np.array([[QColor(image.pixel(x, y)).name() for x in range(size)] for y in range(size)])


def test_class_style_has_the_flair_palette_and_english_names(tmp_path, qgis_new_project):
    path = write_geotiff(tmp_path / "classes.tif", quadrant_classes(40, (1, 5, 10, 3)), nodata=0)
    layer = QgsRasterLayer(str(path), "classes")
    assert layer.isValid()

    styling.apply_class_style(layer, FLAIR_13, language="en")

    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    classes = {c.value: (c.color.name(), c.label) for c in renderer.classes()}
    assert {code: colour for code, (colour, _) in classes.items()} == FLAIR2_COLOURS
    assert classes[10][1] == "herbaceous vegetation"
    assert classes[1][1] == "building"


def test_class_labels_follow_a_french_qgis(tmp_path, qgis_new_project):
    path = write_geotiff(tmp_path / "classes.tif", quadrant_classes(8, (1, 2, 3, 4)))
    layer = QgsRasterLayer(str(path), "classes")
    settings = QgsSettings()
    previous = settings.value("locale/userLocale", "")
    try:
        settings.setValue("locale/userLocale", "fr_FR")
        assert styling.qgis_language() == "fr"
        styling.apply_class_style(layer, FLAIR_13)
        labels = {c.value: c.label for c in layer.renderer().classes()}
        assert labels[1] == "bâtiment"
        assert labels[12] == "terre labourée"
        settings.setValue("locale/userLocale", "en_GB")
        assert styling.qgis_language() == "en"
    finally:
        settings.setValue("locale/userLocale", previous)


def test_rendered_map_shows_each_class_colour_where_the_class_is(tmp_path, qgis_new_project):
    codes = (1, 5, 10, 3)
    path = write_geotiff(tmp_path / "classes.tif", quadrant_classes(40, codes), nodata=0)
    layer = QgsRasterLayer(str(path), "classes")
    QgsProject.instance().addMapLayer(layer)
    styling.apply_class_style(layer, FLAIR_13, language="en")

    pixels = render(layer, 100)

    # Sample well inside each quadrant (top-left, top-right, bottom-left, bottom-right).
    for (row, col), code in zip(((25, 25), (25, 75), (75, 25), (75, 75)), codes, strict=True):
        assert pixels[row, col] == FLAIR2_COLOURS[code], (row, col, code)


def test_confidence_style_is_a_continuous_ramp_from_red_to_green(tmp_path, qgis_new_project):
    ramp = np.tile(np.linspace(0, 1, 50, dtype=np.float32), (1, 10, 1))
    path = write_geotiff(tmp_path / "confidence.tif", ramp)
    layer = QgsRasterLayer(str(path), "confidence")

    styling.apply_confidence_style(layer)

    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 1.0)
    pixels = render(layer, 50)
    assert pixels[25, 0] == styling.CONFIDENCE_RAMP[0]
    assert pixels[25, 49] == styling.CONFIDENCE_RAMP[-1]
    # Interpolated: the middle is neither end colour.
    assert pixels[25, 25] not in (styling.CONFIDENCE_RAMP[0], styling.CONFIDENCE_RAMP[-1])


def test_confidence_range_of_an_integer_raster_is_percent(tmp_path, qgis_new_project):
    path = write_geotiff(tmp_path / "confidence.tif", np.full((1, 4, 4), 80, dtype=np.uint8))
    assert styling.confidence_range(QgsRasterLayer(str(path), "c")) == (0.0, 100.0)
