"""How cloudy each Sentinel-2 date is over the area to map, so the user can judge a folder before a run
(the model's own filter then keeps or drops each date tile by tile with the bundle's thresholds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class DateCover:
    """One date over the area: shares (0..1) of pixels cloudy or snowy at the threshold, and without data."""

    date: date
    cloudy: float
    nodata: float

    def usable(self, max_cloudy_fraction: float) -> bool:
        """Whether the date would pass the cloud filter if the whole area were one window."""
        return self.cloudy + self.nodata < max_cloudy_fraction


def cloud_cover(dates: list[date], data: np.ndarray, masks: np.ndarray, threshold: float) -> list[DateCover]:
    """Per date, from data T x bands x H x W (NaN = nodata) and masks T x 2 x H x W (snow, cloud 0..100)."""
    covers = []
    for index, day in enumerate(dates):
        nodata = np.isnan(data[index]).any(axis=0)
        flagged = (masks[index] >= threshold).any(axis=0) & ~nodata
        pixels = nodata.size
        covers.append(DateCover(day, float(flagged.sum()) / pixels, float(nodata.sum()) / pixels))
    return covers


def cloud_cover_text(covers: list[DateCover], threshold: float, max_cloudy_fraction: float) -> str:
    """A few lines: each date's cloud/snow share over the area, and how many dates look usable."""
    usable = sum(cover.usable(max_cloudy_fraction) for cover in covers)
    lines = [
        f"Cloud or snow (probability >= {threshold:g}) over the area, per date; "
        f"{usable} of {len(covers)} dates under {100 * max_cloudy_fraction:g} %:"
    ]
    for cover in covers:
        missing = f", no data {100 * cover.nodata:.0f} %" if cover.nodata > 0 else ""
        mark = "" if cover.usable(max_cloudy_fraction) else "  (cloudy)"
        lines.append(f"  {cover.date.isoformat()}  {100 * cover.cloudy:3.0f} %{missing}{mark}")
    return "\n".join(lines)
