"""The dialog's cloud-cover preview and the model's cloud filter judge a date by one rule."""

from __future__ import annotations

from datetime import date

import numpy as np

from flair_qgis.core.bundle_spec import flair2_sentinel2_input
from flair_qgis.core.sentinel2.preprocess import prepare_window
from flair_qgis.gui.cloud_cover import cloud_cover


def test_snowy_and_cloudy_on_the_same_pixels_is_judged_alike_by_preview_and_model() -> None:
    spec = flair2_sentinel2_input(window_size=10)
    days = [date(2021, 5, 1), date(2021, 6, 1)]
    data = np.full((2, 10, 10, 10), 1000.0, np.float32)
    masks = np.zeros((2, 2, 10, 10), np.uint8)
    masks[0, :, :3, :] = 90  # 30 % of the window both snowy and cloudy: 60 % as the baseline counts it
    threshold = spec.cloud_filter.probability_threshold
    limit = spec.cloud_filter.max_cloudy_fraction
    covers = cloud_cover(days, data, masks, threshold)
    prepared = prepare_window(data, masks, days, spec)
    kept_by_model = [d in prepared.kept_dates for d in days]
    assert [c.usable(limit) for c in covers] == kept_by_model == [False, True]
    assert covers[0].covered == 0.6


def test_missing_pixels_count_as_covered_in_both() -> None:
    spec = flair2_sentinel2_input(window_size=10)
    days = [date(2021, 5, 1), date(2021, 6, 1)]
    data = np.full((2, 10, 10, 10), 1000.0, np.float32)
    data[1, :, :6, :] = np.nan
    masks = np.zeros((2, 2, 10, 10), np.uint8)
    covers = cloud_cover(days, data, masks, spec.cloud_filter.probability_threshold)
    prepared = prepare_window(data, masks, days, spec)
    limit = spec.cloud_filter.max_cloudy_fraction
    assert [c.usable(limit) for c in covers] == [d in prepared.kept_dates for d in days] == [True, False]
