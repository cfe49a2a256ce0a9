"""Per-date GeoTIFF stacks are warped in one pass for all their bands (sentinel2/warp.read_layout), and
give exactly what warping band by band gives: every band masked by its own nodata, the masks by nearest
neighbour, a UTM stack reprojected onto a Lambert-93 grid."""

from __future__ import annotations

import numpy as np
import rasterio

from flair_qgis.core.sentinel2 import warp
from flair_qgis.core.sentinel2.layout import MaskSource, ProductBand, ProductLayout
from flair_qgis.core.sentinel2.stacks import per_date_layout
from flair_qgis.core.sentinel2.warp import grid_for_bounds, read_band, read_layout, read_mask
from tests.data.sentinel2.generate import grid_transform, write_geotiff_date, write_raster

UTM = "EPSG:32631"
#: A 1.2 km square of tile 31TCJ at 10 m, and a 300 m area inside it in Lambert-93 (as in test_masks).
PRODUCT = (360000.0, 4830000.0, 361200.0, 4831200.0)
AREA = (560350.0, 6280950.0, 560650.0, 6281250.0)


def band_by_band(layout: ProductLayout, grid) -> tuple[np.ndarray, np.ndarray]:
    data = np.stack([read_band(band, grid) for band in layout.bands])
    masks = np.stack([read_mask(m, grid) if m is not None else np.zeros(data.shape[1:], np.uint8)
                      for m in layout.masks])  # fmt: skip
    return data, masks


def counted_warps(monkeypatch) -> list[int]:
    """The number of warped rasters read_layout opens (the real warp runs; it is only counted)."""
    opened: list[int] = []
    real = warp._warped

    def counting(*args, **kwargs):
        opened.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(warp, "_warped", counting)
    return opened


def test_a_float_stack_with_holes_reads_as_band_by_band_in_two_warps(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    data = (1000 + 3000 * rng.random((10, 120, 120))).astype(np.float32)
    data[2, 10:40, 10:40] = np.nan  # a hole in one band only: the others keep their values there
    data[7, 60:, :30] = np.nan
    data[:, 100:, 100:] = np.nan  # and one in all of them
    masks = rng.integers(0, 101, (2, 120, 120)).astype(np.uint8)
    path = write_geotiff_date(tmp_path / "S2_2021-04-03.tif", UTM, PRODUCT, data, masks)
    layout = per_date_layout(path, None, tmp_path / "S2_2021-04-03_masks.tif")
    grid = grid_for_bounds("EPSG:2154", AREA, 10.0, 200.0)
    expected = band_by_band(layout, grid)
    opened = counted_warps(monkeypatch)
    got = read_layout(layout, grid)
    assert len(opened) == 2  # the ten bands in one warp, the two masks in another
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert (got[1] > 0).any()
    # the hole of band 2 is a hole in band 2 alone
    assert np.isnan(got[0][2]).sum() > np.isnan(got[0][3]).sum()


def test_each_band_of_a_stack_is_masked_by_its_own_nodata(tmp_path):
    """Bands of one integer file missing in different places (DN 0 in the first five, 65535 in the
    others): no missing DN is ever averaged into a reflectance, grouped or band by band."""
    rng = np.random.default_rng(4)
    values = rng.integers(1000, 4000, (10, 120, 120)).astype(np.uint16)
    values[:5, :60, :60] = 0
    values[5:, 60:, 60:] = 65535
    path = tmp_path / "stack.tif"
    write_raster(path, values, UTM, grid_transform(PRODUCT, 10.0))
    bands = tuple(
        ProductBand(path.as_posix(), b + 1, 0.0 if b < 5 else 65535.0, offset=-500.0 if b == 3 else 0.0)
        for b in range(10)
    )
    layout = ProductLayout(bands, None, MaskSource(path.as_posix(), 1))
    grid = grid_for_bounds("EPSG:2154", AREA, 10.0, 200.0)
    got, expected = read_layout(layout, grid), band_by_band(layout, grid)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    for band in range(10):
        valid = got[0][band][~np.isnan(got[0][band])]
        low = 500 if band == 3 else 1000
        assert valid.size > 0 and valid.min() >= low - 1e-3 and valid.max() <= low + 3000
    assert np.isnan(got[0][0]).any() and np.isnan(got[0][9]).any()
    assert not np.array_equal(np.isnan(got[0][0]), np.isnan(got[0][9]))
    with rasterio.open(path) as src:
        assert src.count == 10 and src.nodata is None  # the nodata values are the layout's
