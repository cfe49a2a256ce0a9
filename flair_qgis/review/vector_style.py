"""How the review layers look in QGIS: land-cover polygons in the nomenclature's official colours, review
zones by status; as renderers, as QML stored in the GeoPackage, and as a Processing post-processor."""

from __future__ import annotations

from osgeo import ogr
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsReadWriteContext,
    QgsRendererCategory,
    QgsVectorLayer,
)
from qgis.PyQt.QtXml import QDomDocument

from ..core.nomenclature import Nomenclature
from . import schema

#: Outline colour of review zones by status.
STATUS_COLOURS = {
    schema.STATUS_TO_REVIEW: "#ff7f00",
    schema.STATUS_CONFIRMED: "#1a9641",
    schema.STATUS_CORRECTED: "#2b83ba",
}


def polygon_renderer(nomenclature: Nomenclature, language: str = "en") -> QgsCategorizedSymbolRenderer:
    """Categories on the `code` field: one per class, its official colour (a thin darker outline), its name."""
    categories = []
    for cls in nomenclature.classes:
        symbol = QgsFillSymbol.createSimple(
            {
                "color": cls.colour,
                "outline_color": "#303030",
                "outline_width": "0.1",
                "outline_style": "solid",
            }
        )
        categories.append(QgsRendererCategory(cls.code, symbol, cls.label(language)))
    return QgsCategorizedSymbolRenderer(schema.FIELD_CODE, categories)


def review_renderer() -> QgsCategorizedSymbolRenderer:
    """Categories on the `status` field: an unfilled, thick outline coloured by status."""
    categories = []
    for status, colour in STATUS_COLOURS.items():
        symbol = QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": colour, "outline_width": "0.8", "outline_style": "solid"}
        )
        categories.append(QgsRendererCategory(status, symbol, status))
    return QgsCategorizedSymbolRenderer(schema.FIELD_STATUS, categories)


def style_qml(renderer: QgsCategorizedSymbolRenderer, fields: list[tuple[str, int]]) -> str:
    """The QML text of a polygon layer with `renderer`; `fields` are the layer's (name, OGR field type)
    pairs, so that the style names the layer's fields."""
    kinds = {ogr.OFTInteger: "integer", ogr.OFTReal: "double"}
    spec = "&".join(f"field={name}:{kinds.get(kind, 'string')}" for name, kind in fields)
    layer = QgsVectorLayer(f"Polygon?{spec}", "style", "memory")
    layer.setRenderer(renderer)
    document = QDomDocument()
    message = layer.exportNamedStyle(document, QgsReadWriteContext())
    if message:
        raise RuntimeError(f"cannot export the layer style: {message}")
    return document.toString()


class VectorStyler(QgsProcessingLayerPostProcessorInterface):
    """Applies a renderer (and a name) when Processing loads an output layer into the project."""

    def __init__(self, make_renderer, name: str | None = None) -> None:
        super().__init__()
        self.make_renderer = make_renderer
        self.name = name

    def postProcessLayer(
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
            return
        if self.name:
            layer.setName(self.name)
        layer.setRenderer(self.make_renderer())
        layer.triggerRepaint()


# Processing keeps only a C++ pointer to a post-processor: the Python objects must outlive the run.
_POST_PROCESSORS: list[VectorStyler] = []


def vector_post_processor(make_renderer, name: str | None = None) -> VectorStyler:
    """A post-processor applying `make_renderer()` to a loaded output, kept alive with the plugin."""
    styler = VectorStyler(make_renderer, name)
    _POST_PROCESSORS.append(styler)
    return styler
