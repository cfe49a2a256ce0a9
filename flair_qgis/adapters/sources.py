"""QGIS raster layers as the engine's aerial sources: file-based GDAL layers are handed over as paths (the
engine reads them with rasterio); other providers (WMS, WMTS, XYZ, PostGIS raster...) become a
`LayerSource` over a provider CLONED in the main thread, so the worker never touches the layer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsProviderRegistry,
    QgsRasterBlock,
    QgsRasterDataProvider,
    QgsRasterLayer,
    QgsRasterProjector,
    QgsRectangle,
)

Bounds = tuple[float, float, float, float]

#: numpy dtype of each numeric QGIS raster data type.
NUMPY_TYPES = {
    Qgis.DataType.Byte: "uint8",
    Qgis.DataType.UInt16: "uint16",
    Qgis.DataType.Int16: "int16",
    Qgis.DataType.UInt32: "uint32",
    Qgis.DataType.Int32: "int32",
    Qgis.DataType.Float32: "float32",
    Qgis.DataType.Float64: "float64",
}
#: Colour image types (WMS, WMTS, XYZ tiles): one 32-bit ARGB "band" exposed as three bands R, G, B.
COLOUR_TYPES = (Qgis.DataType.ARGB32, Qgis.DataType.ARGB32_Premultiplied)
COLOUR_BANDS = ("red", "green", "blue")


def layer_file(layer: QgsRasterLayer) -> str | None:
    """The local file behind a GDAL raster layer, None for anything else (web services, /vsi paths,
    subdatasets, database rasters)."""
    if layer.providerType() != "gdal":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
    path = parts.get("path") or ""
    if not path or parts.get("layerName") or path.startswith("/vsi") or ":" in Path(path).name:
        return None
    return path if Path(path).is_file() else None


def is_colour_service(layer: QgsRasterLayer) -> bool:
    """Whether the layer renders colour images (WMS, WMTS, XYZ): one ARGB band, read as R, G, B."""
    provider = layer.dataProvider()
    return provider is not None and provider.dataType(1) in COLOUR_TYPES


def band_count(layer: QgsRasterLayer) -> int:
    """The bands the engine sees in the layer: 3 (R, G, B) for a colour service."""
    return len(COLOUR_BANDS) if is_colour_service(layer) else layer.bandCount()


def has_pixel_grid(layer: QgsRasterLayer) -> bool:
    """Whether the layer has pixels of its own (files, databases), unlike web services (WMS, WMTS, XYZ)
    that render any extent at any resolution."""
    provider = layer.dataProvider()
    return provider is not None and provider.xSize() > 0 and provider.ySize() > 0


def aerial_source(
    layer: QgsRasterLayer,
    resolution: float | None = None,
    grid_crs: QgsCoordinateReferenceSystem | None = None,
    extent: QgsRectangle | None = None,
) -> str | LayerSource:
    """What the engine gets for `layer`: its file's path, else a LayerSource (call in the main thread).
    See LayerSource for `resolution`, `grid_crs` and `extent`."""
    return layer_file(layer) or LayerSource(layer, resolution, grid_crs, extent)


def web_grid_crs(
    layer: QgsRasterLayer, preferred: QgsCoordinateReferenceSystem | None = None
) -> QgsCoordinateReferenceSystem:
    """The CRS of the grid a web service is read on: `preferred` (e.g. the project's) when projected,
    else the layer's when projected, else Web Mercator (the model needs metres)."""
    for crs in (preferred, layer.crs()):
        if crs is not None and crs.isValid() and not crs.isGeographic():
            return crs
    return QgsCoordinateReferenceSystem("EPSG:3857")


def layer_sources(
    layers: dict[str, QgsRasterLayer],
    resolution: float,
    area: Any = None,
    preferred_crs: QgsCoordinateReferenceSystem | None = None,
) -> dict[str, str | LayerSource]:
    """The engine's source for each layer id (call in the main thread). Web services are read on a
    `resolution` grid over the area (an AreaOfInterest), which they therefore need, in the CRS of the
    layers that have a grid of their own (so that these are not resampled), else `web_grid_crs`."""
    sources: dict[str, str | LayerSource] = {}
    gridded = [layer for layer in layers.values() if has_pixel_grid(layer) and not layer.crs().isGeographic()]
    if gridded:
        preferred_crs = gridded[0].crs()
    for layer_id, layer in layers.items():
        if layer_file(layer) or has_pixel_grid(layer):
            sources[layer_id] = aerial_source(layer)
            continue
        if area is None:
            raise ValueError(
                f"'{layer.name()}' is a web service without an extent of its own: choose the area to map"
            )
        crs = web_grid_crs(layer, preferred_crs)
        extent = QgsRectangle(*area.bounds_in(crs.toWkt()))
        sources[layer_id] = LayerSource(layer, resolution, crs, extent)
    return sources


class LayerSource:
    """The engine's RasterSource protocol over a QGIS raster layer's data provider.

    Build it in the main thread (it clones the provider there); `read` may then run in any one thread at a
    time. A layer with pixels of its own keeps its grid. A web service has none: it gets one of
    `resolution` (units of `grid_crs` per pixel) in `grid_crs` (default: the layer's CRS) over `extent`
    (in `grid_crs`; default: the layer's extent, often the whole world), and QGIS renders it onto that grid.
    """

    def __init__(
        self,
        layer: QgsRasterLayer,
        resolution: float | None = None,
        grid_crs: QgsCoordinateReferenceSystem | None = None,
        extent: QgsRectangle | None = None,
    ) -> None:
        provider = layer.dataProvider()
        if provider is None or not layer.isValid():
            raise ValueError(f"the layer '{layer.name()}' is not valid")
        self._provider: QgsRasterDataProvider = provider.clone()
        self._lock = threading.Lock()
        self._projector: QgsRasterProjector | None = None
        self._name = layer.name()
        self._layer_crs = layer.crs()
        self._crs = layer.crs()
        self._extent = QgsRectangle(provider.extent())
        self._colour = provider.dataType(1) in COLOUR_TYPES
        if has_pixel_grid(layer):
            self._width, self._height = provider.xSize(), provider.ySize()
        elif resolution:
            if grid_crs is not None and grid_crs.isValid():
                self._crs = grid_crs
            if extent is not None:
                self._extent = QgsRectangle(extent)
            elif self._crs != self._layer_crs:
                raise ValueError(f"give the extent of the grid on which to read '{layer.name()}'")
            self._width = max(1, round(self._extent.width() / resolution))
            self._height = max(1, round(self._extent.height() / resolution))
        else:
            raise ValueError(f"the layer '{layer.name()}' has no pixel size; give a resolution")
        bands = range(1, provider.bandCount() + 1)
        if self._colour:
            self._dtypes = ("uint8",) * len(COLOUR_BANDS)
            self._nodata: tuple[float | None, ...] = (None,) * len(COLOUR_BANDS)
            self._descriptions: tuple[str | None, ...] = COLOUR_BANDS
        else:
            self._dtypes = tuple(NUMPY_TYPES.get(provider.dataType(b), "float32") for b in bands)
            self._nodata = tuple(
                provider.sourceNoDataValue(b)
                if provider.sourceHasNoDataValue(b) and provider.useSourceNoDataValue(b)
                else None
                for b in bands
            )
            self._descriptions = tuple(provider.generateBandName(b) for b in bands)

    def __repr__(self) -> str:
        return f"LayerSource('{self._name}')"

    @property
    def name(self) -> str:
        return self._name

    @property
    def crs(self) -> str:
        return self._crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED)

    @property
    def transform(self) -> Affine:
        e = self._extent
        return Affine(
            e.width() / self._width, 0.0, e.xMinimum(), 0.0, -e.height() / self._height, e.yMaximum()
        )

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def count(self) -> int:
        return len(self._dtypes)

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self._dtypes

    @property
    def nodata(self) -> tuple[float | None, ...]:
        return self._nodata

    @property
    def descriptions(self) -> tuple[str | None, ...]:
        return self._descriptions

    @property
    def value_ranges(self) -> tuple[tuple[float, float] | None, ...]:
        return (None,) * self.count

    def read(
        self,
        bands: Sequence[int],
        crs: str,
        bounds: Bounds,
        shape: tuple[int, int],
        resampling: str = "bilinear",
    ) -> np.ma.MaskedArray:
        """Bands resampled by QGIS onto the grid `shape` (rows, cols) covering `bounds` in `crs`:
        float32 len(bands) x rows x cols, masked where the layer has no data."""
        rows, cols = shape
        target = (
            QgsCoordinateReferenceSystem.fromWkt(crs) if "[" in crs else QgsCoordinateReferenceSystem(crs)
        )
        extent = QgsRectangle(*bounds)
        with self._lock:
            interface = self._interface(target)
            if self._colour:
                block = interface.block(1, extent, cols, rows)
                data, mask = _colour_bands(block, rows, cols)
                data = data[[b - 1 for b in bands]]
                mask = np.broadcast_to(mask, data.shape).copy()
            else:
                data = np.empty((len(bands), rows, cols), np.float32)
                mask = np.empty((len(bands), rows, cols), bool)
                for i, band in enumerate(bands):
                    block = interface.block(band, extent, cols, rows)
                    data[i], mask[i] = _numeric_band(block, rows, cols, self._nodata[band - 1])
        data[mask] = 0
        return np.ma.MaskedArray(data, mask)

    def _interface(self, target: QgsCoordinateReferenceSystem):
        """The provider itself, or a projector over it when the target CRS differs from the layer's."""
        if target == self._layer_crs:
            return self._provider
        projector = QgsRasterProjector()
        projector.setInput(self._provider)
        projector.setCrs(self._layer_crs, target, QgsCoordinateTransformContext())
        self._projector = projector  # the projector must outlive the blocks it hands out
        return projector

    def close(self) -> None:
        self._projector = None


def _block_array(block: QgsRasterBlock, dtype: str, rows: int, cols: int) -> np.ndarray:
    raw = bytes(block.data())
    return np.frombuffer(raw, dtype=dtype, count=rows * cols).reshape(rows, cols)


def _numeric_band(
    block: QgsRasterBlock, rows: int, cols: int, nodata: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """(values float32 rows x cols, mask) of one numeric band block."""
    dtype = NUMPY_TYPES.get(block.dataType())
    if dtype is None or not block.isValid():
        return np.zeros((rows, cols), np.float32), np.ones((rows, cols), bool)
    values = _block_array(block, dtype, rows, cols).astype(np.float32)
    mask = np.isnan(values)
    if nodata is not None:
        mask |= values == np.float32(nodata)
    if block.hasNoDataValue():
        mask |= values == np.float32(block.noDataValue())
    elif block.hasNoData():
        mask |= np.array([[block.isNoData(r, c) for c in range(cols)] for r in range(rows)], bool)
    return values, mask


def _colour_bands(block: QgsRasterBlock, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(R, G, B float32 3 x rows x cols, mask rows x cols where transparent) of an ARGB32 block."""
    if not block.isValid():
        return np.zeros((3, rows, cols), np.float32), np.ones((rows, cols), bool)
    argb = _block_array(block, "<u4", rows, cols)
    alpha = (argb >> 24) & 0xFF
    rgb = np.stack([(argb >> shift) & 0xFF for shift in (16, 8, 0)]).astype(np.float32)
    if block.dataType() == Qgis.DataType.ARGB32_Premultiplied:
        opaque = alpha > 0
        rgb[:, opaque] = np.clip(rgb[:, opaque] * 255.0 / alpha[opaque], 0, 255)
    return rgb, alpha == 0
