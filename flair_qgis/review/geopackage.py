"""GeoPackage outputs written so that a failure leaves nothing behind: built under a hidden temporary name in
the target folder and renamed only when complete, with the layer's QGIS style stored inside as its default."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from osgeo import gdal, ogr, osr


class GeoPackageError(ValueError):
    """The GeoPackage cannot be written where asked: the message says why and what to do."""


def check_destination(path: str | Path) -> Path:
    """The output path as a Path, or GeoPackageError when it is not a .gpkg file in an existing folder."""
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise GeoPackageError(f"The output {path} is not a GeoPackage: give a file name ending in .gpkg.")
    if not path.parent.is_dir():
        raise GeoPackageError(f"The output folder {path.parent} does not exist: create it or choose another.")
    if path.is_dir():
        raise GeoPackageError(f"The output {path} is a folder: choose a file name ending in .gpkg.")
    return path


class GeoPackageWriter:
    """One new GeoPackage at `path`, written under a temporary name; `commit()` renames it into place
    (replacing a file the user chose to overwrite), leaving the block without it removes the temporary file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = check_destination(path)
        self.temp = self.path.with_name(f".{self.path.stem}.partial-{secrets.token_hex(4)}.gpkg")
        driver = ogr.GetDriverByName("GPKG")
        self.dataset = driver.CreateDataSource(str(self.temp))
        if self.dataset is None:
            raise GeoPackageError(
                f"Cannot create a GeoPackage in {self.path.parent}: {gdal.GetLastErrorMsg()}. "
                "Choose a folder you can write to."
            )
        self.committed = False

    def __enter__(self) -> GeoPackageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()

    def create_layer(
        self, name: str, crs_wkt: str, geometry: int, fields: list[tuple[str, int]]
    ) -> ogr.Layer:
        """A new layer with `fields` (name, ogr.OFT*) and an R-tree spatial index."""
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        layer = self.dataset.CreateLayer(name, srs, geometry, ["SPATIAL_INDEX=YES", "FID=fid"])
        for field_name, kind in fields:
            layer.CreateField(ogr.FieldDefn(field_name, kind))
        return layer

    def store_default_style(self, layer_name: str, geometry_column: str, qml: str, style_name: str) -> None:
        """Store `qml` in the layer_styles table QGIS reads, as `layer_name`'s default style."""
        styles = self.dataset.GetLayerByName("layer_styles")
        if styles is None:
            styles = self.dataset.CreateLayer("layer_styles", None, ogr.wkbNone, ["FID=id"])
            for field_name, kind in (
                ("f_table_catalog", ogr.OFTString),
                ("f_table_schema", ogr.OFTString),
                ("f_table_name", ogr.OFTString),
                ("f_geometry_column", ogr.OFTString),
                ("styleName", ogr.OFTString),
                ("styleQML", ogr.OFTString),
                ("styleSLD", ogr.OFTString),
                ("useAsDefault", ogr.OFTInteger),
                ("description", ogr.OFTString),
                ("owner", ogr.OFTString),
                ("ui", ogr.OFTString),
                ("update_time", ogr.OFTDateTime),
            ):
                field = ogr.FieldDefn(field_name, kind)
                if field_name == "useAsDefault":
                    field.SetSubType(ogr.OFSTBoolean)
                styles.CreateField(field)
        feature = ogr.Feature(styles.GetLayerDefn())
        feature["f_table_catalog"] = ""
        feature["f_table_schema"] = ""
        feature["f_table_name"] = layer_name
        feature["f_geometry_column"] = geometry_column
        feature["styleName"] = style_name
        feature["styleQML"] = qml
        feature["useAsDefault"] = 1
        feature["description"] = style_name
        feature["owner"] = ""
        styles.CreateFeature(feature)

    def commit(self) -> Path:
        """Close the GeoPackage and rename it to its path; returns the path."""
        self.dataset.FlushCache()
        self.dataset = None
        try:
            os.replace(self.temp, self.path)
        except OSError as exc:
            self.abort()
            raise GeoPackageError(f"Cannot write {self.path}: {exc.strerror or exc}.") from exc
        self.committed = True
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary GeoPackage; the output path is left as it was."""
        self.dataset = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(str(self.temp) + suffix).unlink()


@contextlib.contextmanager
def temporary_raster_path(folder: Path, stem: str):
    """A hidden temporary GeoTIFF path in `folder`, deleted (with its side files) on leaving."""
    path = folder / f".{stem}.partial-{secrets.token_hex(4)}.tif"
    try:
        yield path
    finally:
        for suffix in ("", ".aux.xml", ".msk"):
            with contextlib.suppress(OSError):
                Path(str(path) + suffix).unlink()


def create_work_raster(path: Path, like: gdal.Dataset, data_type: int, nodata: float | None) -> gdal.Dataset:
    """A tiled, compressed one-band GeoTIFF on the grid of `like`, for intermediate results."""
    driver = gdal.GetDriverByName("GTiff")
    options = ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]
    dataset = driver.Create(str(path), like.RasterXSize, like.RasterYSize, 1, data_type, options)
    if dataset is None:
        raise GeoPackageError(f"Cannot create a work file in {path.parent}: {gdal.GetLastErrorMsg()}.")
    dataset.SetGeoTransform(like.GetGeoTransform())
    dataset.SetProjection(like.GetProjection())
    if nodata is not None:
        dataset.GetRasterBand(1).SetNoDataValue(nodata)
    return dataset
