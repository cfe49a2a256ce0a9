"""QGIS choices -> the engine's request: the band sources of the chosen layers and the area of a
rectangle or of polygons, built one way for the dialog and the Processing algorithms. Runs in the main
thread (layers are read there; the sources it builds are safe in a worker)."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsGeometry, QgsRectangle, QgsWkbTypes


def band_sources(
    mapping: dict[str, tuple[str, int]], layers: dict[str, Any], spec: Any, area: Any, crs: Any
) -> list[tuple[Any, int]]:
    """The engine's (source, band) per model band of `spec` (an AerialInput) from `mapping` (model band
    -> (layer id, band)) over `layers` (layer id -> layer), limited to `area` when given; `crs` is the
    one to render services in. ValueError for a layer or area that cannot give the bands."""
    from ..adapters.bands import engine_bands
    from ..adapters.sources import layer_sources

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
