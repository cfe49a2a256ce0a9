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
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)

AERIAL = "AERIAL"
RED_BAND = "RED_BAND"
GREEN_BAND = "GREEN_BAND"
BLUE_BAND = "BLUE_BAND"
NIR_LAYER = "NIR_LAYER"
NIR_BAND = "NIR_BAND"
ELEVATION_LAYER = "ELEVATION_LAYER"
ELEVATION_BAND = "ELEVATION_BAND"


def add_aerial_parameters(algorithm: QgsProcessingAlgorithm) -> None:
    """Add the aerial layer, its R, G, B bands and the NIR and elevation layers and bands."""
    algorithm.addParameter(QgsProcessingParameterRasterLayer(AERIAL, "Aerial image"))
    for key, label, default in (
        (RED_BAND, "Red band", 1),
        (GREEN_BAND, "Green band", 2),
        (BLUE_BAND, "Blue band", 3),
    ):
        # Optional so that callers (qgis_process, models) may leave out the usual 1, 2, 3.
        algorithm.addParameter(QgsProcessingParameterBand(key, label, default, AERIAL, optional=True))
    algorithm.addParameter(
        QgsProcessingParameterRasterLayer(
            NIR_LAYER, "Near-infrared layer (default: band 4 of the aerial image)", optional=True
        )
    )
    algorithm.addParameter(_band_number(NIR_BAND, "Near-infrared band (0: automatic)"))
    algorithm.addParameter(
        QgsProcessingParameterRasterLayer(
            ELEVATION_LAYER, "Elevation layer (default: band 5 of the aerial image)", optional=True
        )
    )
    algorithm.addParameter(_band_number(ELEVATION_BAND, "Elevation band (0: automatic)"))


def aerial_band_sources(
    algorithm: QgsProcessingAlgorithm,
    parameters: dict[str, Any],
    context: QgsProcessingContext,
    spec,
    area=None,
) -> list[tuple[Any, int]]:
    """In the main thread: the engine's (source, band) per model band of `spec` (an AerialInput) from the
    chosen layers (file paths, or cloned providers), limited to `area` when given."""
    from ..bands import engine_bands
    from ..sources import band_count, layer_sources

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
    used = {mapping[name][0]: layers[mapping[name][0]] for name in spec.bands}
    project_crs = context.project().crs() if context.project() is not None else None
    try:
        sources = layer_sources(used, spec.gsd, area, project_crs)
    except ValueError as exc:
        raise QgsProcessingException(f"{exc} (EXTENT or AREA)") from exc
    return engine_bands(mapping, spec.bands, sources)


def _band_number(key: str, label: str) -> QgsProcessingParameterNumber:
    return QgsProcessingParameterNumber(
        key, label, QgsProcessingParameterNumber.Integer, 0, optional=True, minValue=0
    )
