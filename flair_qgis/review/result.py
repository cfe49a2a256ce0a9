"""A FLAIR result read back from disk with QGIS's GDAL: the class raster's grid and nomenclature (its band
tags, category names and colour table), and the checks that a confidence or probabilities raster matches it.
Qt-free: used by the review algorithms whatever loaded the result."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from osgeo import gdal, osr

from ..core.errors import InputError
from ..core.geodesy import SCALE_TOLERANCE, scale_from_segments
from ..core.nomenclature import CLASS_NODATA, Nomenclature, named_classes, nomenclature_of_raster

__all__ = ["CLASS_NODATA", "ClassResult", "RasterGrid", "ResultError", "read_class_result"]


class ResultError(InputError):
    """A file is not the FLAIR result it should be: the message names the file and what to do."""


@dataclass(frozen=True)
class RasterGrid:
    """Where a raster's pixels lie: size, geotransform and CRS (WKT)."""

    width: int
    height: int
    geotransform: tuple[float, ...]
    crs_wkt: str

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in the CRS's square units."""
        a, b, _, d, e = (self.geotransform[i] for i in (1, 2, 3, 4, 5))
        return abs(a * e - b * d)

    def metres_per_unit(self) -> float:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(self.crs_wkt)
        return float(srs.GetLinearUnits() or 1.0)

    def ground_scale(self) -> float:
        """The projection's scale factor at the map's centre, as the engine measures it (1.0 when within
        core.geodesy.SCALE_TOLERANCE of 1, as for Lambert-93 and UTM): CRS distances over ground ones."""
        x0, dx, _, y0, _, dy = self.geotransform
        x, y = x0 + dx * self.width / 2, y0 + dy * self.height / 2
        source, target = osr.SpatialReference(), osr.SpatialReference()
        if source.ImportFromWkt(self.crs_wkt) != 0 or not source.IsProjected():
            return 1.0
        target.ImportFromEPSG(4326)
        for srs in (source, target):
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        step = 10.0
        points = [(x - step, y), (x + step, y), (x, y - step), (x, y + step)]
        try:
            placed = osr.CoordinateTransformation(source, target).TransformPoints(points)
        except RuntimeError:
            return 1.0
        lons, lats = [p[0] for p in placed], [p[1] for p in placed]
        if not all(math.isfinite(v) for v in (*lons, *lats)):
            return 1.0
        scale = scale_from_segments(lons, lats, 2 * step * self.metres_per_unit())
        return scale if abs(scale - 1) > SCALE_TOLERANCE else 1.0

    @property
    def area_factor(self) -> float:
        """Square metres on the ground per square CRS unit (the CRS's unit and the projection's scale)."""
        return (self.metres_per_unit() / self.ground_scale()) ** 2

    @property
    def pixel_area_m2(self) -> float:
        """Ground area of one pixel, in square metres (what the run's statistics count)."""
        return self.pixel_area * self.area_factor

    def same_as(self, other: RasterGrid) -> bool:
        if (self.width, self.height) != (other.width, other.height):
            return False
        tolerance = 1e-6 * max(abs(self.geotransform[1]), 1e-12)
        if any(abs(p - q) > tolerance for p, q in zip(self.geotransform, other.geotransform, strict=True)):
            return False
        mine, theirs = osr.SpatialReference(), osr.SpatialReference()
        mine.ImportFromWkt(self.crs_wkt)
        theirs.ImportFromWkt(other.crs_wkt)
        return bool(mine.IsSame(theirs))


@dataclass(frozen=True)
class ClassResult:
    """A FLAIR class raster: its path, grid and nomenclature."""

    path: Path
    grid: RasterGrid
    nomenclature: Nomenclature


def open_raster(path: str | Path, what: str) -> gdal.Dataset:
    """Open a raster read-only, or ResultError naming `what` and the file."""
    if not path or not Path(path).is_file():
        raise ResultError(f"The {what} {path} does not exist or is not a file.")
    dataset = gdal.OpenEx(str(path), gdal.OF_RASTER | gdal.OF_READONLY)
    if dataset is None:
        raise ResultError(f"The {what} {path} is not a raster GDAL can read.")
    return dataset


def raster_grid(dataset: gdal.Dataset) -> RasterGrid:
    return RasterGrid(
        dataset.RasterXSize,
        dataset.RasterYSize,
        tuple(dataset.GetGeoTransform(can_return_null=False)),
        dataset.GetProjection() or "",
    )


def read_class_result(path: str | Path) -> ClassResult:
    """The grid and nomenclature of a FLAIR class raster, or ResultError when it is not one: not one
    byte band, no class names, or no projected CRS in metres."""
    dataset = open_raster(path, "class raster")
    if dataset.RasterCount != 1 or dataset.GetRasterBand(1).DataType != gdal.GDT_Byte:
        types = {dataset.GetRasterBand(i + 1).DataType for i in range(dataset.RasterCount)}
        names = ", ".join(sorted(gdal.GetDataTypeName(t) for t in types))
        raise ResultError(
            f"{path} is not a FLAIR class raster: it has {dataset.RasterCount} band(s) of {names}, "
            "a class raster has one band of 8-bit class codes (Byte). Choose the land-cover map "
            "written by the FLAIR algorithm (not its confidence or probabilities)."
        )
    nomenclature = read_nomenclature(dataset, path)
    grid = raster_grid(dataset)
    srs = osr.SpatialReference()
    if not grid.crs_wkt or srs.ImportFromWkt(grid.crs_wkt) != 0 or not srs.IsProjected():
        raise ResultError(
            f"{path} has no projected coordinate system: areas in square metres cannot be measured. "
            "Use a result written by the FLAIR algorithm (it keeps the aerial image's CRS)."
        )
    return ClassResult(Path(path), grid, nomenclature)


def read_nomenclature(dataset: gdal.Dataset, path: str | Path = "") -> Nomenclature:
    """The classes of a FLAIR class raster (core.nomenclature.nomenclature_of_raster reads them the same
    way for the inspect tool), or ResultError when the raster names no class."""
    band = dataset.GetRasterBand(1)
    named = named_classes(band.GetMetadata() or {}, band.GetCategoryNames() or [])
    if not named:
        raise ResultError(
            f"{path} is not a FLAIR result: its band names no class (no CLASS_<code> tags, no category "
            "names). Choose a land-cover map written by the FLAIR algorithm, with its .aux.xml beside it."
        )
    table = band.GetColorTable()
    colours = {}
    if table is not None:
        for code in named:
            if code < table.GetCount():
                r, g, b = table.GetColorEntry(code)[:3]
                colours[code] = f"#{r:02x}{g:02x}{b:02x}"
    return nomenclature_of_raster(
        dataset.GetMetadataItem("NOMENCLATURE") or "", named, colours, Path(str(path)).stem
    )


def check_same_grid(result: ClassResult, dataset: gdal.Dataset, what: str, path: str | Path) -> None:
    """ResultError unless `dataset` lies on the class raster's pixel grid."""
    grid = raster_grid(dataset)
    if not result.grid.same_as(grid):
        raise ResultError(
            f"The {what} {path} is not on the class raster's grid ({grid.width} x {grid.height} px, "
            f"origin {grid.geotransform[0]:.2f}, {grid.geotransform[3]:.2f}, pixel {grid.geotransform[1]:g}; "
            f"the class raster is {result.grid.width} x {result.grid.height} px, origin "
            f"{result.grid.geotransform[0]:.2f}, {result.grid.geotransform[3]:.2f}, pixel "
            f"{result.grid.geotransform[1]:g}). Choose the {what} written with the same map."
        )


def open_confidence(result: ClassResult, path: str | Path) -> gdal.Dataset:
    """The confidence raster of `result` (one band on its grid), or ResultError."""
    dataset = open_raster(path, "confidence raster")
    if dataset.RasterCount != 1:
        raise ResultError(
            f"{path} is not a confidence raster: it has {dataset.RasterCount} bands, a confidence raster "
            "has one. Choose the .confidence.tif written with the map."
        )
    check_same_grid(result, dataset, "confidence raster", path)
    return dataset


def confidence_scaling(band: gdal.Band) -> tuple[float, float, float | None]:
    """(scale, offset, nodata) that turn a confidence band's values into probabilities 0..1: the band's
    GDAL scale when it has one (FLAIR writes percent with scale 0.01), else 0.01 for integer bands
    (percent) and 1 for floating-point bands."""
    scale = band.GetScale()
    offset = band.GetOffset() or 0.0
    floating = band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64)
    if scale is None or (scale == 1.0 and not floating):
        scale = 1.0 if floating else 0.01
    return float(scale), float(offset), band.GetNoDataValue()


def open_probabilities(result: ClassResult, path: str | Path) -> tuple[gdal.Dataset, list[int]]:
    """The probabilities raster of `result` and the class code of each band (band tag CODE, else the
    nomenclature's order), or ResultError."""
    dataset = open_raster(path, "probabilities raster")
    check_same_grid(result, dataset, "probabilities raster", path)
    codes = []
    for index in range(dataset.RasterCount):
        tag = dataset.GetRasterBand(index + 1).GetMetadataItem("CODE")
        codes.append(int(tag) if tag and tag.isdigit() else None)
    if None in codes:
        if dataset.RasterCount != len(result.nomenclature.classes):
            raise ResultError(
                f"{path} has {dataset.RasterCount} bands and no class codes, the class raster has "
                f"{len(result.nomenclature.classes)} classes. Choose the .probabilities.tif of the same map."
            )
        codes = list(result.nomenclature.codes)
    return dataset, codes


def pixels_for_area(result: ClassResult, area_m2: float, what: str) -> int:
    """The number of pixels an area in m² stands for (rounded up), or ResultError for a negative area
    or a positive one smaller than one pixel. 0 stays 0."""
    pixel = result.grid.pixel_area_m2
    if area_m2 < 0 or math.isnan(area_m2):
        raise ResultError(f"The {what} must be 0 or more square metres, got {area_m2:g}.")
    if area_m2 == 0:
        return 0
    if area_m2 < pixel * (1 - 1e-9):
        raise ResultError(
            f"The {what} ({area_m2:g} m²) is smaller than one pixel of the map ({pixel:g} m²): "
            f"give 0 to keep every region, or {pixel:g} m² or more."
        )
    return max(1, math.ceil(area_m2 / pixel - 1e-9))
