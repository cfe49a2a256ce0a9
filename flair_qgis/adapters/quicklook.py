"""A PNG quick-look of a land-cover result rendered by QGIS: the aerial image, the styled prediction and
its legend side by side, for reports and for checking a run at a glance."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPalettedRasterRenderer,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QRectF, QSize, Qt
from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter

PANEL = 640  # pixels per map panel
MARGIN = 16
LEGEND_WIDTH = 260
TITLE_HEIGHT = 40


def render_layer(layer: QgsRasterLayer, extent: QgsRectangle, size: QSize) -> QImage:
    """Render one layer over `extent` into an image of `size` with QGIS's own renderer."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(extent)
    settings.setOutputSize(size)
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def legend_entries(layer: QgsRasterLayer) -> list[tuple[QColor, str]]:
    """(colour, label) of every class of a paletted layer, in the renderer's order."""
    renderer = layer.renderer()
    if not isinstance(renderer, QgsPalettedRasterRenderer):
        raise ValueError(f"{layer.source()} is not styled with a paletted renderer")
    return [(entry.color, entry.label) for entry in renderer.classes()]


def write_quicklook(
    aerial_path: str | Path,
    classes_path: str | Path,
    png_path: str | Path,
    title: str = "FLAIR land cover",
) -> Path:
    """Render `aerial_path` (first three bands as RGB) beside `classes_path` (styled by its `.qml`
    side-car) with a legend, and save the PNG. Needs a running QgsApplication."""
    aerial = QgsRasterLayer(str(aerial_path), "aerial")
    classes = QgsRasterLayer(str(classes_path), "land cover")
    for layer in (aerial, classes):
        if not layer.isValid():
            raise ValueError(f"QGIS cannot open {layer.source()}")
    qml = Path(classes_path).with_suffix(".qml")
    if qml.exists():
        message, ok = classes.loadNamedStyle(str(qml))
        if not ok:
            raise ValueError(f"QGIS cannot apply the style {qml}: {message}")
    extent = classes.extent()
    ratio = extent.height() / extent.width() if extent.width() else 1.0
    size = QSize(PANEL, max(1, round(PANEL * ratio)))
    panels = [render_layer(aerial, extent, size), render_layer(classes, extent, size)]
    entries = legend_entries(classes)

    width = 3 * MARGIN + 2 * size.width() + LEGEND_WIDTH
    height = TITLE_HEIGHT + MARGIN + max(size.height(), 24 * len(entries) + 40) + MARGIN
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(QFont("Sans", 14, QFont.Weight.Bold))
        painter.drawText(
            QRectF(MARGIN, 0, width - 2 * MARGIN, TITLE_HEIGHT), Qt.AlignmentFlag.AlignVCenter, title
        )
        top = TITLE_HEIGHT
        for index, panel in enumerate(panels):
            painter.drawImage(MARGIN + index * (size.width() + MARGIN), top, panel)
        painter.setFont(QFont("Sans", 10))
        x = 3 * MARGIN + 2 * size.width()
        painter.drawText(QRectF(x, top, LEGEND_WIDTH, 20), Qt.AlignmentFlag.AlignLeft, "Legend")
        for row, (colour, label) in enumerate(entries):
            y = top + 28 + 24 * row
            painter.fillRect(QRectF(x, y, 18, 18), colour)
            painter.setPen(QColor("black"))
            painter.drawRect(QRectF(x, y, 18, 18))
            painter.drawText(QRectF(x + 26, y, LEGEND_WIDTH - 26, 18), Qt.AlignmentFlag.AlignVCenter, label)
    finally:
        painter.end()
    png_path = Path(png_path)
    if not image.save(str(png_path), "PNG"):
        raise OSError(f"cannot write {png_path}")
    return png_path
