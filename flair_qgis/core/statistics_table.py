"""The statistics of a map as the user reads them: (code, class, hectares, percent) rows for the dialog's
table and an aligned text table for the Processing log and the command line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def statistics_rows(statistics: Sequence[Any]) -> list[tuple[int, str, float, float]]:
    """(code, class name, hectares, percent) per class from the engine's ClassStatistics."""
    return [(int(s.code), str(s.name), float(s.hectares), float(s.percent)) for s in statistics]


def statistics_text(statistics: Sequence[Any]) -> str:
    """An aligned text table: code, class, hectares, percent."""
    lines = [f"{'code':>4}  {'class':<24} {'hectares':>10} {'%':>6}"]
    for code, name, hectares, percent in statistics_rows(statistics):
        lines.append(f"{code:>4}  {name:<24} {hectares:>10.4f} {percent:>6.2f}")
    return "\n".join(lines)
