"""Cloud masks and saturated pixels read from real SAFE and Theia products: one cloud-shadow rule for both
readers, and saturation treated as nodata, never averaged in as reflectance."""

from __future__ import annotations

import numpy as np
from rasterio.warp import transform as transform_points

from flair_qgis.core.bundle_spec import flair2_sentinel2_input
from flair_qgis.core.sentinel2 import BANDS, load_series
from tests.data.sentinel2.generate import write_safe_product, write_theia_product

UTM = "EPSG:32631"
L93 = "EPSG:2154"
#: A 1.2 km square of tile 31TCJ and a 300 m area inside it in Lambert-93 (as in test_products).
PRODUCT = (360000.0, 4830000.0, 361200.0, 4831200.0)
AREA = (560350.0, 6280950.0, 560650.0, 6281250.0)
SPEC = flair2_sentinel2_input()
#: The scene: four bands of 300 m from west to east, cloud, cloud shadow, high cloud (cirrus), clear.
CLOUD, SHADOW, CIRRUS, CLEAR = range(4)


def zone(x: np.ndarray) -> np.ndarray:
    return np.clip(((x - PRODUCT[0]) // 300).astype(int), 0, 3)


def constant(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.full(x.shape, 1000.0 + 10 * BANDS.index(band))


def scl(x, y):
    """Sen2Cor's scene classification: 9 cloud high probability, 3 cloud shadow, 10 thin cirrus, 4 vegetation."""
    return np.choose(zone(x), [9, 3, 10, 4])


def cloud_probability(x, y):
    """Sen2Cor's cloud probability flags clouds and cirrus, not shadows."""
    return np.choose(zone(x), [100, 0, 100, 0])


def clm(x, y):
    """MAJA's cloud mask as it codes each zone: bits 0+1+2 a cloud, 0+5 its shadow, 7 a high cloud."""
    return np.choose(zone(x), [0b0000_0111, 0b0010_0001, 0b1000_0000, 0])


def cloud_mask(folder) -> np.ndarray:
    series = load_series(folder, L93, AREA, SPEC)
    assert len(series.dates) == 1
    return series.masks[0, 1]


def test_the_same_scene_as_safe_and_as_theia_gets_the_same_cloud_mask(tmp_path):
    write_safe_product(
        tmp_path / "prob", "20210601", "31TCJ", UTM, PRODUCT, constant, cloud_fn=cloud_probability
    )
    write_safe_product(
        tmp_path / "scl", "20210601", "31TCJ", UTM, PRODUCT, constant, scl_fn=scl, probability_masks=False
    )
    write_theia_product(tmp_path / "theia", "20210601", "31TCJ", UTM, PRODUCT, constant, cloud_bits_fn=clm)
    probability, classification, theia = (cloud_mask(tmp_path / name) for name in ("prob", "scl", "theia"))
    np.testing.assert_array_equal(classification, probability)
    np.testing.assert_array_equal(theia, probability)
    # Where each grid pixel falls in the scene: shadows and clear ground are not cloud, clouds are.
    series = load_series(tmp_path / "theia", L93, AREA, SPEC)
    g = series.grid
    xs, ys = np.meshgrid(g.xmin + (np.arange(g.width) + 0.5) * 10, g.ymax - (np.arange(g.height) + 0.5) * 10)
    ux, _ = transform_points(L93, UTM, xs.ravel(), ys.ravel())
    ux = np.reshape(ux, xs.shape)
    inner = np.abs((ux - PRODUCT[0] + 150) % 300 - 150) > 20  # pixels clear of the zones' edges
    zones = zone(ux)
    assert {int(z) for z in np.unique(zones[inner])} == {CLOUD, SHADOW, CIRRUS, CLEAR}
    for value, expected in ((CLOUD, 100), (SHADOW, 0), (CIRRUS, 100), (CLEAR, 0)):
        assert (theia[inner & (zones == value)] == expected).all(), value
