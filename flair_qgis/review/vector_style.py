"""How the review layers look in QGIS: land-cover polygons in the nomenclature's official colours, review
zones by status; as renderers, as QML stored in the GeoPackage, and as a Processing post-processor."""

from __future__ import annotations

from osgeo import ogr
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsDefaultValue,
    QgsEditorWidgetSetup,
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


def corrections_renderer(nomenclature: Nomenclature, language: str = "en") -> QgsCategorizedSymbolRenderer:
    """Categories on the corrected `code`: the class's official colour, half transparent so the ortho shows
    through, with a thick white-and-dark outline that tells a correction from the map around it."""
    categories = []
    for cls in nomenclature.classes:
        symbol = QgsFillSymbol.createSimple(
            {
                "color": cls.colour,
                "outline_color": "#ffffff",
                "outline_width": "0.6",
                "outline_style": "solid",
            }
        )
        symbol.setOpacity(0.6)
        categories.append(QgsRendererCategory(cls.code, symbol, cls.label(language)))
    return QgsCategorizedSymbolRenderer(schema.FIELD_CODE, categories)


def configure_corrections_form(
    layer: QgsVectorLayer, nomenclature: Nomenclature, language: str = "en"
) -> None:
    """The corrections' attribute form: `code` picked by class name from the nomenclature (a value map),
    `author` and `date` filled by default (QGIS's user name, the time of drawing), `origin` 'drawn'."""
    fields = layer.fields()
    layer.setFieldAlias(fields.indexOf(schema.FIELD_CODE), "class")  # first: on QGIS 3.22 it resets widgets
    choices = [{cls.label(language): cls.code} for cls in nomenclature.classes]
    layer.setEditorWidgetSetup(
        fields.indexOf(schema.FIELD_CODE), QgsEditorWidgetSetup("ValueMap", {"map": choices})
    )
    defaults = {
        schema.FIELD_AUTHOR: "@user_full_name",
        schema.FIELD_DATE: "format_date(now(), 'yyyy-MM-ddTHH:mm:ss')",
        schema.FIELD_ORIGIN: f"'{schema.ORIGIN_DRAWN}'",
    }
    for name, expression in defaults.items():
        layer.setDefaultValueDefinition(fields.indexOf(name), QgsDefaultValue(expression))


def style_qml(renderer: QgsCategorizedSymbolRenderer, fields: list[tuple[str, int]], configure=None) -> str:
    """The QML text of a polygon layer with `renderer`; `fields` are the layer's (name, OGR field type)
    pairs, so that the style names the layer's fields; `configure(layer)` may add forms and defaults."""
    kinds = {ogr.OFTInteger: "integer", ogr.OFTReal: "double"}
    spec = "&".join(f"field={name}:{kinds.get(kind, 'string')}" for name, kind in fields)
    layer = QgsVectorLayer(f"Polygon?{spec}", "style", "memory")
    layer.setRenderer(renderer)
    if configure is not None:
        configure(layer)
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
