"""The aerial-image parameters every algorithm that reads the model's aerial bands shares (the landcover
run, the training-patch export): the aerial layer and its R, G, B bands, the NIR and elevation layers or
bands, and how they become the engine's band sources."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterBand,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)

from ..adapters.request_builder import band_sources, polygons_area, rectangle_area

AERIAL = "AERIAL"
RED_BAND = "RED_BAND"
GREEN_BAND = "GREEN_BAND"
BLUE_BAND = "BLUE_BAND"
NIR_LAYER = "NIR_LAYER"
NIR_BAND = "NIR_BAND"
ELEVATION_LAYER = "ELEVATION_LAYER"
ELEVATION_BAND = "ELEVATION_BAND"
SENTINEL2 = "SENTINEL2"
EXTENT = "EXTENT"
AREA = "AREA"


def add_aerial_parameters(algorithm: QgsProcessingAlgorithm) -> None:
    """Add the aerial layer, its R, G, B bands and the NIR and elevation layers and bands, each band
    parameter tied to its layer (QGIS lists that layer's bands)."""
    from .review_base import tr, with_help

    algorithm.addParameter(
        with_help(
            QgsProcessingParameterRasterLayer(AERIAL, tr("Aerial image")),
            tr(
                "The orthophoto at (or resampled to) the model's pixel size, e.g. 0.2 m; R, G, B bands at least."
            ),
        )
    )
    for key, label, default in (
        (RED_BAND, tr("Red band"), 1),
        (GREEN_BAND, tr("Green band"), 2),
        (BLUE_BAND, tr("Blue band"), 3),
    ):
        # Optional so that callers (qgis_process, models) may leave out the usual 1, 2, 3.
        algorithm.addParameter(
            with_help(
                QgsProcessingParameterBand(key, label, default, AERIAL, optional=True),
                tr("Band of the aerial image (default {band}).").format(band=default),
            )
        )
    for layer_key, band_key, layer_label, band_label, fallback in (
        (NIR_LAYER, NIR_BAND, tr("Near-infrared layer (default: band 4 of the aerial image)"),
         tr("Near-infrared band"), 4),
        (ELEVATION_LAYER, ELEVATION_BAND, tr("Elevation layer (default: band 5 of the aerial image)"),
         tr("Elevation band"), 5),
    ):  # fmt: skip
        algorithm.addParameter(
            with_help(
                QgsProcessingParameterRasterLayer(layer_key, layer_label, optional=True),
                tr("A layer of its own (e.g. the IRC ortho, a surface model); empty: the aerial image."),
            )
        )
        algorithm.addParameter(
            with_help(
                QgsProcessingParameterBand(band_key, band_label, None, layer_key, optional=True),
                tr(
                    "Band of that layer (default 1); without the layer, band of the aerial image (default "
                    "{band})."
                ).format(band=fallback),
            )
        )


def add_sentinel2_parameter(algorithm: QgsProcessingAlgorithm, help_text: str) -> None:
    """The Sentinel-2 folder (optional: aerial-only models do without), with the algorithm's own help."""
    from qgis.core import QgsProcessingParameterFile

    from .review_base import tr, with_help

    parameter = QgsProcessingParameterFile(
        SENTINEL2,
        tr("Sentinel-2 folder (not needed by aerial-only models)"),
        behavior=QgsProcessingParameterFile.Behavior.Folder,
        optional=True,
    )
    algorithm.addParameter(with_help(parameter, help_text))


def add_area_parameters(algorithm: QgsProcessingAlgorithm, polygons_help: str) -> None:
    """The area to map: an extent, else the union of polygons (read back by area_of_interest)."""
    from qgis.core import QgsProcessing, QgsProcessingParameterExtent, QgsProcessingParameterFeatureSource

    from .review_base import tr, with_help

    algorithm.addParameter(
        with_help(
            QgsProcessingParameterExtent(EXTENT, tr("Extent"), optional=True),
            tr("The rectangle to map, in any CRS; empty: the area polygons, else the whole aerial image."),
        )
    )
    polygons = QgsProcessingParameterFeatureSource(
        AREA, tr("Area polygons"), [QgsProcessing.SourceType.TypeVectorPolygon], optional=True
    )
    algorithm.addParameter(with_help(polygons, polygons_help))


def aerial_band_choices(
    algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext, spec
) -> tuple[dict[str, tuple[str, int]], dict[str, QgsRasterLayer]]:
    """(model band -> (layer id, band number), layer id -> layer) for the bands of `spec` (an AerialInput),
    QgsProcessingException for a missing layer or band."""
    from ..adapters.sources import band_count

    aerial = algorithm.parameterAsRasterLayer(parameters, AERIAL, context)
    if aerial is None:
        raise QgsProcessingException("The aerial image is missing or cannot be opened")
    layers = {aerial.id(): aerial}
    mapping = {
        "red": (aerial.id(), algorithm.parameterAsInt(parameters, RED_BAND, context)),
        "green": (aerial.id(), algorithm.parameterAsInt(parameters, GREEN_BAND, context)),
        "blue": (aerial.id(), algorithm.parameterAsInt(parameters, BLUE_BAND, context)),
    }
    for name, layer_key, band_key, fallback in (
        ("nir", NIR_LAYER, NIR_BAND, 4),
        ("elevation", ELEVATION_LAYER, ELEVATION_BAND, 5),
    ):
        layer = algorithm.parameterAsRasterLayer(parameters, layer_key, context)
        band = algorithm.parameterAsInt(parameters, band_key, context)
        if layer is not None:
            layers[layer.id()] = layer
            mapping[name] = (layer.id(), band or 1)
        else:
            mapping[name] = (aerial.id(), band or fallback)
    for name in spec.bands:
        layer_id, band = mapping[name]
        layer: QgsRasterLayer = layers[layer_id]
        if not 1 <= band <= band_count(layer):
            raise QgsProcessingException(
                f"The model needs a {name} band: band {band} of '{layer.name()}' does not exist "
                f"(it has {band_count(layer)}). Give the {name} layer or band."
            )
    return mapping, layers


def aerial_band_sources(
    algorithm: QgsProcessingAlgorithm,
    parameters: dict[str, Any],
    context: QgsProcessingContext,
    spec,
    area=None,
) -> list[tuple[Any, int]]:
    """In the main thread: the engine's (source, band) per model band of `spec` (an AerialInput) from the
    chosen layers (file paths, or cloned providers), limited to `area` when given."""
    mapping, layers = aerial_band_choices(algorithm, parameters, context, spec)
    project_crs = context.project().crs() if context.project() is not None else None
    try:
        return band_sources(mapping, layers, spec, area, project_crs)
    except ValueError as exc:
        raise QgsProcessingException(f"{exc} (EXTENT or AREA)") from exc


def aerial_band_files(
    algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext, spec
) -> list[tuple[str, int]]:
    """(file path, band) per model band: for work done outside QGIS (a plan's workers read files), so a
    layer that is not a local raster file is refused with what to do."""
    from ..adapters.sources import layer_file

    mapping, layers = aerial_band_choices(algorithm, parameters, context, spec)
    files = []
    for name in spec.bands:
        layer_id, band = mapping[name]
        path = layer_file(layers[layer_id])
        if path is None:
            raise QgsProcessingException(
                f"'{layers[layer_id].name()}' is not a local raster file, and the workers of a plan read files: "
                "save it as a GeoTIFF or build a VRT of its files, then choose that."
            )
        files.append((path, band))
    return files


def area_of_interest(
    algorithm: QgsProcessingAlgorithm,
    parameters: dict[str, Any],
    context: QgsProcessingContext,
    extent_key: str = EXTENT,
    area_key: str = AREA,
):
    """The area of interest: the extent if given, else the area layer's polygons (their union), else None."""
    from qgis.core import QgsFeatureRequest

    if parameters.get(extent_key):
        extent = algorithm.parameterAsExtent(parameters, extent_key, context)
        if not extent.isNull():  # an empty (zero-width) extent is refused by from_bounds
            crs = algorithm.parameterAsExtentCrs(parameters, extent_key, context)
            return rectangle_area(extent, crs.toWkt())
    source = algorithm.parameterAsSource(parameters, area_key, context)
    if source is None:
        return None
    request = QgsFeatureRequest().setNoAttributes()
    geometries = [f.geometry() for f in source.getFeatures(request) if f.hasGeometry()]
    area = polygons_area(geometries, source.sourceCrs().toWkt())
    if area is None:
        raise QgsProcessingException("The area layer has no polygon (or none is selected)")
    return area
