"""The area of interest: a box or polygons (from bounds, WKT or GeoJSON) in any CRS, and the mask of the
output grid's pixels it covers.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.errors
import rasterio.features
import rasterio.warp
from rasterio.windows import Window

from .errors import InputError
from .gdal_runtime import RASTERIO_ERRORS
from .geometry import Bounds, OutputGrid, crs_label, format_bounds, parse_crs, pixel_span, same_crs


@dataclass(frozen=True)
class AreaOfInterest:
    """The area to map: a GeoJSON-like Polygon or MultiPolygon `geometry` in `crs` (any CRS definition
    rasterio understands). `is_box` marks an axis-aligned rectangle, mapped to every pixel it touches."""

    geometry: dict[str, Any]
    crs: str
    is_box: bool = field(default=False)
    _reprojected: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_bounds(cls, bounds: Sequence[float], crs: str) -> AreaOfInterest:
        if len(bounds) != 4:
            raise InputError(f"An area needs 4 bounds (xmin, ymin, xmax, ymax), got {list(bounds)}.")
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            raise InputError(
                f"The area's bounds must be finite numbers, got {[xmin, ymin, xmax, ymax]}.",
                "Give the four corners' coordinates in the area's CRS (no inf or nan).",
            )
        if not (xmin < xmax and ymin < ymax):
            raise InputError(
                f"The area's bounds are empty or inverted: {format_bounds((xmin, ymin, xmax, ymax))}.",
                "Give xmin < xmax and ymin < ymax.",
            )
        parse_crs(crs)
        ring = [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]
        return cls({"type": "Polygon", "coordinates": [ring]}, crs, is_box=True)

    @classmethod
    def from_wkt(cls, wkt: str, crs: str) -> AreaOfInterest:
        """A POLYGON or MULTIPOLYGON in WKT (Z/M ordinates ignored)."""
        return cls(_polygonal(parse_wkt(wkt), "The WKT"), crs)

    @classmethod
    def from_geojson(cls, data: str | dict[str, Any], crs: str | None = None) -> AreaOfInterest:
        """A GeoJSON geometry, Feature or FeatureCollection (its polygons). Its CRS is `crs`, else the
        legacy "crs" member, else WGS 84 (RFC 7946)."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise InputError(f"The area is not valid GeoJSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError("The area is not a GeoJSON object.")
        named = (
            data.get("crs", {}).get("properties", {}).get("name")
            if isinstance(data.get("crs"), dict)
            else None
        )
        crs = crs or (_urn_to_crs(named) if named else "EPSG:4326")
        return cls(_polygonal(_geojson_geometry(data), "The GeoJSON"), crs)

    @classmethod
    def from_geojson_file(cls, path: str | Path, crs: str | None = None) -> AreaOfInterest:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"The area file {path} does not exist.")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"The area file {path} cannot be read: {exc}") from exc
        try:
            return cls.from_geojson(text, crs)
        except InputError as exc:
            raise InputError(f"{path}: {exc.message}", exc.hint) from exc

    def geometry_in(self, crs: str) -> dict[str, Any]:
        """The geometry in `crs` (box edges densified so a reprojected box keeps its shape)."""
        if same_crs(self.crs, crs):
            return self.geometry
        if crs not in self._reprojected:
            geometry = _densified(self.geometry) if self.is_box else self.geometry
            try:
                self._reprojected[crs] = rasterio.warp.transform_geom(
                    parse_crs(self.crs), parse_crs(crs), geometry
                )
            except RASTERIO_ERRORS as exc:
                raise InputError(
                    f"The area cannot be transformed from {crs_label(self.crs)} to {crs_label(crs)}: {exc}"
                ) from exc
        return self._reprojected[crs]

    def bounds_in(self, crs: str) -> Bounds:
        xs, ys = zip(*(p[:2] for p in _points(self.geometry_in(crs)["coordinates"])), strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    def mask(self, grid: OutputGrid, window: Window | None = None) -> np.ndarray:
        """bool h x w over `window` of `grid` (whole grid when None): True for the pixels in the area
        (pixel centre inside a polygon; every touched pixel for a box in the grid's CRS)."""
        window = window or grid.window
        rows, cols = int(window.height), int(window.width)
        transform = grid.window_transform(window)
        if self.is_box and same_crs(self.crs, grid.crs):
            xmin, ymin, xmax, ymax = self.bounds_in(grid.crs)
            c0, c1 = pixel_span(xmin, xmax, transform.c, transform.a)
            r0, r1 = pixel_span(-ymax, -ymin, -transform.f, -transform.e)
            inside = np.zeros((rows, cols), bool)
            inside[max(r0, 0) : max(min(r1, rows), 0), max(c0, 0) : max(min(c1, cols), 0)] = True
            return inside
        return rasterio.features.geometry_mask(
            [self.geometry_in(grid.crs)], out_shape=(rows, cols), transform=transform, invert=True
        )


def _urn_to_crs(name: str) -> str:
    """ "urn:ogc:def:crs:EPSG::2154" -> "EPSG:2154"; "urn:ogc:def:crs:OGC:1.3:CRS84" -> "OGC:CRS84"."""
    match = re.match(r"urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", name)
    if match:
        return f"EPSG:{match.group(1)}"
    if name.endswith("CRS84"):
        return "OGC:CRS84"
    return name


def _geojson_geometry(data: dict[str, Any]) -> dict[str, Any]:
    """The polygons of a GeoJSON object as one Polygon/MultiPolygon (other geometries dropped)."""
    kind = data.get("type")
    if kind == "FeatureCollection":
        polygons: list[Any] = []
        for feature in data.get("features") or []:
            geometry = _geojson_geometry(feature)
            if geometry.get("type") == "Polygon":
                polygons.append(geometry["coordinates"])
            elif geometry.get("type") == "MultiPolygon":
                polygons.extend(geometry["coordinates"])
        return {"type": "MultiPolygon", "coordinates": polygons}
    if kind == "Feature":
        return data.get("geometry") or {}
    if kind == "GeometryCollection":
        return _geojson_geometry(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": g} for g in data.get("geometries", [])],
            }
        )
    return data


def _polygonal(geometry: dict[str, Any], what: str) -> dict[str, Any]:
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon") or not coordinates:
        raise InputError(
            f"{what} area has no polygon (found {kind or 'nothing'}).", "Give a polygon or a bounding box."
        )
    points = list(_points(coordinates))
    if len(points) < 3 or not all(len(p) >= 2 and all(math.isfinite(v) for v in p[:2]) for p in points):
        raise InputError(f"{what} area's polygon is malformed.")
    coordinates = _drop_extra_ordinates(coordinates)
    polygons = [coordinates] if kind == "Polygon" else coordinates
    try:
        area = sum(abs(_ring_area(p[0])) - sum(abs(_ring_area(h)) for h in p[1:]) for p in polygons)
    except (TypeError, IndexError, ValueError) as exc:
        raise InputError(f"{what} area's polygon is malformed.") from exc
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    if area <= 1e-12 * extent**2:
        raise InputError(
            "The area's polygon has no area: its points lie on one line or one point "
            f"(extent {format_bounds((min(xs), min(ys), max(xs), max(ys)))}).",
            "Give a polygon that encloses the area to map, or a bounding box with xmin < xmax and ymin < ymax.",
        )
    return {"type": kind, "coordinates": coordinates}


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    """Signed area of a closed or open ring (shoelace formula), in the square units of its CRS."""
    ox, oy = ring[0][0], ring[0][1]  # from the first point: no cancellation on large coordinates
    total = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise([*ring, ring[0]]):
        total += (x0 - ox) * (y1 - oy) - (x1 - ox) * (y0 - oy)
    return total / 2


def _drop_extra_ordinates(coordinates: Any) -> Any:
    if coordinates and isinstance(coordinates[0], (int, float)):
        return [float(coordinates[0]), float(coordinates[1])]
    return [_drop_extra_ordinates(c) for c in coordinates]


def _points(coordinates: Any) -> Iterator[Sequence[float]]:
    if coordinates and isinstance(coordinates[0], (int, float)):
        yield coordinates
        return
    for item in coordinates:
        yield from _points(item)


def _densified(geometry: dict[str, Any], steps: int = 20) -> dict[str, Any]:
    ring = geometry["coordinates"][0]
    points = []
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        points += [[x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps] for k in range(steps)]
    points.append(ring[-1])
    return {"type": "Polygon", "coordinates": [points]}


_WKT_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_wkt(wkt: str) -> dict[str, Any]:
    """A WKT POLYGON or MULTIPOLYGON (optionally Z/M, optionally EWKT "SRID=n;") as a GeoJSON dict."""
    text = re.sub(r"^\s*SRID=\d+;", "", wkt.strip(), flags=re.IGNORECASE)
    match = re.match(
        r"^\s*(MULTIPOLYGON|POLYGON)\s*(?:ZM|Z|M)?\s*(\(.*\))\s*$", text, re.IGNORECASE | re.DOTALL
    )
    if not match:
        raise InputError(f"Not a WKT polygon: {wkt[:60]!r}", "Write it as POLYGON ((x y, x y, ...)).")
    body = re.sub(
        rf"({_WKT_NUMBER})(?:\s+({_WKT_NUMBER}))+",
        lambda m: "[" + ",".join(m.group(0).split()) + "]",
        match.group(2),
    )
    body = body.replace("(", "[").replace(")", "]")
    try:
        coordinates = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InputError(f"Malformed WKT polygon: {wkt[:60]!r}") from exc
    kind = "MultiPolygon" if match.group(1).upper() == "MULTIPOLYGON" else "Polygon"
    return {"type": kind, "coordinates": coordinates}
