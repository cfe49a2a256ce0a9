"""How results look in QGIS: the nomenclature's palette and class names on the class raster, a continuous
ramp on the confidence raster, and a Processing post-processor that applies them when outputs load."""

from __future__ import annotations

from collections.abc import Iterable

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsLayerTreeLayer,
    QgsMapLayer,
    QgsMapLayerLegendUtils,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSettings,
    QgsSingleBandPseudoColorRenderer,
)
from qgis.PyQt.QtCore import QLocale
from qgis.PyQt.QtGui import QColor

from ..core.nomenclature import Nomenclature
from . import settings

#: The legend title of a class layer (instead of GDAL's "Band 1: land cover (...)").
LEGEND_TITLE = "FLAIR land cover"
#: Opacity of a new class layer over the ortho, until the user chooses another one.
DEFAULT_CLASS_OPACITY = 0.7

#: Colours of the confidence ramp, from unsure (red) to sure (green); ColorBrewer RdYlGn.
CONFIDENCE_RAMP = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")


def qgis_language() -> str:
    """ "fr" when QGIS's user interface is French (QgsSettings locale/userLocale), "en" otherwise."""
    locale = str(QgsSettings().value("locale/userLocale", "") or "")
    if not locale:
        locale = QLocale().name()
    return "fr" if locale.lower().startswith("fr") else "en"


def class_renderer(
    layer: QgsRasterLayer,
    nomenclature: Nomenclature,
    language: str | None = None,
    band: int = 1,
    codes: Iterable[int] | None = None,
) -> QgsPalettedRasterRenderer:
    """A paletted renderer with one entry per class: its code, its official colour, its name; only the
    classes of `codes` when given (e.g. those present in the map)."""
    language = language or qgis_language()
    keep = None if codes is None else set(codes)
    classes = [
        QgsPalettedRasterRenderer.Class(c.code, QColor(c.colour), c.label(language))
        for c in nomenclature.classes
        if keep is None or c.code in keep
    ]
    return QgsPalettedRasterRenderer(layer.dataProvider(), band, classes)


def apply_class_style(
    layer: QgsRasterLayer,
    nomenclature: Nomenclature,
    language: str | None = None,
    codes: Iterable[int] | None = None,
    opacity: float | None = None,
) -> None:
    """Style a class raster (codes of `nomenclature`, 0 = nodata) with the palette and class names,
    listing only `codes` when given, at `opacity` (default: opaque; results added for review use
    class_opacity())."""
    renderer = class_renderer(layer, nomenclature, language, codes=codes)
    renderer.setOpacity(1.0 if opacity is None else opacity)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def class_opacity() -> float:
    """The opacity of class layers over the ortho, as the user last chose it (0..1)."""
    value = settings.value("class_opacity", DEFAULT_CLASS_OPACITY, float)
    return min(max(float(value), 0.0), 1.0)


def remember_class_opacity(layer: QgsRasterLayer) -> None:
    """Remember the opacity the user gives `layer` (in its properties or the styling panel) for the
    class layers of later runs."""

    def store() -> None:
        renderer = layer.renderer()
        if renderer is not None:
            settings.set_value("class_opacity", float(renderer.opacity()))

    layer.styleChanged.connect(store)


def list_present_classes_only() -> bool:
    """Whether class layers list only the classes present in the map (setting, off by default)."""
    return bool(settings.value("legend_present_only", False, bool))


def present_classes(classes_path: str) -> list[int] | None:
    """The class codes present in the map at `classes_path` (from its .stats.json), None if unknown."""
    from ..core.errors import FlairError
    from ..core.result import FlairResult

    try:
        return FlairResult(classes_path).present_codes()
    except FlairError:
        return None


def set_legend_title(node: QgsLayerTreeLayer, title: str = LEGEND_TITLE) -> None:
    """Show `title` in the legend above the classes instead of the band's name."""
    QgsMapLayerLegendUtils.setLegendNodeUserLabel(node, 0, title)
    if node.layer() is not None:  # layer tree views already showing the node rebuild its legend
        node.layer().legendChanged.emit()


def confidence_range(layer: QgsRasterLayer, band: int = 1) -> tuple[float, float]:
    """The value range of a confidence raster as QGIS shows it: 0..1 for floating-point values
    (including percent integers that carry a GDAL scale of 0.01), else percent 0..100 scaled by the
    band's scale and offset."""
    provider = layer.dataProvider()
    if provider.dataType(band) in (Qgis.DataType.Float32, Qgis.DataType.Float64):
        return 0.0, 1.0
    scale = provider.bandScale(band) or 1.0
    offset = provider.bandOffset(band)
    return offset, offset + 100.0 * scale


def confidence_renderer(
    layer: QgsRasterLayer, value_range: tuple[float, float] | None = None, band: int = 1
) -> QgsSingleBandPseudoColorRenderer:
    """A continuous red-to-green ramp over the confidence range."""
    low, high = value_range or confidence_range(layer, band)
    ramp = QgsColorRampShader(low, high)
    ramp.setColorRampType(QgsColorRampShader.Type.Interpolated)
    step = (high - low) / (len(CONFIDENCE_RAMP) - 1)
    items = []
    for index, colour in enumerate(CONFIDENCE_RAMP):
        value = low + index * step
        label = f"{100 * (value - low) / (high - low):.0f} %"
        items.append(QgsColorRampShader.ColorRampItem(value, QColor(colour), label))
    ramp.setColorRampItemList(items)
    shader = QgsRasterShader(low, high)
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band, shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    return renderer


def apply_confidence_style(layer: QgsRasterLayer, value_range: tuple[float, float] | None = None) -> None:
    """Style a confidence raster with the continuous ramp."""
    layer.setRenderer(confidence_renderer(layer, value_range))
    layer.triggerRepaint()


class LayerStyler(QgsProcessingLayerPostProcessorInterface):
    """Applies a style when Processing loads an output layer into the project."""

    def __init__(self, nomenclature: Nomenclature | None = None, name: str | None = None) -> None:
        super().__init__()
        self.nomenclature = nomenclature
        self.name = name

    def postProcessLayer(
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
            return
        if self.name:
            layer.setName(self.name)
        if self.nomenclature is not None:
            codes = present_classes(layer.source()) if list_present_classes_only() else None
            apply_class_style(layer, self.nomenclature, codes=codes, opacity=class_opacity())
            remember_class_opacity(layer)
            project = context.project()
            node = project.layerTreeRoot().findLayer(layer.id()) if project is not None else None
            if node is not None:
                set_legend_title(node)
        else:
            apply_confidence_style(layer)


# Processing keeps only a C++ pointer to a post-processor: the Python objects must outlive the run.
_POST_PROCESSORS: list[LayerStyler] = []


def post_processor(nomenclature: Nomenclature | None = None, name: str | None = None) -> LayerStyler:
    """A post-processor styling a class raster (with `nomenclature`) or a confidence raster (without),
    kept alive for as long as the plugin is loaded."""
    styler = LayerStyler(nomenclature, name)
    _POST_PROCESSORS.append(styler)
    return styler
