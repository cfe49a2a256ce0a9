"""Ground distances for projected maps: the projection's scale factor from a few points placed on the
WGS 84 ellipsoid. Library-free, so that the engine (rasterio) and the review tools (GDAL's osr) measure the
scale by one rule."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Beyond this departure of a projection's scale factor from 1, the map's grid and areas are those of
#: the ground (see core.geometry.ground_scale). Lambert-93 over France (0.999..1.003) and UTM within its zone
#: (0.9996..1.001) stay under it, so their maps do not change; EPSG:3857 over France (1.33..1.59) does not.
SCALE_TOLERANCE = 0.01

#: The WGS 84 ellipsoid: semi-major axis (m) and first eccentricity squared, for ground distances.
_WGS84_A = 6378137.0
_WGS84_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


def scale_from_segments(lons: Sequence[float], lats: Sequence[float], length_m: float) -> float:
    """The scale factor from an east-west segment (points 0, 1) and a north-south one (points 2, 3), each
    `length_m` metres long in the CRS, given as longitudes and latitudes (WGS 84): whatever library placed
    them on the ellipsoid (rasterio in the engine, GDAL's osr in the review tools). 1.0 for degenerate segments."""
    east = _ellipsoid_distance(lons[0], lats[0], lons[1], lats[1])
    north = _ellipsoid_distance(lons[2], lats[2], lons[3], lats[3])
    if east <= 0 or north <= 0:
        return 1.0
    return math.sqrt((length_m / east) * (length_m / north))


def _ellipsoid_distance(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    """Metres between two close points (degrees) on the WGS 84 ellipsoid, from its radii of curvature at
    their mean latitude (ample for points metres apart)."""
    phi = math.radians((lat0 + lat1) / 2)
    w = 1 - _WGS84_E2 * math.sin(phi) ** 2
    meridian = _WGS84_A * (1 - _WGS84_E2) / w**1.5
    normal = _WGS84_A / math.sqrt(w)
    return math.hypot(
        meridian * math.radians(lat1 - lat0), normal * math.cos(phi) * math.radians(lon1 - lon0)
    )
