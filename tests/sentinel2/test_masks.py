"""Cloud masks and saturated pixels read from real SAFE and Theia products: one cloud-shadow rule for both
readers, and saturation treated as nodata, never averaged in as reflectance."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.warp import transform as transform_points

from flair_qgis.core.bundle_spec import flair2_sentinel2_input
from flair_qgis.core.sentinel2 import BANDS, load_series, prepare_window
from tests.data.sentinel2.generate import write_geotiff_date, write_safe_product, write_theia_product

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


def constant_level(level: float):
    return lambda band, x, y: np.full(x.shape, level + 10 * BANDS.index(band))


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


#: A 100 m square of saturated pixels (UTM), under the centre of AREA, in B4 (10 m) and B11 (20 m).
BLOCK = (360540.0, 4830540.0, 360640.0, 4830640.0)
SATURATED_BANDS = ("B4", "B11")


def in_block(x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
    return (
        (x >= BLOCK[0] - margin)
        & (x < BLOCK[2] + margin)
        & (y >= BLOCK[1] - margin)
        & (y < BLOCK[3] + margin)
    )


def saturated_in_block(level: float):
    """Reflectance level + 10 x band index, infinite (written as saturated) in the block for B4 and B11."""

    def values(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, level + 10.0 * BANDS.index(band))
        if band in SATURATED_BANDS:
            out[in_block(x, y)] = np.inf
        return out

    return values


def utm_centres(series) -> tuple[np.ndarray, np.ndarray]:
    g = series.grid
    xs, ys = np.meshgrid(g.xmin + (np.arange(g.width) + 0.5) * 10, g.ymax - (np.arange(g.height) + 0.5) * 10)
    ux, uy = transform_points(L93, UTM, xs.ravel(), ys.ravel())
    return np.reshape(ux, xs.shape), np.reshape(uy, ys.shape)


def check_saturated_block(series, t: int, level: float) -> None:
    """Date t: NaN inside the block (20 m clear of its edges) in the saturated bands only, the exact level
    elsewhere (20 m clear of the block's edges: no saturated value resampled into a neighbour)."""
    ux, uy = utm_centres(series)
    inside, near = in_block(ux, uy, -20.0), in_block(ux, uy, 20.0)
    assert inside.sum() >= 16
    for index, band in enumerate(BANDS):
        values = series.data[t, index]
        expected = level + 10 * index
        if band in SATURATED_BANDS:
            assert np.isnan(values[inside]).all(), band
            np.testing.assert_allclose(values[~near], expected, atol=1.0, err_msg=band)
            assert np.nanmax(values) <= expected + 1.0, band  # nothing of the saturated DN leaks anywhere
        else:
            np.testing.assert_allclose(values, expected, atol=1.0, err_msg=band)


@pytest.mark.parametrize(("saturated", "zipped"), [(65535, True), (60000, False)])
def test_saturated_safe_pixels_are_nodata_never_reflectance(tmp_path, saturated, zipped):
    """ESA declares the saturated DN (65535) in MTD_MSIL2A.xml; a product declaring another is read by its
    own declaration. A second date of the month then gives the monthly mean alone where the first saturates."""
    write_safe_product(
        tmp_path,
        "20210605",
        "31TCJ",
        UTM,
        PRODUCT,
        saturated_in_block(1000),
        zipped=zipped,
        saturated=saturated,
    )
    write_safe_product(tmp_path, "20210620", "31TCJ", UTM, PRODUCT, constant_level(3000))
    series = load_series(tmp_path, L93, AREA, SPEC)
    check_saturated_block(series, 0, 1000)
    data, masks = series.window(560500.0, 6281100.0)
    prepared = prepare_window(data, masks, series.dates, SPEC)
    assert prepared.kept_dates == series.dates  # the saturated pixels do not make the date unusable
    b4, b3 = BANDS.index("B4"), BANDS.index("B3")
    centre = prepared.values[0, :, 20, 20]
    assert centre[b4] == pytest.approx(3000 + 10 * b4, abs=1)  # the clear date alone
    assert centre[b3] == pytest.approx(2000 + 10 * b3, abs=1)  # both dates


def test_saturated_theia_pixels_flagged_by_the_saturation_masks_are_nodata(tmp_path):
    write_theia_product(tmp_path, "20210605", "31TCJ", UTM, PRODUCT, saturated_in_block(1000))
    series = load_series(tmp_path, L93, AREA, SPEC)
    check_saturated_block(series, 0, 1000)


def test_65535_in_a_uint16_geotiff_is_saturated_not_reflectance(tmp_path):
    bounds = (559800.0, 6280600.0, 561000.0, 6281600.0)  # Lambert-93, 120 x 100 px of 10 m
    data = np.full((10, 100, 120), 1200, np.uint16)
    data[2, 30:40, 70:80] = 65535  # B4
    write_geotiff_date(tmp_path / "S2_2021-04-03.tif", L93, bounds, data, np.zeros((2, 100, 120), np.uint8))
    series = load_series(tmp_path, L93, AREA, SPEC)
    # The series grid starts at (560150, 6281450): the file's row 15 and column 35.
    b4 = series.data[0, 2]
    assert np.isnan(b4[15:25, 35:45]).all()
    assert np.nanmax(b4) == 1200 and np.isnan(b4).sum() == 100
    assert not np.isnan(series.data[0, 1]).any()


def test_saturation_is_read_in_a_folder_whose_name_has_xml_and_url_characters(tmp_path):
    """The saturated value is removed through a VRT naming the band's file: '&', '<', '#', '?' and accents
    in the user's folder name must reach GDAL intact."""
    folder = tmp_path / "données & <co> #2 ?x=1"
    write_safe_product(
        folder / "safe", "20210605", "31TCJ", UTM, PRODUCT, saturated_in_block(1000), zipped=True
    )
    write_theia_product(folder / "theia", "20210605", "31TCJ", UTM, PRODUCT, saturated_in_block(1000))
    for kind in ("safe", "theia"):
        series = load_series(folder / kind, L93, AREA, SPEC)
        assert not series.warnings, series.warnings
        check_saturated_block(series, 0, 1000)
