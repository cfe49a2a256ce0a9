"""The statistics as shown in the Processing log."""

from __future__ import annotations

from flair_qgis.core.output_kinds import ClassStatistics
from flair_qgis.core.statistics_table import statistics_rows, statistics_text


def test_statistics_text_is_an_aligned_table():
    rows = [ClassStatistics(1, "building", 100, 0.04, 25.0), ClassStatistics(10, "pelouse", 300, 0.12, 75.0)]
    assert statistics_rows(rows) == [(1, "building", 0.04, 25.0), (10, "pelouse", 0.12, 75.0)]
    assert statistics_text(rows).splitlines() == [
        "code  class                      hectares      %",
        "   1  building                     0.0400  25.00",
        "  10  pelouse                      0.1200  75.00",
    ]
