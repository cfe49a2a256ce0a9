"""What the command line's commands share: the aerial and area arguments, a switch per optional output,
and the one-line progress bar."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ..core.errors import InputError

_BANDS = re.compile(r"^\d+(,\d+)*$")
_AREA = re.compile(r"^\s*([^,@]+),([^,@]+),([^,@]+),([^,@]+?)\s*(?:@\s*(\S+))?\s*$")


def add_output_flags(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """A switch per optional output of the table (output_kinds) that has one, or of those `names`."""
    from ..core.output_kinds import output_kinds

    for kind in output_kinds():
        if kind.cli_flag and (names is None or kind.name in names):
            parser.add_argument(
                kind.cli_flag, dest=f"output_{kind.name}", action="store_true", help=kind.cli_help
            )


def asked_outputs(args: argparse.Namespace) -> list[str]:
    """The optional outputs whose switch (add_output_flags) is on."""
    return [
        name.removeprefix("output_") for name, on in vars(args).items() if name.startswith("output_") and on
    ]


def parse_aerial(values: Sequence[str]) -> Any:
    """--aerial values -> the engine's aerial argument: one path, or (path, band) per model band."""
    items: list[tuple[str, int]] = []
    if len(values) == 1 and not _split_bands(values[0])[1]:
        return values[0]
    for value in values:
        path, bands = _split_bands(value)
        if not bands:
            raise InputError(
                f"--aerial {value}: give the bands to take from it (e.g. {value}:1,2,3) when composing "
                "the model's bands from several rasters"
            )
        items += [(path, band) for band in bands]
    return items


def area_argument(args: argparse.Namespace, aerial: Any) -> Any:
    """The area of --area (in the first aerial raster's CRS unless @CRS follows) or --area-file, None for
    the whole image: one reading for `predict` and `plan`."""
    from ..core.area import AreaOfInterest
    from ..core.rasters import RasterioSource

    if args.area:
        first = aerial if isinstance(aerial, str) else aerial[0][0]
        return parse_area(args.area, RasterioSource(first).crs)
    if args.area_file:
        return AreaOfInterest.from_geojson_file(args.area_file)
    return None


def parse_area(text: str, default_crs: str) -> Any:
    """'xmin,ymin,xmax,ymax[@CRS]' -> an AreaOfInterest (in `default_crs` when no CRS is given)."""
    from ..core.area import AreaOfInterest

    match = _AREA.match(text)
    if not match:
        raise InputError(f"--area {text}: expected XMIN,YMIN,XMAX,YMAX or XMIN,YMIN,XMAX,YMAX@EPSG:CODE")
    try:
        bounds = [float(v) for v in match.groups()[:4]]
    except ValueError as exc:
        raise InputError(f"--area {text}: the bounds must be numbers") from exc
    return AreaOfInterest.from_bounds(bounds, match.group(5) or default_crs)


def _split_bands(value: str) -> tuple[str, list[int]]:
    path, sep, tail = value.rpartition(":")
    if sep and _BANDS.match(tail):
        return path, [int(b) for b in tail.split(",")]
    return value, []


class ProgressBar:
    """A one-line text progress bar (fraction and message) on a stream, redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last = 0.0
        self._shown = False

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and fraction < 1.0:
            return
        self._last = now
        filled = round(max(0.0, min(1.0, fraction)) * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {message[:60]:<60}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
