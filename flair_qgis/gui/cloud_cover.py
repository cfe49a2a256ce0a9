"""How cloudy each Sentinel-2 date is over the area to map, so the user can judge a folder before a run.

The share is the model's own (sentinel2.preprocess.cloudy_fractions and keeps_date, with the bundle's
thresholds) computed as if the whole area were one window: one rule, one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ..core.sentinel2.preprocess import cloudy_fractions, keeps_date


@dataclass(frozen=True)
class DateCover:
    """One date over the area: `covered`, the share the model's cloud filter counts (snow, cloud and
    unflagged missing pixels, a pixel both snowy and cloudy counting twice), and `nodata`, the share
    without data."""

    date: date
    covered: float
    nodata: float

    def usable(self, max_cloudy_fraction: float) -> bool:
        """Whether the model's filter would keep the date if the whole area were one window."""
        return keeps_date(self.covered, self.nodata < 1.0, max_cloudy_fraction)


def cloud_cover(dates: list[date], data: np.ndarray, masks: np.ndarray, threshold: float) -> list[DateCover]:
    """Per date, from data T x bands x H x W (NaN = nodata) and masks T x 2 x H x W (snow, cloud 0..100)."""
    if not dates:
        return []
    nodata = np.isnan(data).any(axis=1)
    fractions = cloudy_fractions(np.asarray(masks).astype(np.int64), nodata, threshold)
    missing = nodata.mean(axis=(1, 2))
    return [DateCover(day, float(fractions[i]), float(missing[i])) for i, day in enumerate(dates)]


def cloud_cover_text(covers: list[DateCover], threshold: float, max_cloudy_fraction: float) -> str:
    """A few lines: each date's cloud/snow share over the area, and how many dates look usable."""
    usable = sum(cover.usable(max_cloudy_fraction) for cover in covers)
    lines = [
        f"Cloud or snow (probability >= {threshold:g}) over the area, per date, as the model counts it; "
        f"{usable} of {len(covers)} dates under {100 * max_cloudy_fraction:g} %:"
    ]
    for cover in covers:
        missing = f", no data {100 * cover.nodata:.0f} %" if cover.nodata > 0 else ""
        mark = "" if cover.usable(max_cloudy_fraction) else "  (cloudy)"
        lines.append(f"  {cover.date.isoformat()}  {100 * cover.covered:3.0f} %{missing}{mark}")
    return "\n".join(lines)
