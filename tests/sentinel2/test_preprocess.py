"""prepare_window and the FLAIR #2 super-areas against hand-computed values and the baseline's rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from flair_qgis.core.bundle_spec import BandScaling, flair2_sentinel2_input
from flair_qgis.core.errors import InputError
from flair_qgis.core.sentinel2 import (
    FlairSuperArea,
    parse_date,
    parse_tile,
    patch_window,
    prepare_window,
    read_centroids,
    reference_date,
)
from tests.data.sentinel2.generate import write_flair_centroids, write_flair_super_area

SPEC = flair2_sentinel2_input(window_size=4)


def constant_series(values: list[float], size: int = 4) -> np.ndarray:
    """T x 10 x size x size: frame t holds values[t] + 10 * band everywhere."""
    band = np.arange(10, dtype=np.float32)[None, :, None, None] * 10
    return (
        np.asarray(values, dtype=np.float32)[:, None, None, None]
        + band
        + np.zeros((1, 1, size, size), np.float32)
    )


def clear_masks(t: int, size: int = 4) -> np.ndarray:
    return np.zeros((t, 2, size, size), dtype=np.uint8)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("S2B_MSIL2A_20210114T105331_N0500_R051_T31TCJ_20230523T123456.SAFE", date(2021, 1, 14)),
        ("SENTINEL2A_20200229-105852-555_L2A_T31TCJ_C_V2-2", date(2020, 2, 29)),
        ("S2_2022-07-03.tif", date(2022, 7, 3)),
        ("stack_20191231_T31UDQ.tif", date(2019, 12, 31)),
        ("tile_20210230.tif", None),  # not a date
        ("mosaic.tif", None),
    ],
)
def test_parse_date(name, expected):
    assert parse_date(name) == expected


def test_parse_tile():
    assert parse_tile("S2B_MSIL2A_20210114T105331_N0500_R051_T31TCJ_20230523T123456.SAFE") == "31TCJ"
    assert parse_tile("SENTINEL2A_20210114-105852-555_L2A_T32ULU_C_V2-2") == "32ULU"
    assert parse_tile("S2_2022-07-03.tif") is None


def test_monthly_means_and_positions_by_hand():
    dates = [date(2021, 1, 5), date(2021, 1, 25), date(2021, 2, 10), date(2021, 3, 3)]
    data = constant_series([100, 300, 900, 500])
    masks = clear_masks(4)
    masks[2, 1] = 80  # 10 February: cloud probability 80 everywhere -> dropped
    out = prepare_window(data, masks, dates, SPEC)
    assert out.dates == [date(2021, 1, 15), date(2021, 3, 15)]
    assert out.kept_dates == [date(2021, 1, 5), date(2021, 1, 25), date(2021, 3, 3)]
    assert out.reference == date(2021, 5, 15)
    # 15 January -> 15 May 2021: 16 + 28 + 31 + 30 + 15 days; 15 March -> 15 May: 16 + 30 + 15.
    np.testing.assert_array_equal(out.positions, [120, 61])
    assert out.values.shape == (2, 10, 4, 4) and out.values.dtype == np.float32
    np.testing.assert_array_equal(out.values[0, :, 0, 0], 200 + 10 * np.arange(10))
    np.testing.assert_array_equal(out.values[1, :, 3, 3], 500 + 10 * np.arange(10))
    assert not out.cloudy_fallback and not out.no_data


def test_cloud_filter_counts_snow_and_cloud_like_the_baseline():
    size = 4  # 16 pixels, a date is kept when covered pixels / 16 < 0.5
    dates = [date(2021, 6, 1), date(2021, 7, 1), date(2021, 8, 1), date(2021, 9, 1)]
    masks = clear_masks(4)
    masks[0, 0, :2, :3] = 60  # 6 snowy pixels, 2 of them also cloudy: 6 + 2 = 8 -> 0.5, dropped
    masks[0, 1, :2, :1] = 99
    masks[1, 1, :3, :2] = 60  # 6 cloudy + 1 snowy = 7 -> 0.4375, kept
    masks[1, 0, 3, 3] = 100
    masks[2, 1, :, :] = 59  # just under the threshold: kept
    masks[3, 0, :2, :] = 100  # 8 snowy: dropped
    out = prepare_window(
        constant_series([1, 2, 3, 4], size), masks, dates, replace(SPEC, monthly_average=False)
    )
    assert out.kept_dates == [date(2021, 7, 1), date(2021, 8, 1)]
    assert out.dates == out.kept_dates
    np.testing.assert_array_equal(out.positions, [(date(2021, 5, 15) - d).days for d in out.dates])


def test_all_cloudy_falls_back_to_the_least_cloudy_dates():
    dates = [date(2021, m, 10) for m in (3, 4, 5, 6, 7)]
    masks = clear_masks(5)
    for t, covered in enumerate([16, 9, 12, 10, 8]):  # every date >= 0.5 covered
        masks[t, 1].reshape(-1)[:covered] = 100
    out = prepare_window(constant_series([1, 2, 3, 4, 5]), masks, dates, SPEC)
    assert out.cloudy_fallback
    assert out.kept_dates == [date(2021, 4, 10), date(2021, 6, 10), date(2021, 7, 10)]
    assert out.values.shape[0] == 3 and np.isfinite(out.values).all()


def test_nodata_counts_as_cloudy_and_is_excluded_from_means():
    dates = [date(2021, 4, 2), date(2021, 4, 20), date(2021, 5, 9)]
    data = constant_series([100, 200, 300])
    data[0, :, 0, :] = np.nan  # 4 of 16 pixels missing: kept, and the April mean there is 200 alone
    data[2, :, :3, :] = np.nan  # 12 of 16 missing: dropped
    out = prepare_window(data, clear_masks(3), dates, SPEC)
    assert out.kept_dates == dates[:2]
    np.testing.assert_array_equal(out.values[0, 0, 0], [200, 200, 200, 200])
    np.testing.assert_array_equal(out.values[0, 0, 1], [150, 150, 150, 150])


def test_nan_left_after_averaging_is_filled_with_the_frame_band_mean():
    data = constant_series([100])
    data[0, :, 0, 0] = np.nan
    data[0, 2, 1, 1] = 40 + 20 + 15 * 0  # B4 pixel at 60 instead of 120
    out = prepare_window(data, clear_masks(1), [date(2021, 6, 3)], SPEC)
    expected_b4 = (14 * 120 + 60) / 15
    assert out.values[0, 2, 0, 0] == pytest.approx(expected_b4)
    assert np.isfinite(out.values).all()


def test_window_without_any_data_is_flagged_not_crashed():
    data = np.full((2, 10, 4, 4), np.nan, dtype=np.float32)
    out = prepare_window(data, clear_masks(2), [date(2021, 1, 1), date(2021, 2, 1)], SPEC)
    assert out.no_data and out.values.shape == (0, 10, 4, 4) and out.positions.shape == (0,)


def test_leap_day_two_years_and_other_year():
    # 29 February 2024 is averaged into February 2024, dated on the 15th.
    out = prepare_window(
        constant_series([10, 20]), clear_masks(2), [date(2024, 2, 29), date(2024, 2, 1)], SPEC
    )
    assert out.dates == [date(2024, 2, 15)]
    assert out.positions[0] == (date(2024, 5, 15) - date(2024, 2, 15)).days == 90  # leap year
    # A 2023 series gets the same positions as the 2021 one.
    days = [date(2023, 1, 20), date(2023, 8, 3)]
    out_2023 = prepare_window(constant_series([1, 2]), clear_masks(2), days, SPEC)
    out_2021 = prepare_window(
        constant_series([1, 2]), clear_masks(2), [d.replace(year=2021) for d in days], SPEC
    )
    np.testing.assert_array_equal(out_2023.positions, out_2021.positions)
    np.testing.assert_array_equal(out_2023.positions, [120, -92])
    # October 2021 .. April 2022: median date 3 January 2022, reference 15 May 2022; months stay distinct.
    months = [date(2021, m, 3) for m in (10, 11, 12)] + [date(2022, m, 3) for m in (1, 2, 3, 4)]
    out = prepare_window(constant_series([1, 2, 3, 4, 5, 6, 7]), clear_masks(7), months, SPEC)
    assert out.reference == date(2022, 5, 15)
    np.testing.assert_array_equal(out.positions, [212, 181, 151, 120, 89, 61, 30])
    # With an even count the median lies between the two middle dates: 18 December 2021 here.
    out = prepare_window(constant_series([1, 2, 3, 4, 5, 6]), clear_masks(6), months[:6], SPEC)
    assert out.reference == date(2021, 5, 15)
    np.testing.assert_array_equal(out.positions[[0, -1]], [-153, -(365 - 61)])


def test_reference_date_29_february_in_a_common_year():
    spec = replace(SPEC, reference_date="02-29")
    assert reference_date([date(2021, 3, 1)], spec) == date(2021, 2, 28)
    assert reference_date([date(2024, 3, 1)], spec) == date(2024, 2, 29)


def test_unsorted_dates_are_ordered_and_normalised():
    scaling = BandScaling(scale=(0.5, 0.5), mean=(10.0, 10.0), std=(2.0, 2.0))
    spec = replace(SPEC, scaling=scaling, monthly_average=False, bands=("B8", "B2"))
    out = prepare_window(
        constant_series([300, 100]), clear_masks(2), [date(2021, 9, 1), date(2021, 3, 1)], spec
    )
    assert out.dates == [date(2021, 3, 1), date(2021, 9, 1)]
    # B8 is band 6 (raw 100 + 60), B2 band 0 (raw 100): (raw * 0.5 - 10) / 2
    np.testing.assert_array_equal(out.values[0, :, 0, 0], [(160 * 0.5 - 10) / 2, (100 * 0.5 - 10) / 2])
    assert out.values.shape == (2, 2, 4, 4)


def test_max_dates_keeps_the_least_cloudy_frames():
    spec = replace(SPEC, monthly_average=False, max_dates=2)
    masks = clear_masks(3)
    masks[1, 1, 0, :] = 100  # 4 of 16 covered, still kept by the filter
    out = prepare_window(constant_series([1, 2, 3]), masks, [date(2021, m, 1) for m in (4, 5, 6)], spec)
    assert out.dates == [date(2021, 4, 1), date(2021, 6, 1)]


def baseline_preprocessing(data, masks, products, row, col, size):
    """The FLAIR #2 baseline's steps, written out from its description: crop [c - s/2, c + s/2), keep
    dates with (snow >= 60 + cloud >= 60) / (s * s) < 0.5, dates read as MMDD at [15:19] in 2021,
    monthly np.mean, positions 2021-05-15 minus each month's 15th."""
    crop = data[:, :, row - size // 2 : row + size // 2, col - size // 2 : col + size // 2]
    mcrop = masks[:, :, row - size // 2 : row + size // 2, col - size // 2 : col + size // 2].astype(int)
    keep = [
        t
        for t in range(len(products))
        if (np.count_nonzero(mcrop[t, 0] >= 60) + np.count_nonzero(mcrop[t, 1] >= 60)) / size**2 < 0.5
    ]
    days = [date(2021, int(products[t][15:17]), int(products[t][17:19])) for t in keep]
    months = sorted({d.month for d in days})
    values = np.array(
        [np.mean(crop[[t for t, d in zip(keep, days, strict=True) if d.month == m]], axis=0) for m in months]
    )
    positions = np.array([(date(2021, 5, 15) - date(2021, m, 15)).days for m in months])
    return values.astype(np.float32), positions


def test_flair_super_area_reproduces_the_baseline(tmp_path):
    rng = np.random.default_rng(4)
    t, h, w, size = 9, 30, 26, 10
    data = rng.integers(0, 6000, size=(t, 10, h, w), dtype=np.uint16)
    masks = np.zeros((t, 2, h, w), dtype=np.uint8)
    masks[2, 1] = 100  # cloudy date
    masks[5, 0, :20] = 70  # snowy over two thirds of the super-area
    masks[:, :, :, :] += rng.integers(0, 40, size=masks.shape, dtype=np.uint8)
    days = [
        "20210103",
        "20210118",
        "20210212",
        "20210306",
        "20210331",
        "20210420",
        "20210705",
        "20210712",
        "20211130",
    ]
    products = [
        f"S2{'AB'[i % 2]}_MSIL2A_{d}T105031_N0500_R051_T31TCJ_20230101T000000" for i, d in enumerate(days)
    ]
    sen = tmp_path / "flair_sen_train" / "D004_2021" / "Z1_NN" / "sen"
    data_path = write_flair_super_area(sen, "D004_2021", "Z1_NN", data, masks, products)
    centroids = write_flair_centroids(
        tmp_path / "flair-2_centroids_sp_to_patch.json", {"IMG_000123.tif": (12, 9)}
    )

    area = FlairSuperArea.open(data_path)
    assert isinstance(area.data, np.memmap) and area.data.dtype == np.uint16
    window, window_masks, dates = patch_window(area, read_centroids(centroids), "IMG_000123.tif", size)
    np.testing.assert_array_equal(window, data[:, :, 7:17, 4:14])
    out = prepare_window(window, window_masks, dates, flair2_sentinel2_input(window_size=size))

    expected_values, expected_positions = baseline_preprocessing(data, masks, products, 12, 9, size)
    np.testing.assert_array_equal(out.positions, expected_positions)
    np.testing.assert_allclose(out.values, expected_values, rtol=1e-6)
    assert date(2021, 2, 15) not in out.dates  # the cloudy 12 February was the month's only date


def test_flair_window_leaving_the_super_area_is_nan_padded(tmp_path):
    data = np.ones((1, 10, 6, 6), dtype=np.uint16)
    path = write_flair_super_area(
        tmp_path, "D1", "Z1", data, np.zeros((1, 2, 6, 6), np.uint8), ["S2A_MSIL2A_20210601T1"]
    )
    window, _, _ = FlairSuperArea.open(path).window(1, 1, 4)
    assert np.isnan(window[0, 0, 0]).all() and np.isnan(window[0, 0, :, 0]).all()
    np.testing.assert_array_equal(window[0, 0, 1:, 1:], 1)


def test_flair_super_area_with_missing_or_mismatched_files(tmp_path):
    data = np.ones((2, 10, 4, 4), dtype=np.uint16)
    path = write_flair_super_area(
        tmp_path, "D1", "Z1", data, np.zeros((2, 2, 4, 4), np.uint8), ["S2A_MSIL2A_20210601T1"]
    )
    with pytest.raises(InputError, match="1 products for 2 dates"):
        FlairSuperArea.open(path)
    (tmp_path / "SEN2_sp_D1-Z1_masks.npy").unlink()
    with pytest.raises(InputError, match=r"_masks\.npy"):
        FlairSuperArea.open(path)
