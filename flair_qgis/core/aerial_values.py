"""The aerial values looked at before a run: a sample of each source over the area, compared with the
range the bundle's scaling expects, so that 8-bit values in a 16-bit file, 0..1 floats or an empty band
give a warning instead of a silently wrong map."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .aerial import AerialComposition, native_range
from .area import AreaOfInterest
from .geometry import OutputGrid, transform_from_bounds

#: Pixels sampled per source (a decimated, nearest-neighbour read of the area: overviews when the file
#: has them, else one pixel every `step` in each direction).
SAMPLE_PIXELS = 4096

#: A rescaled band whose values fill less than this share of the model's range looks like data of fewer
#: bits than its type (12-bit values in a 16-bit file fill 1/16 of it, 8-bit ones 1/257).
DARK_SHARE = 1 / 4

#: Floating-point values are used as they are: below this share of the model's range they look like
#: reflectance or 0..1 values given to a model that expects 0..255.
DARK_FLOAT_SHARE = 1 / 64

#: Share of the sampled values outside the model's range (clipped) above which a warning is given.
CLIPPED_SHARE = 0.01

#: Fewer valid sampled pixels than this say nothing about a band (a tiny area, mostly nodata).
MIN_SAMPLES = 16


@dataclass(frozen=True)
class _Sample:
    """The valid sampled values of the bundle bands that one source gives, with how they are scaled."""

    source: str
    dtype: str
    native: tuple[float, float] | None  # None: floating point, used as it is
    bands: tuple[tuple[int, str, np.ndarray], ...]  # (source band, model band name, values)

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([values for _, _, values in self.bands])


def value_warnings(
    aerial: AerialComposition, grid: OutputGrid, area: AreaOfInterest | None = None
) -> list[str]:
    """Warnings for aerial values that do not fit what the bundle expects, from a sample of `grid`
    (nodata and pixels outside `area` left out): values that fill a small part of the model's range
    once scaled (too dark), values outside it (clipped), bands holding a single value."""
    warnings: list[str] = []
    for sample in _samples(aerial, grid, area):
        values = sample.values
        if values.size >= MIN_SAMPLES:
            warnings += _range_warnings(sample, values, aerial.spec.value_range)
        constant = [
            (band, name, float(v[0]))
            for band, name, v in sample.bands
            if v.size >= MIN_SAMPLES and v.min() == v.max()
        ]
        if len(constant) == 1:
            band, name, value = constant[0]
            warnings.append(
                f"{sample.source}: band {band} (the model's '{name}') holds the single value "
                f"{_number(value)} all over the area: check that it is the right band and that it has "
                "data (an empty band gives a wrong map)."
            )
        elif constant:
            bands = ", ".join(str(band) for band, _, _ in constant)
            names = ", ".join(f"'{name}'" for _, name, _ in constant)
            single = ", ".join(_number(value) for _, _, value in constant)
            warnings.append(
                f"{sample.source}: bands {bands} (the model's {names}) each hold a single value ({single}) "
                "all over the area: check that these are the right bands and that they have data (empty "
                "bands give a wrong map)."
            )
    return warnings


def _samples(aerial: AerialComposition, grid: OutputGrid, area: AreaOfInterest | None) -> list[_Sample]:
    """One _Sample per source and scaling, read on a coarse grid over `grid`'s extent."""
    step = max(1, math.ceil(math.sqrt(grid.width * grid.height / SAMPLE_PIXELS)))
    shape = (math.ceil(grid.height / step), math.ceil(grid.width / step))
    coarse = OutputGrid(grid.crs, transform_from_bounds(grid.bounds, shape), shape[1], shape[0])
    inside = area.mask(coarse) if area is not None else np.ones(shape, bool)
    samples = []
    for source in aerial.sources:
        positions = [i for i, b in enumerate(aerial.band_sources) if b.source is source]
        data = source.read(
            [aerial.band_sources[i].band for i in positions], grid.crs, grid.bounds, shape, "nearest"
        )
        groups: dict[tuple[str, tuple[float, float] | None], list[tuple[int, str, np.ndarray]]] = {}
        for k, i in enumerate(positions):
            band_source = aerial.band_sources[i]
            dtype = source.dtypes[band_source.band - 1]
            declared = band_source.input_range or source.value_ranges[band_source.band - 1]
            native = native_range(dtype, declared)
            valid = inside & ~np.ma.getmaskarray(data[k])
            values = np.ma.getdata(data[k])[valid]
            groups.setdefault((dtype, native), []).append((band_source.band, aerial.spec.bands[i], values))
        for (dtype, native), bands in groups.items():
            samples.append(_Sample(source.name, dtype, native, tuple(bands)))
    return samples


def _range_warnings(sample: _Sample, values: np.ndarray, target: tuple[float, float]) -> list[str]:
    warnings = []
    finite = np.isfinite(values)
    if not finite.all():
        warnings.append(
            f"{sample.source}: {1 - float(np.mean(finite)):.0%} of its values are infinite; they are "
            "clipped to the model's range and the map will be wrong there. Set them to the file's nodata "
            "value (e.g. gdal_calc with a nodata value), or fix the export that wrote them."
        )
        values = values[finite]
        if values.size < MIN_SAMPLES:
            return warnings
    fill = _undeclared_fill(values)
    if fill is not None:
        rest = values[values != fill]
        warnings.append(
            f"{sample.source}: {float(np.mean(values == fill)):.0%} of its pixels hold {_number(fill)}, far "
            f"from its other values ({_number(float(rest.min()))}..{_number(float(rest.max()))}), and no "
            "nodata value is declared: they are mapped as if they were image. If they are pixels without "
            f"data, declare it (gdal_edit -a_nodata {_number(fill)} FILE)."
        )
        values = rest
        if values.size < MIN_SAMPLES:
            return warnings
    low, high = float(values.min()), float(values.max())
    span = target[1] - target[0]
    observed = f"{_number(low)}..{_number(high)}"
    expected = f"{_number(target[0])}..{_number(target[1])}"
    native = sample.native
    scaled = values
    if native is not None and tuple(native) != tuple(target):
        scaled = (values - native[0]) * (span / (native[1] - native[0])) + target[0]
    top = float(scaled.max()) - target[0]
    if scaled is not values and native is not None and low >= native[0] and top < span * DARK_SHARE:
        warnings.append(
            f"{sample.source}: its values lie in {observed}, a small part of what its {sample.dtype} type "
            f"holds ({_number(native[0])}..{_number(native[1])}): scaled to the model's {expected}, "
            + _darkening_and_hint(native, low, high, target)
        )
    elif native is None and top < span * DARK_FLOAT_SHARE:
        warnings.append(
            f"{sample.source}: its values lie in {observed} but the model expects {expected} (floating-point "
            "values are used as they are): the image is far too dark and the map will be wrong. "
            f"Rescale it to {expected} (e.g. gdal_translate -scale {_number(min(low, 0))} "
            f"{_number(1 if high <= 1 else high)} {_number(target[0])} {_number(target[1])}), or give the "
            "original integer image."
        )
    outside = float(np.mean((scaled < target[0]) | (scaled > target[1])))
    if outside > CLIPPED_SHARE:
        warnings.append(
            f"{sample.source}: {outside:.0%} of its values lie outside the model's {expected} (they lie in "
            f"{observed}) and are clipped: the map will be wrong there. Rescale the image to {expected} "
            f"(e.g. gdal_translate -scale {_number(min(low, 0))} {_number(high)} {_number(target[0])} "
            f"{_number(target[1])})."
        )
    return warnings


def _darkening_and_hint(
    native: tuple[float, float], low: float, high: float, target: tuple[float, float]
) -> str:
    """How much darker than meant integer values that fill a small part of their type become, and what to
    do: 8-bit values go to an 8-bit file; values already in the model's own range (reflectance x 10000
    for a 0..10000 model) are used as they are once floating point; N-bit values are scaled from
    0..2^N-1 once declared."""
    span = target[1] - target[0]
    bits = _bits(high)
    if bits <= 8:
        darkening = (native[1] - native[0]) / 255
        hint = "If they are 8-bit values, convert the file to 8 bits (gdal_translate -ot Byte)."
    elif target[0] <= low and high <= target[1] and high - target[0] >= span * DARK_SHARE:
        darkening = (native[1] - native[0]) / span
        hint = (
            f"If they already are the model's {_number(target[0])}..{_number(target[1])}, convert the file "
            "to floating point (gdal_translate -ot Float32), whose values are used as they are."
        )
    else:
        darkening = (native[1] - native[0]) / (2**bits - 1)
        hint = (
            f"If they are {bits}-bit values, declare it (gdal_translate -co NBITS={bits}) so that "
            f"0..{2**bits - 1} is scaled to the model's range."
        )
    return f"the image is {darkening:.3g} times too dark and the map will be wrong. {hint}"


def _undeclared_fill(values: np.ndarray) -> float | None:
    """The sample's lowest or highest value when it looks like a fill for pixels without data rather
    than image: at least CLIPPED_SHARE of the pixels, and further from the other values, which must vary,
    than 4 times their spread (65535 around 8-bit values, -9999 around reflectance); else None."""
    for extreme in (float(values.min()), float(values.max())):
        share = float(np.mean(values == extreme))
        if share < CLIPPED_SHARE or share == 1.0:
            continue
        rest = values[values != extreme]
        nearest = float(rest.max()) if extreme > rest.max() else float(rest.min())
        spread = float(rest.max() - rest.min())
        if spread > 0 and abs(extreme - nearest) > 4 * max(spread, 1.0):  # two values: which is fill?
            return extreme
    return None


def _bits(high: float) -> int:
    """The bits that integer values up to `high` need: 8 at least (8-bit imagery)."""
    return max(8, math.ceil(math.log2(high + 1))) if high >= 0 else 16


def _number(value: float) -> str:
    """A value for a message: integers as they are, else 4 significant digits (no exponent)."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}" if abs(value) >= 1e-4 else f"{value:.1e}"
