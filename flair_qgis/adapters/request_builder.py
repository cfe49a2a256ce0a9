"""QGIS choices -> the engine's PredictionRequest, built one way for the dialog and the Processing
algorithms: the area (a rectangle, or the union of polygons), the band sources of the chosen layers over
it, then the run's options. Runs in the main thread: layers are read there, and the sources it builds are
safe in a worker thread (file paths, or cloned providers)."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsGeometry, QgsRectangle, QgsWkbTypes


def band_sources(
    mapping: dict[str, tuple[str, int]], layers: dict[str, Any], spec: Any, area: Any, crs: Any
) -> list[tuple[Any, int]]:
    """The engine's (source, band) per model band of `spec` (an AerialInput) from `mapping` (model band
    -> (layer id, band)) over `layers` (layer id -> layer), limited to `area` when given; `crs` is the
    one to render services in. ValueError for a layer or area that cannot give the bands."""
    from .bands import engine_bands
    from .sources import layer_sources

    used = {mapping[name][0]: layers[mapping[name][0]] for name in spec.bands}
    return engine_bands(mapping, spec.bands, layer_sources(used, spec.gsd, area, crs))


def rectangle_area(rectangle: QgsRectangle, crs_wkt: str) -> Any:
    """The engine's AreaOfInterest of a rectangle in `crs_wkt`."""
    from ..core.area import AreaOfInterest

    bounds = (rectangle.xMinimum(), rectangle.yMinimum(), rectangle.xMaximum(), rectangle.yMaximum())
    return AreaOfInterest.from_bounds(bounds, crs_wkt)


def polygons_area(geometries: list[QgsGeometry], crs_wkt: str) -> Any:
    """The engine's AreaOfInterest of the union of the polygons among `geometries` (in `crs_wkt`), None
    when there is none."""
    from ..core.area import AreaOfInterest

    polygons = [g for g in geometries if g.type() == QgsWkbTypes.GeometryType.PolygonGeometry]
    if not polygons:
        return None
    return AreaOfInterest.from_wkt(QgsGeometry.unaryUnion(polygons).asWkt(), crs_wkt)


class RequestBuilder:
    """Collects one run's choices and makes its PredictionRequest: the area (`rectangle`, `polygons`, or
    `area` set directly; none for the whole aerial image), the bands (`bands`), any other option of
    PredictionRequest (`set`), then `build`. The bundle is the one the caller loaded: the run does not
    open it again. `services_crs` is the CRS web services are rendered in (the map's). The band sources
    are built from the layers by `sources()` (or `build()`), in the main thread, over the area given."""

    def __init__(self, bundle: Any, services_crs: Any = None) -> None:
        self.bundle = bundle
        self.services_crs = services_crs
        #: The engine's AreaOfInterest, None for the whole aerial image.
        self.area: Any = None
        self.options: dict[str, Any] = {}
        #: (model band -> (layer id, band), layer id -> layer), None until `bands` is called.
        self.band_choices: tuple[dict[str, tuple[str, int]], dict[str, Any]] | None = None
        self._sources: list[tuple[Any, int]] | None = None

    @property
    def spec(self) -> Any:
        return self.bundle.spec

    def rectangle(self, rectangle: QgsRectangle, crs_wkt: str) -> None:
        self.area = rectangle_area(rectangle, crs_wkt)

    def polygons(self, geometries: list[QgsGeometry], crs_wkt: str) -> bool:
        """The union of the polygons as the area; False (area unchanged) when there is no polygon."""
        area = polygons_area(geometries, crs_wkt)
        if area is not None:
            self.area = area
        return area is not None

    def bands(self, mapping: dict[str, tuple[str, int]], layers: dict[str, Any]) -> None:
        """The aerial bands: `mapping` (model band -> (layer id, band)) over `layers` (id -> layer)."""
        self.band_choices, self._sources = (mapping, layers), None

    def sources(self) -> list[tuple[Any, int]]:
        """The engine's (source, band) per model band, limited to the area: in the main thread (layers
        are read). ValueError for a layer or area that cannot give the bands."""
        if self._sources is None:
            if self.band_choices is None:
                raise ValueError("RequestBuilder.bands() was not given the aerial layers")
            self._sources = band_sources(*self.band_choices, self.spec.aerial, self.area, self.services_crs)
        return self._sources

    def set(self, **options: Any) -> None:
        """Options of PredictionRequest (output, sentinel2, device, outputs, overlap...)."""
        self.options.update(options)

    def build(self, **options: Any) -> Any:
        """The PredictionRequest of everything given; the results' language is QGIS's."""
        from ..core.predict import PredictionRequest
        from .styling import qgis_language

        chosen = {"language": qgis_language(), **self.options, **options}
        return PredictionRequest(aerial=self.sources(), bundle=self.bundle, area=self.area, **chosen)
