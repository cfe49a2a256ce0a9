"""QGIS layers as aerial sources: files go to the engine as paths, other providers are read through a
cloned provider; values must match the pixels of the real files."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsRasterLayer

from flair_qgis.adapters.sources import LayerSource, layer_file

from .rasters import CRS, GSD, ORIGIN, write_geotiff
from .tiles import tile_bounds, tile_of, write_tiles, xyz_layer


def _image(bands: int = 3, size: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(1, 255, size=(bands, size, size), dtype=np.uint8)


def test_file_layers_are_passed_as_paths_and_services_are_not(tmp_path):
    path = write_geotiff(tmp_path / "ortho.tif", _image())
    assert layer_file(QgsRasterLayer(str(path), "ortho")) == str(path)
    xyz = QgsRasterLayer("type=xyz&url=file:///nowhere/%7Bz%7D/%7Bx%7D/%7By%7D.png", "tiles", "wms")
    assert layer_file(xyz) is None


def test_layer_source_reads_the_file_pixels_on_the_same_grid(tmp_path):
    data = _image()
    path = write_geotiff(tmp_path / "ortho.tif", data, nodata=0)
    source = LayerSource(QgsRasterLayer(str(path), "ortho"))
    assert (source.count, source.width, source.height, source.dtypes) == (3, 20, 20, ("uint8",) * 3)
    t = source.transform
    assert (t.a, t.b, t.c, t.d, t.e, t.f) == pytest.approx((GSD, 0.0, ORIGIN[0], 0.0, -GSD, ORIGIN[1]))
    assert source.nodata == (0.0, 0.0, 0.0)

    # Rows 5..15 and columns 2..12 of bands 3 and 1, on the file's own grid.
    bounds = (ORIGIN[0] + 2 * GSD, ORIGIN[1] - 15 * GSD, ORIGIN[0] + 12 * GSD, ORIGIN[1] - 5 * GSD)
    values = source.read([3, 1], CRS, bounds, (10, 10), "nearest")

    assert values.dtype == np.float32
    np.testing.assert_array_equal(values.data, data[[2, 0], 5:15, 2:12].astype(np.float32))
    assert not values.mask.any()


def test_layer_source_masks_outside_the_layer_and_reprojects(tmp_path):
    data = _image(1, 40)
    path = write_geotiff(tmp_path / "elevation.tif", data)
    source = LayerSource(QgsRasterLayer(str(path), "elevation"))
    # Half of this window lies west of the raster.
    bounds = (ORIGIN[0] - 4 * GSD, ORIGIN[1] - 8 * GSD, ORIGIN[0] + 4 * GSD, ORIGIN[1])
    values = source.read([1], CRS, bounds, (8, 8), "nearest")
    assert values.mask[0, :, :4].all()
    assert not values.mask[0, :, 4:].any()
    np.testing.assert_array_equal(values.data[0, :, 4:], data[0, :8, :4])

    # The same place asked in Web Mercator: the projector resamples it; the values stay the raster's.
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsRectangle

    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem(CRS), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    inner = QgsRectangle(ORIGIN[0] + 2, ORIGIN[1] - 6, ORIGIN[0] + 6, ORIGIN[1] - 2)
    box = to_mercator.transformBoundingBox(inner)
    projected = source.read(
        [1], "EPSG:3857", (box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()), (6, 6), "nearest"
    )
    assert not projected.mask.any()
    assert set(np.unique(projected.data)) <= set(np.unique(data[0, 5:35, 5:35]))


def _scene_tile() -> tuple[int, int]:
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY, QgsProject

    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem(CRS), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    point = to_mercator.transform(QgsPointXY(*ORIGIN))
    return tile_of(point.x(), point.y())


def test_web_service_layer_is_read_through_its_provider(tmp_path):
    centre = _scene_tile()
    layer = xyz_layer(write_tiles(tmp_path / "tiles", centre, (120, 40, 90), radius=0))
    assert layer_file(layer) is None
    source = LayerSource(layer, resolution=0.5)
    assert (source.count, source.dtypes) == (3, ("uint8",) * 3)

    xmin, ymin, xmax, ymax = tile_bounds(*centre)
    inside = source.read([3, 1], "EPSG:3857", (xmin + 20, ymin + 20, xmax - 20, ymax - 20), (8, 8), "nearest")
    assert not inside.mask.any()
    assert set(inside.data[0].ravel()) == {90.0} and set(inside.data[1].ravel()) == {120.0}
    # The tile to the west does not exist: no data there.
    west = source.read([1], "EPSG:3857", (xmin - 60, ymin + 20, xmin - 20, ymax - 20), (4, 4), "nearest")
    assert west.mask.all()


def test_web_service_gets_a_grid_in_the_projects_crs_over_the_area(tmp_path):
    from qgis.core import QgsCoordinateReferenceSystem

    from flair_qgis.adapters.sources import layer_sources
    from flair_qgis.core.area import AreaOfInterest

    layer = xyz_layer(write_tiles(tmp_path / "tiles", _scene_tile(), (120, 40, 90)))
    area = AreaOfInterest.from_bounds((ORIGIN[0], ORIGIN[1] - 10, ORIGIN[0] + 10, ORIGIN[1]), CRS)
    with pytest.raises(ValueError, match="choose the area"):
        layer_sources({"w": layer}, GSD)

    source = layer_sources({"w": layer}, GSD, area, QgsCoordinateReferenceSystem(CRS))["w"]

    assert QgsCoordinateReferenceSystem.fromWkt(source.crs).authid() == CRS
    assert (source.width, source.height) == (50, 50)
    t = source.transform
    assert (t.a, t.c, t.e, t.f) == pytest.approx((GSD, ORIGIN[0], -GSD, ORIGIN[1]))
    values = source.read([1, 2, 3], CRS, (ORIGIN[0], ORIGIN[1] - 10, ORIGIN[0] + 10, ORIGIN[1]), (50, 50))
    assert not values.mask.any()
    np.testing.assert_allclose(values.data[:, 25, 25], [120, 40, 90], atol=1)
