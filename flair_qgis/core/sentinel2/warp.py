"""The 10 m grid in the aerial CRS that a Sentinel-2 series is put on, and the windowed reprojection.

Bands are warped straight from their files by GDAL, which reads only the source blocks the grid needs:
a 110 km tile is never loaded for a 1 km area.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.io
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from ..geometry import Bounds, parse_crs, raster_bounds
from .layout import MaskSource, ProductBand, ProductLayout

#: The resampling kernel's scale, fixed (GDAL's XSCALE and YSCALE warp options): bilinear on the source
#: pixels as they are. Left to GDAL, the scale is derived from the warp's transformation, and how differs
#: between GDAL versions: a UTM band's 10 m pixels warped onto a Lambert-93 10 m grid (a rotation of about
#: a degree) were plain bilinear on GDAL 3.6 but a widened, smoothing kernel on GDAL 3.10, up to 26
#: reflectance units apart on every 10 m pixel (tests/test_one_gdal.py). The grid is never coarser on the
#: ground than the bands (10 and 20 m onto spec.gsd, 10 m on the ground: load.on_ground), so there is no
#: downsampling for a widened kernel to smooth.
KERNEL_SCALE = {"XSCALE": "1", "YSCALE": "1"}


@dataclass(frozen=True)
class Sentinel2Grid:
    """The grid a Sentinel-2 series is warped onto: north-up, in the aerial CRS, `width` x `height`
    pixels of `gsd` metres from (`xmin`, `ymax`)."""

    crs: CRS
    xmin: float
    ymax: float
    gsd: float
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        return Affine(self.gsd, 0.0, self.xmin, 0.0, -self.gsd, self.ymax)

    @property
    def bounds(self) -> Bounds:
        return raster_bounds(self.transform, self.width, self.height)

    def pixel_slices(self, bounds: tuple[float, float, float, float]) -> tuple[slice, slice]:
        """Rows and columns of the grid's pixels whose centres lie inside `bounds`."""
        xmin, ymin, xmax, ymax = bounds
        c0 = max(0, math.ceil((xmin - self.xmin) / self.gsd - 0.5))
        c1 = min(self.width, math.floor((xmax - self.xmin) / self.gsd - 0.5) + 1)
        r0 = max(0, math.ceil((self.ymax - ymax) / self.gsd - 0.5))
        r1 = min(self.height, math.floor((self.ymax - ymin) / self.gsd - 0.5) + 1)
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def grid_for_bounds(
    crs: str | CRS, bounds: tuple[float, float, float, float], gsd: float, margin: float
) -> Sentinel2Grid:
    """The grid covering `bounds` plus `margin` on every side, its edges snapped to multiples of `gsd`."""
    xmin, ymin, xmax, ymax = bounds
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"Empty bounds {bounds}")
    x0 = math.floor((xmin - margin) / gsd) * gsd
    y0 = math.floor((ymin - margin) / gsd) * gsd
    x1 = math.ceil((xmax + margin) / gsd) * gsd
    y1 = math.ceil((ymax + margin) / gsd) * gsd
    crs = crs if isinstance(crs, CRS) else parse_crs(crs)
    return Sentinel2Grid(crs, x0, y1, gsd, round((x1 - x0) / gsd), round((y1 - y0) / gsd))


def overlaps(grid: Sentinel2Grid, crs: CRS, bounds: tuple[float, float, float, float]) -> bool:
    """Whether a raster with `bounds` in `crs` overlaps the grid."""
    try:
        xmin, ymin, xmax, ymax = transform_bounds(grid.crs, crs, *grid.bounds, densify_pts=21)
    except Exception:  # a CRS pair GDAL cannot transform: let the warp decide
        return True
    return xmin < bounds[2] and xmax > bounds[0] and ymin < bounds[3] and ymax > bounds[1]


def _warped(
    src: rasterio.io.DatasetReader, grid: Sentinel2Grid, resampling: Resampling, **options: object
) -> WarpedVRT:
    # WarpedVRT rather than rasterio.warp.reproject: reproject does arithmetic on Affine objects, which
    # fails with some affine/attrs pairs found in QGIS installations (affine 3 with attrs 22).
    # src_alpha=-1: no band is an alpha band. GDAL writes any 4-band 8-bit GeoTIFF as RGBA, and a mask
    # stack of two dates is one; left to auto-detection, its last band would mask the others.
    return WarpedVRT(
        src,
        crs=grid.crs,
        transform=grid.transform,
        width=grid.width,
        height=grid.height,
        resampling=resampling,
        src_alpha=-1,
        **KERNEL_SCALE,
        **options,
    )


def read_band(
    source: ProductBand, grid: Sentinel2Grid, resampling: Resampling = Resampling.bilinear
) -> np.ndarray:
    """One band warped onto the grid: H x W float32 reflectance x 10000, NaN where missing or saturated.

    Saturated pixels never reach the resampling: pixels of the saturated value are made nodata before
    the warp, and wherever a pixel flagged by the saturation mask weighs in a grid pixel (the mask's flags
    warped with the band's resampling), that grid pixel is NaN."""
    with rasterio.open(source.path) as src:
        nodata = source.nodata if source.nodata is not None else src.nodatavals[source.band - 1]
        if source.saturated is None:
            out = _warp_band(src, source.band, grid, resampling, nodata)
        else:
            nodata = source.saturated if nodata is None else nodata
            options = f"<NODATA>{float(source.saturated)!r}</NODATA>"
            with _opened_vrt(_one_band_vrt(src, source.band, nodata, options)) as masked:
                out = _warp_band(masked, 1, grid, resampling, nodata)
    if source.saturation is not None:
        out[_flagged_weight(source.saturation, grid, resampling) > 0] = np.nan
    return source.to_reflectance(out)


#: Every band is masked by its own nodata pixels (GDAL's UNIFIED_SRC_NODATA=NO). GDAL's default for a
#: multi-band file counts a pixel as missing only where every band is: a DN of 0 missing in one band of
#: a stack was then averaged in as a reflectance of 0 by the bilinear kernel.
OWN_NODATA = {"UNIFIED_SRC_NODATA": "NO"}


def _warp_band(
    src: rasterio.io.DatasetReader,
    band: int,
    grid: Sentinel2Grid,
    resampling: Resampling,
    nodata: float | None,
) -> np.ndarray:
    return _warp_bands(src, [band], grid, resampling, nodata)[0]


def _warp_bands(
    src: rasterio.io.DatasetReader,
    bands: Sequence[int],
    grid: Sentinel2Grid,
    resampling: Resampling,
    nodata: float | None,
) -> np.ndarray:
    """Bands `bands` of `src` warped in one pass: len(bands) x H x W float32, NaN where missing, each
    band masked by its own `nodata` pixels only."""
    with _warped(
        src, grid, resampling, src_nodata=nodata, nodata=np.nan, dtype="float32", **OWN_NODATA
    ) as vrt:
        return vrt.read(list(bands))


def _flagged_weight(mask: MaskSource, grid: Sentinel2Grid, resampling: Resampling) -> np.ndarray:
    """H x W: the weight that pixels flagged by `mask` have in each grid pixel resampled with
    `resampling` (0 = none). An 8-bit mask is turned into 0/1 by a lookup table and warped like a band;
    another is read with nearest neighbour (1 where flagged)."""
    with rasterio.open(mask.path) as src:
        if src.dtypes[mask.band - 1] != "uint8":
            return (read_mask(mask, grid) > 0).astype(np.float32)
        flags = mask.to_probability(np.arange(256)) > 0
        table = ",".join(f"{value}:{int(flag)}" for value, flag in enumerate(flags))
        with _opened_vrt(_one_band_vrt(src, mask.band, None, f"<LUT>{table}</LUT>", "Byte")) as indicator:
            weight = _warp_band(indicator, 1, grid, resampling, None)
    return np.nan_to_num(weight, nan=0.0)


@contextmanager
def _opened_vrt(xml: str) -> Iterator[rasterio.io.DatasetReader]:
    """The VRT `xml` opened from memory (an in-memory file, so that no character of a source path is
    ever parsed as a URL's query or fragment)."""
    with MemoryFile(xml.encode("utf-8"), ext=".vrt") as memory, memory.open() as dataset:
        yield dataset


#: GDAL's names of the data types a band may have.
_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


def _one_band_vrt(
    src: rasterio.io.DatasetReader, band: int, nodata: float | None, options: str, data_type: str = ""
) -> str:
    """The XML of a VRT holding band `band` of `src` through a ComplexSource with `options` (a <NODATA>:
    pixels of that value are not copied and keep the VRT band's `nodata`; a <LUT>: values are mapped)."""
    t = src.transform
    data_type = data_type or _GDAL_TYPES[src.dtypes[band - 1]]
    nodata_xml = "" if nodata is None else f"<NoDataValue>{float(nodata)!r}</NoDataValue>"
    return (
        f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">'
        f"<SRS>{escape(src.crs.to_wkt()) if src.crs else ''}</SRS>"
        f"<GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>"
        f'<VRTRasterBand dataType="{data_type}" band="1">{nodata_xml}<ComplexSource>'
        f'<SourceFilename relativeToVRT="0">{escape(src.name)}</SourceFilename>'
        f"<SourceBand>{band}</SourceBand>{options}</ComplexSource></VRTRasterBand></VRTDataset>"
    )


def read_mask(source: MaskSource, grid: Sentinel2Grid) -> np.ndarray:
    """A snow or cloud layer on the grid: H x W uint8 probabilities 0..100 (nearest neighbour)."""
    with (
        rasterio.open(source.path) as src,
        _warped(src, grid, Resampling.nearest, src_nodata=None, nodata=0) as vrt,
    ):
        out = vrt.read(source.band)
    return source.to_probability(out)


def read_layout(layout: ProductLayout, grid: Sentinel2Grid) -> tuple[np.ndarray, np.ndarray]:
    """An acquisition on the grid: data 10 x H x W float32 (NaN = missing), masks 2 x H x W uint8.

    Bands of one file (a per-date GeoTIFF stack) are warped in one pass: one band alone took about as
    long as the ten together (12 stacks of 10 bands: about 5x less time in all). Each
    band is masked by its own nodata in both (OWN_NODATA), so the values are those of a band-by-band
    warp. Bands with saturation handling go through read_band one by one."""
    data = np.empty((len(layout.bands), grid.height, grid.width), dtype=np.float32)
    plain = [i for i, b in enumerate(layout.bands) if b.saturated is None and b.saturation is None]
    for positions in _by_file(layout.bands, plain):
        with rasterio.open(layout.bands[positions[0]].path) as src:
            for nodata, same in _by_nodata(src, layout.bands, positions):
                bands = [layout.bands[i].band for i in same]
                warped = _warp_bands(src, bands, grid, Resampling.bilinear, nodata)
                for position, values in zip(same, warped, strict=True):
                    data[position] = layout.bands[position].to_reflectance(values)
    for position, band in enumerate(layout.bands):
        if position not in plain:
            data[position] = read_band(band, grid)
    masks = np.zeros((2, grid.height, grid.width), dtype=np.uint8)
    sources = layout.masks
    for positions in _by_file(sources, [i for i, m in enumerate(sources) if m is not None]):
        with (
            rasterio.open(sources[positions[0]].path) as src,
            _warped(src, grid, Resampling.nearest, src_nodata=None, nodata=0) as vrt,
        ):
            layers = vrt.read([sources[i].band for i in positions])
        for position, layer in zip(positions, layers, strict=True):
            masks[position] = sources[position].to_probability(layer)
    return data, masks


def _by_file(items: Sequence, positions: Sequence[int]) -> list[list[int]]:
    """`positions` of `items` (bands or masks) gathered by the file they are in, in order."""
    groups: dict[str, list[int]] = {}
    for position in positions:
        groups.setdefault(items[position].path, []).append(position)
    return list(groups.values())


def _by_nodata(
    src: rasterio.io.DatasetReader, bands: Sequence[ProductBand], positions: Sequence[int]
) -> list[tuple[float | None, list[int]]]:
    """`positions` of `bands` (all in `src`) by the nodata each is read with: its own, else the file's
    for that band (NaN values are one group)."""
    groups: dict[object, tuple[float | None, list[int]]] = {}
    for position in positions:
        band = bands[position]
        nodata = band.nodata if band.nodata is not None else src.nodatavals[band.band - 1]
        key = "nan" if nodata is not None and math.isnan(nodata) else nodata
        groups.setdefault(key, (nodata, []))[1].append(position)
    return list(groups.values())


def paste_first_valid(
    data: np.ndarray, masks: np.ndarray, new_data: np.ndarray, new_masks: np.ndarray
) -> int:
    """Mosaic: copy into `data`/`masks` (10 x H x W, 2 x H x W) the pixels of the new acquisition
    where the mosaic has no value yet; returns how many pixels it filled."""
    take = np.isnan(data).all(axis=0) & ~np.isnan(new_data).all(axis=0)
    data[:, take] = new_data[:, take]
    masks[:, take] = new_masks[:, take]
    return int(take.sum())
