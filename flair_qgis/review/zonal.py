"""Land-cover statistics inside polygons: the pixels of each class of a FLAIR class raster whose centre lies in
a polygon, counted strip by strip over the polygon's bounding box (memory bounded whatever its size;
overlapping polygons are each counted in full)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from osgeo import gdal, ogr, osr

from .raster_blocks import Cancelled, row_strips
from .result import ClassResult

_NOT_A_NAME = re.compile(r"[^0-9a-z]+")


def class_field_suffix(name: str) -> str:
    """A field-name-safe form of an English class name: "herbaceous vegetation" -> "herbaceous_vegetation"."""
    return _NOT_A_NAME.sub("_", name.lower()).strip("_")


class ZonalCounter:
    """Counts class pixels inside polygons given as WKB in the class raster's CRS."""

    def __init__(self, result: ClassResult) -> None:
        self.result = result
        self.dataset = gdal.Open(str(result.path))
        self.band = self.dataset.GetRasterBand(1)
        self.geotransform = self.dataset.GetGeoTransform()
        self._srs = osr.SpatialReference()
        self._srs.ImportFromWkt(result.grid.crs_wkt)
        self._memory = ogr.GetDriverByName("Memory").CreateDataSource("zone")
        self._mem_raster = gdal.GetDriverByName("MEM")

    def counts(self, wkb: bytes, is_cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """counts[code] = pixels of that code (0 = nodata) whose centre lies in the polygon."""
        counts = np.zeros(256, np.int64)
        geometry = ogr.CreateGeometryFromWkb(wkb)
        if geometry is None or geometry.IsEmpty():
            return counts
        x0, dx, _, y0, _, dy = self.geotransform
        min_x, max_x, min_y, max_y = geometry.GetEnvelope()
        col0 = max(0, int(np.floor((min_x - x0) / dx)))
        col1 = min(self.dataset.RasterXSize, int(np.ceil((max_x - x0) / dx)))
        row0 = max(0, int(np.floor((max_y - y0) / dy)))
        row1 = min(self.dataset.RasterYSize, int(np.ceil((min_y - y0) / dy)))
        if col1 <= col0 or row1 <= row0:
            return counts
        layer = self._memory.CreateLayer("zone", self._srs, ogr.wkbUnknown)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
        width = col1 - col0
        try:
            for row, rows in row_strips(width, row1 - row0):
                if is_cancelled is not None and is_cancelled():
                    raise Cancelled()
                top = row0 + row
                strip = self._mem_raster.Create("", width, rows, 1, gdal.GDT_Byte)
                strip.SetGeoTransform((x0 + col0 * dx, dx, 0.0, y0 + top * dy, 0.0, dy))
                strip.SetProjection(self.result.grid.crs_wkt)
                gdal.RasterizeLayer(strip, [1], layer, burn_values=[1])
                inside = strip.GetRasterBand(1).ReadAsArray() == 1
                if inside.any():
                    codes = self.band.ReadAsArray(col0, top, width, rows)
                    counts += np.bincount(codes[inside], minlength=256)[:256]
        finally:
            self._memory.DeleteLayer(0)
        return counts
