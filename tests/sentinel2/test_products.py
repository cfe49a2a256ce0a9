"""Discovery and reading of real-format Sentinel-2 products (SAFE, Theia, GeoTIFFs) onto a Lambert-93 grid."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from rasterio.warp import transform as transform_points

from flair_qgis.core.bundle_spec import flair2_sentinel2_input
from flair_qgis.core.errors import Cancelled, InputError
from flair_qgis.core.sentinel2 import BANDS, discover, load_series, prepare_window
from tests.data.sentinel2.generate import (
    write_flair_super_area,
    write_geotiff_date,
    write_geotiff_stack,
    write_safe_product,
    write_theia_product,
)

UTM = "EPSG:32631"
L93 = "EPSG:2154"
#: A 1.2 km square of tile 31TCJ (UTM zone 31N) and a 300 m area inside it in Lambert-93.
PRODUCT = (360000.0, 4830000.0, 361200.0, 4831200.0)
AREA = (560350.0, 6280950.0, 560650.0, 6281250.0)
SPEC = flair2_sentinel2_input()  # 40 x 40 windows: the grid adds 200 m on every side


def gradient(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Reflectance x 10000 rising east and north, a different level per band."""
    return 1000 + 100 * BANDS.index(band) + 0.5 * (x - PRODUCT[0]) + 0.25 * (y - PRODUCT[1])


def constant(level: float):
    return lambda band, x, y: np.full(x.shape, level + 10 * BANDS.index(band))


def grid_centres(series) -> tuple[np.ndarray, np.ndarray]:
    g = series.grid
    xs = g.xmin + (np.arange(g.width) + 0.5) * g.gsd
    ys = g.ymax - (np.arange(g.height) + 0.5) * g.gsd
    return np.meshgrid(xs, ys)


def test_safe_folder_lands_where_it_should_with_offset_removed(tmp_path):
    write_safe_product(
        tmp_path, "20210114", "31TCJ", UTM, PRODUCT, gradient, cloud_fn=lambda x, y: np.full(x.shape, 30)
    )
    catalog = discover(tmp_path)
    [acquisition] = catalog.acquisitions
    assert (acquisition.kind, acquisition.tile, acquisition.date) == ("safe", "31TCJ", date(2021, 1, 14))
    assert acquisition.layout.bands[0].offset == -1000

    series = load_series(catalog, L93, AREA, SPEC)
    assert series.grid.width == series.grid.height == 70  # 300 m + 2 x 200 m at 10 m
    assert series.grid.xmin == 560150 and series.grid.ymax == 6281450
    x, y = grid_centres(series)
    ux, uy = transform_points(L93, UTM, x.ravel(), y.ravel())
    ux, uy = np.reshape(ux, x.shape), np.reshape(uy, y.shape)
    for index, band in enumerate(BANDS):
        expected = gradient(band, ux, uy)
        # DN rounding plus bilinear interpolation of rounded values: within one unit.
        np.testing.assert_allclose(series.data[0, index], expected, atol=1.0, err_msg=band)
    np.testing.assert_array_equal(series.masks[0, 1], 30)
    np.testing.assert_array_equal(series.masks[0, 0], 0)


def test_zipped_safe_of_an_old_baseline_has_no_offset(tmp_path):
    path = write_safe_product(
        tmp_path / "old",
        "20200229",
        "31TCJ",
        UTM,
        PRODUCT,
        constant(1500),
        processing_baseline="02.14",
        zipped=True,
    )
    write_safe_product(
        tmp_path / "new", "20200301", "31TCJ", UTM, PRODUCT, constant(1500), processing_baseline="04.00"
    )
    assert path.suffix == ".zip" and not (tmp_path / "old" / path.stem).exists()
    catalog = discover(tmp_path)
    assert [(a.kind, a.date) for a in catalog.acquisitions] == [
        ("safe-zip", date(2020, 2, 29)),
        ("safe", date(2020, 3, 1)),
    ]
    assert catalog.acquisitions[0].layout.bands[0].path.startswith("/vsizip/")
    series = load_series(catalog, L93, AREA, SPEC)
    for t in range(2):
        np.testing.assert_array_equal(series.data[t, :, 35, 35], 1500 + 10 * np.arange(10))


def test_scene_classification_is_the_fallback_mask(tmp_path):
    def scl(x, y):
        classes = np.where(x < PRODUCT[0] + 600, 9, 11)  # west: cloud high probability, east: snow
        return np.where(np.abs(y - 4830600) < 100, 3, classes)  # a band of cloud shadow

    write_safe_product(
        tmp_path, "20210610", "31TCJ", UTM, PRODUCT, constant(800), scl_fn=scl, probability_masks=False
    )
    catalog = discover(tmp_path)
    assert "scene classification" in catalog.acquisitions[0].note
    series = load_series(catalog, L93, AREA, SPEC)
    x, y = grid_centres(series)
    ux, uy = transform_points(L93, UTM, x.ravel(), y.ravel())
    expected = scl(np.reshape(ux, x.shape), np.reshape(uy, y.shape))
    inside = np.abs(np.reshape(ux, x.shape) - (PRODUCT[0] + 600)) > 20  # off the class boundaries
    inside &= np.abs(np.abs(np.reshape(uy, y.shape) - 4830600) - 100) > 20
    np.testing.assert_array_equal(series.masks[0, 1][inside], np.where(expected == 9, 100, 0)[inside])
    np.testing.assert_array_equal(series.masks[0, 0][inside], np.where(expected == 11, 100, 0)[inside])
    assert (expected[inside] == 3).any() and (series.masks[0][:, expected == 3] == 0).all()


def test_theia_folder_and_zip_with_bit_masks_and_nodata(tmp_path):
    def values(band, x, y):
        out = constant(2000)(band, x, y).astype(float)
        out[x < PRODUCT[0] + 300] = np.nan  # written as -10000
        return out

    clouds = lambda x, y: np.where(y > 4830600, 2, 0)  # noqa: E731  bit 1 in the north
    geophysical = lambda x, y: np.where(x > PRODUCT[0] + 600, 4, 1)  # noqa: E731  snow east, water west
    write_theia_product(tmp_path, "20210705", "31TCJ", UTM, PRODUCT, values, clouds, geophysical)
    write_theia_product(tmp_path, "20210805", "31TCJ", UTM, PRODUCT, constant(2500), zipped=True)
    catalog = discover(tmp_path)
    assert [a.kind for a in catalog.acquisitions] == ["theia", "theia-zip"]
    wide = (559950.0, 6280550.0, 561050.0, 6281650.0)  # reaches the product's nodata strip (west)
    series = load_series(catalog, L93, wide, flair2_sentinel2_input(window_size=2), allow_partial=True)
    x, y = grid_centres(series)
    ux, uy = (np.reshape(v, x.shape) for v in transform_points(L93, UTM, x.ravel(), y.ravel()))
    valid = (ux > PRODUCT[0] + 320) & (ux < PRODUCT[2] - 20) & (uy > PRODUCT[1] + 20) & (uy < PRODUCT[3] - 20)
    np.testing.assert_array_equal(series.data[0, 0][valid], 2000)
    assert np.isnan(series.data[0, 0][(ux < PRODUCT[0] + 280) & (ux > PRODUCT[0] + 20)]).all()
    north, east = uy > 4830620, ux > PRODUCT[0] + 620
    south, west = uy < 4830580, ux < PRODUCT[0] + 580
    assert (series.masks[0, 1][valid & north] == 100).all() and (series.masks[0, 1][valid & south] == 0).all()
    assert (series.masks[0, 0][valid & east] == 100).all() and (series.masks[0, 0][valid & west] == 0).all()
    np.testing.assert_array_equal(series.data[1, 9][valid], 2590)


def test_geotiff_per_date_and_stack_with_dates_file(tmp_path):
    bounds = (560000.0, 6280800.0, 561000.0, 6281600.0)  # 100 x 80 px at 10 m, aligned with the grid
    rows, cols = np.mgrid[0:80, 0:100]
    one = np.stack([rows * 10.0 + cols + 1000 * b for b in range(10)]).astype(np.float32)
    masks = np.zeros((2, 80, 100), np.uint8)
    masks[1, :40] = 70
    write_geotiff_date(tmp_path / "S2_2021-04-03.tif", L93, bounds, one, masks)
    stack = np.stack([one + 1, one + 2]).astype(np.uint16)
    write_geotiff_stack(
        tmp_path / "series.tif", L93, bounds, stack, ["20210501", "2021-06-07"], np.stack([masks, 0 * masks])
    )
    catalog = discover(tmp_path)
    assert [(a.kind, a.date) for a in catalog.acquisitions] == [
        ("geotiff", date(2021, 4, 3)),
        ("stack", date(2021, 5, 1)),
        ("stack", date(2021, 6, 7)),
    ]
    series = load_series(catalog, L93, AREA, SPEC)
    # The grid starts at (560150, 6281450): column 15, row 15 of the files.
    np.testing.assert_array_equal(series.data[:, 3, 0, 0], [3000 + 150 + 15 + k for k in range(3)])
    np.testing.assert_array_equal(series.data[0, :, 10, 20], one[:, 25, 35])
    assert series.masks[0, 1, 24, 0] == 70 and series.masks[0, 1, 25, 0] == 0
    assert series.masks[1, 1, 0, 0] == 70 and (series.masks[2] == 0).all()


def test_same_date_adjacent_tiles_are_mosaicked_first_valid_wins(tmp_path):
    west = (360000.0, 4830000.0, 360700.0, 4831200.0)
    east = (360500.0, 4830000.0, 361200.0, 4831200.0)  # overlaps the west one on 200 m
    write_safe_product(tmp_path, "20210901", "31TDJ", UTM, east, constant(3000))
    write_safe_product(tmp_path, "20210901", "31TCJ", UTM, west, constant(1000))
    series = load_series(discover(tmp_path), L93, AREA, SPEC)
    assert series.dates == [date(2021, 9, 1)] and len(series.sources[0]) == 2
    x, y = grid_centres(series)
    ux = np.reshape(transform_points(L93, UTM, x.ravel(), y.ravel())[0], x.shape)
    b2 = series.data[0, 0]
    np.testing.assert_array_equal(b2[ux < 360680], 1000)  # west tile, including the overlap (31TCJ first)
    np.testing.assert_array_equal(b2[ux > 360720], 3000)
    assert not np.isnan(b2).any()


def test_area_partly_outside_coverage(tmp_path):
    write_safe_product(tmp_path, "20210301", "31TCJ", UTM, PRODUCT, constant(1000))
    outside = (560350.0, 6280950.0, 561650.0, 6281250.0)  # runs ~500 m east of the product
    with pytest.raises(InputError, match=r"% of the area has no Sentinel-2 data") as error:
        load_series(tmp_path, L93, outside, SPEC)
    share = float(error.value.message.split("%")[0])
    assert 30 < share < 50
    series = load_series(tmp_path, L93, outside, SPEC, allow_partial=True)
    assert series.uncovered == pytest.approx(share / 100, abs=0.001)
    assert np.isnan(series.data[0, 0, 40, -30:]).all() and not np.isnan(series.data[0, 0, 40, :30]).any()
    with pytest.raises(InputError, match="covers the area"):
        load_series(tmp_path, L93, (700000.0, 6600000.0, 700500.0, 6600500.0), SPEC)


def test_corrupt_truncated_and_incomplete_products_are_skipped(tmp_path):
    good = write_safe_product(tmp_path, "20210401", "31TCJ", UTM, PRODUCT, constant(1000), zipped=True)
    (tmp_path / "S2B_MSIL2A_20210402T105331_N0500_R051_T31TCJ_20230523T123456.zip").write_bytes(
        b"PK\x03\x04 not a zip"
    )
    truncated = tmp_path / "S2A_MSIL2A_20210403T105331_N0500_R051_T31TCJ_20230523T123456.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    incomplete = write_safe_product(tmp_path, "20210404", "31TCJ", UTM, PRODUCT, constant(1000))
    next(incomplete.rglob("*_B11_20m.jp2")).unlink()
    broken = write_safe_product(tmp_path, "20210405", "31TCJ", UTM, PRODUCT, constant(1000))
    band = next(broken.rglob("*_B03_10m.jp2"))
    band.write_bytes(band.read_bytes()[:200])  # header kept, code stream cut
    (tmp_path / "notes.zip").write_bytes(_zip_of(tmp_path / "n.txt"))

    catalog = discover(tmp_path)
    skipped = {path.name: reason for path, reason in catalog.skipped}
    assert (
        "corrupt or truncated zip"
        in skipped["S2B_MSIL2A_20210402T105331_N0500_R051_T31TCJ_20230523T123456.zip"]
    )
    assert "corrupt or truncated zip" in skipped[truncated.name]
    assert "B11_20m" in skipped[incomplete.name]
    assert "not a Sentinel-2" in skipped["notes.zip"]
    assert "skipped " + truncated.name in catalog.summary()
    series = load_series(catalog, L93, AREA, SPEC)
    assert series.dates == [date(2021, 4, 1)]
    assert len(series.warnings) == 1 and broken.name in series.warnings[0]


def _zip_of(path: Path) -> bytes:
    path.write_text("hello")
    with zipfile.ZipFile(path.with_suffix(".zip"), "w") as archive:
        archive.write(path, path.name)
    return path.with_suffix(".zip").read_bytes()


def test_empty_or_useless_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="No usable Sentinel-2") as error:
        discover(tmp_path)
    assert "SAFE" in error.value.hint
    (tmp_path / "readme.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(InputError, match=r"readme\.tif"):
        discover(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "missing")


def test_flair_super_areas_are_found_but_not_placed_on_a_map(tmp_path):
    write_flair_super_area(
        tmp_path,
        "D004_2021",
        "Z1_NN",
        np.ones((2, 10, 4, 4), np.uint16),
        np.zeros((2, 2, 4, 4), np.uint8),
        [
            "S2A_MSIL2A_20210114T105331_N0500_R051_T31TCJ_20230523T123456",
            "SENTINEL2B_20210301-105852-555_L2A_T31TCJ_C_V2-2",
        ],
    )
    catalog = discover(tmp_path)
    assert [(a.kind, a.date, a.tile) for a in catalog.acquisitions] == [
        ("flair-npy", date(2021, 1, 14), "31TCJ"),
        ("flair-npy", date(2021, 3, 1), "31TCJ"),
    ]
    with pytest.raises(InputError, match="no georeferencing"):
        load_series(catalog, L93, AREA, SPEC)


def test_end_to_end_window_filtered_and_averaged(tmp_path):
    cloudy = lambda x, y: np.full(x.shape, 90)  # noqa: E731
    write_safe_product(tmp_path, "20211205", "31TCJ", UTM, PRODUCT, constant(1000))
    write_safe_product(tmp_path, "20211220", "31TCJ", UTM, PRODUCT, constant(2000), cloud_fn=cloudy)
    write_safe_product(tmp_path, "20220110", "31TCJ", UTM, PRODUCT, constant(3000), zipped=True)
    write_theia_product(tmp_path, "20220128", "31TCJ", UTM, PRODUCT, constant(4000))
    calls = []
    series = load_series(tmp_path, L93, AREA, SPEC, progress=lambda f, m: calls.append((f, m)))
    assert calls[-1][0] == 1.0 and any("2021-12-20" in m for _, m in calls)
    data, masks = series.window(560500.0, 6281100.0)
    assert data.shape == (4, 10, 40, 40) and not np.isnan(data).any()
    # The window starts 200 m west and north of its centre: column (560300 - 560150) / 10.
    np.testing.assert_array_equal(data, series.data[:, :, 15:55, 15:55])
    edge, _ = series.window(560150.0, 6281450.0, 4)  # centred on the grid's corner: half off the grid
    assert np.isnan(edge[:, :, :2]).all() and np.isnan(edge[:, :, :, :2]).all()
    np.testing.assert_array_equal(edge[:, :, 2:, 2:], series.data[:, :, :2, :2])
    out = prepare_window(data, masks, series.dates, SPEC)
    assert out.kept_dates == [date(2021, 12, 5), date(2022, 1, 10), date(2022, 1, 28)]
    assert out.dates == [date(2021, 12, 15), date(2022, 1, 15)]
    assert out.reference == date(2021, 5, 15)  # median date 2 January 2022 halfway between 20 Dec and 10 Jan
    np.testing.assert_array_equal(out.positions, [-214, -245])
    np.testing.assert_array_equal(out.values[:, 1, 20, 20], [1010, 3510])
    with pytest.raises(Cancelled):
        load_series(tmp_path, L93, AREA, SPEC, is_cancelled=lambda: True)


def test_single_product_path_is_accepted(tmp_path):
    product = write_safe_product(tmp_path, "20210114", "31TCJ", UTM, PRODUCT, constant(1000))
    catalog = discover(product)
    assert len(catalog.acquisitions) == 1
    shutil.rmtree(product)


def test_geotiff_without_masks_is_noted_in_the_summary(tmp_path):
    data = np.full((10, 20, 20), 500, np.uint16)
    write_geotiff_date(
        tmp_path / "T31TCJ_20210812.tif", L93, (560000.0, 6280800.0, 560200.0, 6281000.0), data
    )
    catalog = discover(tmp_path)
    assert catalog.acquisitions[0].tile == "31TCJ" and catalog.acquisitions[0].layout.cloud is None
    summary = catalog.summary()
    assert (
        "dates: 2021-08-12" in summary
        and "2021-08 1" in summary
        and "geotiff 1" in summary
        and "not cloud-filtered" in summary
    )


def test_sen2cor_2018_mask_names_are_read(tmp_path):
    product = write_safe_product(
        tmp_path, "20180610", "31TCJ", UTM, PRODUCT, constant(900), cloud_fn=lambda x, y: np.full(x.shape, 64)
    )
    qi = next(product.rglob("QI_DATA"))
    (qi / "MSK_CLDPRB_20m.jp2").rename(qi / "L2A_T31TCJ_20180610T105331_CLD_20m.jp2")
    (qi / "MSK_SNWPRB_20m.jp2").rename(qi / "L2A_T31TCJ_20180610T105331_SNW_20m.jp2")
    catalog = discover(tmp_path)
    assert catalog.acquisitions[0].note == ""  # probabilities found, no scene-classification fallback
    series = load_series(catalog, L93, AREA, SPEC)
    np.testing.assert_array_equal(series.masks[0, 1], 64)


@pytest.mark.parametrize(
    "area",
    [
        (560501.0, 6281000.0, 560504.0, 6281200.0),  # a 3 m strip between two columns of pixel centres
        (560501.0, 6281001.0, 560503.0, 6281003.0),  # an area smaller than one 10 m pixel
    ],
)
def test_an_area_narrower_than_a_pixel_is_covered_when_products_cover_it(tmp_path, area):
    bounds = (560000.0, 6280800.0, 561000.0, 6281600.0)
    data = np.full((10, 80, 100), 1200, np.float32)
    write_geotiff_date(tmp_path / "S2_2021-04-03.tif", L93, bounds, data, np.zeros((2, 80, 100), np.uint8))
    series = load_series(tmp_path, L93, area, SPEC)
    assert series.uncovered == 0.0 and series.dates == [date(2021, 4, 3)]
    with pytest.raises(InputError, match="no Sentinel-2 data"):
        load_series(tmp_path, L93, (561001.0, 6281001.0, 561003.0, 6281003.0), SPEC)  # just east of it


def test_a_folder_with_a_symlink_to_itself_is_walked_once(tmp_path):
    bounds = (560000.0, 6280800.0, 561000.0, 6281600.0)
    data = np.full((10, 80, 100), 1200, np.float32)
    for day in ("2021-04-03", "2021-05-03", "2021-06-03"):
        write_geotiff_date(tmp_path / f"S2_{day}.tif", L93, bounds, data, np.zeros((2, 80, 100), np.uint8))
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)
    catalog = discover(tmp_path)
    assert len(catalog.acquisitions) == 3
