"""From a Sentinel-2 window's raw series to the model's input: cloud filter, monthly means, positions.

This is the single implementation of the FLAIR #2 preprocessing used by inference and by training, so a
model always sees its series prepared the way it was trained. docs/sentinel2.md gives every rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ..bundle_spec import SENTINEL2_BANDS, Sentinel2Input
from .dates import month_day_in_year

#: When every date of a window is too cloudy, the series falls back to this many least cloudy dates.
FALLBACK_DATES = 3
#: FLAIR #2 series cover one year: dates farther than half of it from the series' middle (its median
#: date) are from another season or year than the model was trained to see together.
HALF_YEAR_DAYS = 183
#: Mask channels, in the order of FLAIR #2's `_masks.npy`.
SNOW, CLOUD = 0, 1


@dataclass
class PreparedWindow:
    """One window's series as the model takes it.

    values: T' x C x W x W float32, normalised per spec.scaling, C = len(spec.bands), no NaN.
    positions: T' float32, days from each frame's date to the reference date (positive before it).
    dates: the T' frame dates (the 15th of the month when averaged monthly).
    cloudy_fallback: every date was too cloudy; the least cloudy ones were kept instead.
    no_data: the window holds no valid Sentinel-2 pixel at all; values and positions are then empty
        (T' = 0) and the caller decides (the engine writes nodata or refuses).
    kept_dates: the acquisition dates that went into the frames.
    reference: the reference date the positions count from.
    """

    values: np.ndarray
    positions: np.ndarray
    dates: list[date]
    cloudy_fallback: bool = False
    no_data: bool = False
    kept_dates: list[date] = field(default_factory=list)
    reference: date | None = None


def reference_date(dates: Sequence[date], spec: Sentinel2Input) -> date:
    """The spec's reference month-day placed in the year of the series' median date.

    A series of 2023 is thus dated like the 2021 series a FLAIR #2 model was trained on, and one that
    straddles two calendar years is dated in the year holding its middle (with an even count, the
    median is halfway between the two middle dates). 29 February becomes the
    28th in a common year.
    """
    month, day = spec.reference_month_day
    return month_day_in_year(median_date(dates).year, month, day)


def median_date(dates: Sequence[date]) -> date:
    """The median of `dates` (with an even count, halfway between the two middle dates)."""
    ordered = sorted(dates)
    low, high = ordered[(len(ordered) - 1) // 2], ordered[len(ordered) // 2]
    return low + (high - low) / 2


def span_warning(dates: Sequence[date]) -> str | None:
    """A warning when the dates reach beyond one year around their median (a product of another year
    in the folder, say), naming the dates more than HALF_YEAR_DAYS from it; None when they do not."""
    if not dates:
        return None
    middle = median_date(dates)
    far = sorted(d for d in set(dates) if abs((d - middle).days) > HALF_YEAR_DAYS)
    if not far:
        return None
    shown = ", ".join(d.isoformat() for d in far[:5]) + (f" and {len(far) - 5} more" if len(far) > 5 else "")
    return (
        f"Sentinel-2: {len(far)} date{'s' if len(far) > 1 else ''} lie more than half a year from the "
        f"middle of the series ({middle.isoformat()}): {shown}. The model was trained on one year of "
        "acquisitions; remove the products of other years from the folder."
    )


def cloudy_fractions(masks: np.ndarray, nodata: np.ndarray, threshold: float) -> np.ndarray:
    """Share of each date's window covered, as the baseline counts it.

    masks: T x 2 x H x W probabilities 0..100 [snow, cloud]; nodata: T x H x W bool.
    Returns T floats: (n snow >= threshold + n cloud >= threshold + n nodata pixels flagged by
    neither) / (H x W). Like the baseline, a pixel both snowy and cloudy counts twice.
    """
    snowy = masks[:, SNOW] >= threshold
    cloudy = masks[:, CLOUD] >= threshold
    missing = nodata & ~snowy & ~cloudy
    counts = snowy.sum(axis=(1, 2)) + cloudy.sum(axis=(1, 2)) + missing.sum(axis=(1, 2))
    return counts / float(masks.shape[2] * masks.shape[3])


def keeps_date(fraction: float, has_data: bool, max_cloudy_fraction: float) -> bool:
    """The cloud filter's rule for one date of a window: it holds some data and its covered fraction (see
    cloudy_fractions) is below `max_cloudy_fraction`."""
    return bool(has_data) and fraction < max_cloudy_fraction


def select_dates(
    fractions: np.ndarray, has_data: np.ndarray, max_cloudy_fraction: float
) -> tuple[list[int], bool]:
    """Indices of the dates kept for a window, and whether the cloudy fallback was needed.

    A date is kept when its covered fraction is below `max_cloudy_fraction`; when none is, the
    FALLBACK_DATES least cloudy dates holding some data are kept (in date order).
    """
    kept = [i for i in range(len(fractions)) if keeps_date(fractions[i], has_data[i], max_cloudy_fraction)]
    if kept:
        return kept, False
    candidates = [i for i in range(len(fractions)) if has_data[i]]
    candidates.sort(key=lambda i: fractions[i])
    return sorted(candidates[:FALLBACK_DATES]), True


def monthly_means(
    frames: np.ndarray, dates: Sequence[date]
) -> tuple[np.ndarray, list[date], list[list[int]]]:
    """Mean per pixel of the frames of each calendar month, NaN ignored.

    frames: T x C x H x W float (NaN = nodata), dates in increasing order. Returns M x C x H x W
    float64, the M month dates (each month's 15th) and, per month, the indices of its frames.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for index, day in enumerate(dates):
        groups.setdefault((day.year, day.month), []).append(index)
    months = sorted(groups)
    means = np.empty((len(months), *frames.shape[1:]), dtype=np.float64)
    for m, key in enumerate(months):
        members = frames[groups[key]].astype(np.float64)
        valid = ~np.isnan(members)
        total = np.where(valid, members, 0.0).sum(axis=0)
        count = valid.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[m] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return means, [date(y, m, 15) for y, m in months], [groups[k] for k in months]


def fill_nodata(frames: np.ndarray) -> np.ndarray:
    """Replace each NaN by the mean of its frame's valid pixels in the same band (in place).

    frames: T x C x H x W. A band with no valid pixel in a frame takes the mean of that band over
    the other frames; one with no valid pixel anywhere takes 0.
    """
    for t in range(frames.shape[0]):
        for c in range(frames.shape[1]):
            plane = frames[t, c]
            holes = np.isnan(plane)
            if holes.any() and not holes.all():
                plane[holes] = plane[~holes].mean()
    for c in range(frames.shape[1]):
        band = frames[:, c]
        holes = np.isnan(band)
        if holes.any():
            band[holes] = band[~holes].mean() if not holes.all() else 0.0
    return frames


def normalise(frames: np.ndarray, spec: Sentinel2Input, band_indices: Sequence[int]) -> np.ndarray:
    """The spec's BandScaling on its bands, computed in float64 (frames: T x 10 x H x W)."""
    return spec.scaling.apply(frames[:, list(band_indices)], axis=1, precision=np.float64)


def _limit(frames: np.ndarray, frame_dates: list[date], cover: list[float], max_dates: int | None):
    """Keep at most `max_dates` frames, the least cloudy, in date order."""
    if max_dates is None or len(frame_dates) <= max_dates:
        return frames, frame_dates
    best = sorted(sorted(range(len(frame_dates)), key=lambda i: cover[i])[:max_dates])
    return frames[best], [frame_dates[i] for i in best]


def prepare_window(
    data: np.ndarray, masks: np.ndarray, dates: Sequence[date], spec: Sentinel2Input
) -> PreparedWindow:
    """Prepare one window's series for the model, exactly as in training.

    data: T x 10 x W x W reflectance x 10000 in FLAIR band order (any numeric dtype; NaN = nodata),
    masks: T x 2 x W x W probabilities 0..100 [snow, cloud], dates: the T acquisition dates.
    Steps: cloud/snow filter of the spec (NaN pixels count as covered), optional monthly means (NaN
    excluded), at most spec.max_dates frames, NaN filled (see fill_nodata), normalisation, positions
    from the reference date (see reference_date).
    """
    data = np.asarray(data)
    masks = np.asarray(masks)
    if data.ndim != 4 or data.shape[1] != len(SENTINEL2_BANDS) or masks.shape[0] != data.shape[0]:
        raise ValueError(
            f"Expected data T x 10 x H x W and masks T x 2 x H x W, got {data.shape}, {masks.shape}"
        )
    if len(dates) != data.shape[0]:
        raise ValueError(f"{len(dates)} dates for {data.shape[0]} frames")
    band_indices = [SENTINEL2_BANDS.index(b) for b in spec.bands]
    width = data.shape[-1]
    if len(dates) == 0:
        return _empty(spec, width, None)
    order = sorted(range(len(dates)), key=lambda i: dates[i])
    sorted_dates = [dates[i] for i in order]
    reference = reference_date(sorted_dates, spec)
    frames = data[order].astype(np.float64)
    nodata = np.isnan(frames).any(axis=1)
    fractions = cloudy_fractions(
        masks[order].astype(np.int64), nodata, spec.cloud_filter.probability_threshold
    )
    has_data = ~nodata.all(axis=(1, 2))
    kept, fallback = select_dates(fractions, has_data, spec.cloud_filter.max_cloudy_fraction)
    if not kept:
        return _empty(spec, width, reference)
    kept_dates = [sorted_dates[i] for i in kept]
    frames = frames[kept]
    if spec.monthly_average:
        frames, frame_dates, members = monthly_means(frames, kept_dates)
        cover = [float(np.mean([fractions[kept[i]] for i in group])) for group in members]
    else:
        frame_dates = kept_dates
        cover = [float(fractions[i]) for i in kept]
    frames, frame_dates = _limit(frames, frame_dates, cover, spec.max_dates)
    fill_nodata(frames)
    positions = np.array([(reference - d).days for d in frame_dates], dtype=np.float32)
    return PreparedWindow(
        values=normalise(frames, spec, band_indices),
        positions=positions,
        dates=frame_dates,
        cloudy_fallback=fallback,
        kept_dates=kept_dates,
        reference=reference,
    )


def _empty(spec: Sentinel2Input, width: int, reference: date | None) -> PreparedWindow:
    return PreparedWindow(
        values=np.zeros((0, len(spec.bands), width, width), dtype=np.float32),
        positions=np.zeros(0, dtype=np.float32),
        dates=[],
        no_data=True,
        reference=reference,
    )


def pad_series(
    values: Sequence[np.ndarray], positions: Sequence[np.ndarray], pad_value: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-tile series (T_i x bands x W x W, T_i positions) into B x T x bands x W x W and B x T,
    T = the longest series (at least 1), padding frames with `pad_value` and positions with 0."""
    length = max([1, *(len(v) for v in values)])
    shape = values[0].shape[1:]
    stacked = np.full((len(values), length, *shape), pad_value, np.float32)
    dates = np.zeros((len(values), length), np.float32)
    for i, (series, days) in enumerate(zip(values, positions, strict=True)):
        stacked[i, : len(series)] = series
        dates[i, : len(days)] = days
    return stacked, dates
