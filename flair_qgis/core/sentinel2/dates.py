"""Acquisition dates and MGRS tiles read from Sentinel-2 product and file names.

One parser for every naming scheme the plugin meets (ESA SAFE, Theia/MAJA, FLAIR #2 `_products.txt`
lines, user GeoTIFFs), so that a date is never guessed from fixed character positions.
"""

from __future__ import annotations

import re
from datetime import date

#: ESA: S2B_MSIL2A_20210114T105331_N0500_R051_T31TCJ_20230523T123456 (acquisition first, generation last)
_SAFE = re.compile(r"S2[A-D]_MSI[A-Z0-9]{3}_(\d{4})(\d{2})(\d{2})T\d{6}", re.IGNORECASE)
#: Theia/MAJA: SENTINEL2A_20210114-105852-555_L2A_T31TCJ_C_V2-2
_THEIA = re.compile(r"SENTINEL2[A-D]_(\d{4})(\d{2})(\d{2})-\d{6}", re.IGNORECASE)
#: Any other name: a date written YYYYMMDD or YYYY-MM-DD (or YYYY_MM_DD) not glued to other digits.
_GENERIC = re.compile(r"(?<!\d)(\d{4})([-_]?)(\d{2})\2(\d{2})(?!\d)")
#: MGRS tile as written in product names: T31TCJ (zone 01..60, latitude band C..X, 100 km square).
_TILE = re.compile(r"(?:^|[_\W])T(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})(?=$|[_\W])", re.IGNORECASE)

#: Sentinel-2A was launched in 2015; anything outside this span is not an acquisition date.
FIRST_YEAR, LAST_YEAR = 2015, 2100


def _valid(year: str, month: str, day: str) -> date | None:
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return value if FIRST_YEAR <= value.year <= LAST_YEAR else None


def parse_date(name: str) -> date | None:
    """The acquisition date written in a product or file name, or None when it holds none.

    Recognises ESA SAFE names, Theia names and free names holding YYYYMMDD or YYYY-MM-DD; the first
    valid date wins (in a SAFE name that is the acquisition, not the processing date).
    """
    for pattern in (_SAFE, _THEIA):
        match = pattern.search(name)
        if match:
            found = _valid(*match.groups())
            if found:
                return found
    for match in _GENERIC.finditer(name):
        found = _valid(match.group(1), match.group(3), match.group(4))
        if found:
            return found
    return None


def parse_tile(name: str) -> str | None:
    """The MGRS tile written in a product name ("31TCJ" for ..._T31TCJ_...), or None."""
    match = _TILE.search(name)
    return match.group(1).upper() if match else None


def month_day_in_year(year: int, month: int, day: int) -> date:
    """`month`-`day` in `year`; 29 February falls back to the 28th in a common year."""
    try:
        return date(year, month, day)
    except ValueError:
        if month == 2 and day == 29:
            return date(year, 2, 28)
        raise
