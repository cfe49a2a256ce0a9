"""The model bundle's self-description: what a `.onnx` file must say about itself to be run.

A bundle is one ONNX file whose metadata property `flair_bundle` holds the JSON written by
`BundleSpec.to_json()`. This module is the single definition of that JSON: the training package
writes it, the engine reads and validates it. docs/bundle.md is its prose description.

It runs past 500 lines on purpose: each dataclass, its `to_dict` and the validation of each of its fields
(which names its dotted path) stay side by side, so that writing and reading the JSON cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from .errors import BundleError
from .nomenclature import LandCoverClass, Nomenclature

#: Key of the ONNX metadata property that holds the bundle's JSON.
METADATA_KEY = "flair_bundle"
FORMAT = "flair-bundle"
FORMAT_VERSION = 1

ARCHITECTURES = ("utt", "unet")
OUTPUT_KINDS = ("logits", "probabilities")
#: How acquisition dates become the Sentinel-2 branch's positions: days from the acquisition to the
#: reference date (positive before it), as the FLAIR #2 baseline computes them.
DATE_ENCODINGS = ("days_before_reference",)
#: How a patch's aerial metadata (position, altitude, camera, date, time) becomes the metadata vector:
#: "flair2-reference" is the FLAIR #2 baseline's 45 values (what IGN's checkpoints were trained on),
#: "flair-qgis-sinusoidal" this project's own 45 values. A bundle written before the field existed
#: used the latter.
METADATA_ENCODINGS = ("flair2-reference", "flair-qgis-sinusoidal")
DEFAULT_METADATA_ENCODING = "flair-qgis-sinusoidal"
#: Provenance key of the figures the export's ONNX Runtime vs torch check measured (ParityRecord).
PARITY_KEY = "parity"
#: The numeric precisions of a bundle's network (`model.precision`): float32, float16 weights, or int8
#: weights and activations (static QDQ quantisation).
PRECISIONS = ("fp32", "fp16", "int8")

AERIAL_BANDS = ("red", "green", "blue", "nir", "elevation")
SENTINEL2_BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class BandScaling:
    """Per-band normalisation: model value = (raw * scale - mean) / std."""

    scale: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def to_dict(self) -> dict[str, list[float]]:
        return {"scale": list(self.scale), "mean": list(self.mean), "std": list(self.std)}

    def apply(self, raw: np.ndarray, axis: int = 0, precision: type = np.float32) -> np.ndarray:
        """Model values from raw ones, the one place the rule is written: (raw * scale - mean) / std, band by
        band along `axis`, computed in `precision` (float32 for the aerial image, in the engine and in
        training alike; float64 for Sentinel-2's monthly means), returned as float32."""
        shape = [1] * raw.ndim
        shape[axis] = -1
        scale, mean, std = (
            np.asarray(v, dtype=precision).reshape(shape) for v in (self.scale, self.mean, self.std)
        )
        values = np.multiply(raw.astype(precision, copy=False), scale)  # one new array, then in place
        values -= mean
        values /= std
        return values.astype(np.float32, copy=False)


@dataclass(frozen=True)
class AerialInput:
    """The aerial image input: B x bands x tile_size x tile_size, float32, normalised."""

    name: str
    bands: tuple[str, ...]
    gsd: float  # metres per pixel
    tile_size: int
    value_range: tuple[float, float]  # the raw values the scaling expects, e.g. (0, 255) for 8-bit
    scaling: BandScaling

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bands": list(self.bands),
            "gsd": self.gsd,
            "tile_size": self.tile_size,
            "value_range": list(self.value_range),
            **self.scaling.to_dict(),
        }


@dataclass(frozen=True)
class CloudFilter:
    """A date is dropped for a tile when the share of its window's pixels whose snow or cloud
    probability reaches `probability_threshold` (0..100) is `max_cloudy_fraction` or more."""

    probability_threshold: float = 60.0
    max_cloudy_fraction: float = 0.5

    def to_dict(self) -> dict[str, float]:
        return {
            "probability_threshold": self.probability_threshold,
            "max_cloudy_fraction": self.max_cloudy_fraction,
        }


@dataclass(frozen=True)
class Sentinel2Input:
    """The Sentinel-2 time series input: B x T x bands x window x window, plus B x T positions."""

    name: str
    dates_name: str
    bands: tuple[str, ...]
    gsd: float
    window_size: int
    reference_date: str  # "MM-DD"
    date_encoding: str
    pad_value: float
    monthly_average: bool
    max_dates: int | None
    cloud_filter: CloudFilter
    scaling: BandScaling

    @property
    def reference_month_day(self) -> tuple[int, int]:
        match = _MONTH_DAY.match(self.reference_date)
        assert match, self.reference_date  # validated on construction from JSON
        return int(match.group(1)), int(match.group(2))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dates_name": self.dates_name,
            "bands": list(self.bands),
            "gsd": self.gsd,
            "window_size": self.window_size,
            "reference_date": self.reference_date,
            "date_encoding": self.date_encoding,
            "pad_value": self.pad_value,
            "monthly_average": self.monthly_average,
            "max_dates": self.max_dates,
            "cloud_filter": self.cloud_filter.to_dict(),
            **self.scaling.to_dict(),
        }


@dataclass(frozen=True)
class MetadataInput:
    """The optional aerial metadata vector (FLAIR #2's 45 values): B x size, float32, built from each
    patch's metadata with the named `encoding` (one of METADATA_ENCODINGS)."""

    name: str
    size: int
    encoding: str = DEFAULT_METADATA_ENCODING

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "encoding": self.encoding}


@dataclass(frozen=True)
class ParityRecord:
    """How closely ONNX Runtime reproduced the source network (torch) when the bundle was written.

    `class_agreement`: the share of sample pixels whose predicted class (argmax) is the same in both;
    `max_relative_logit_difference`: the largest |logit difference| divided by the logit scale (the
    largest |logit| torch produced on the same samples), so that networks whose logits reach hundreds
    and those whose logits stay near 1 are judged alike. The bundle was only written because both
    passed their thresholds.
    """

    class_agreement: float
    min_class_agreement: float
    max_relative_logit_difference: float
    tolerance: float
    logit_scale: float
    max_probability_difference: float
    sample_sets: int
    pixels: int
    precision: str  # "fp32" or "fp16"

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_agreement": self.class_agreement,
            "min_class_agreement": self.min_class_agreement,
            "max_relative_logit_difference": self.max_relative_logit_difference,
            "tolerance": self.tolerance,
            "logit_scale": self.logit_scale,
            "max_probability_difference": self.max_probability_difference,
            "sample_sets": self.sample_sets,
            "pixels": self.pixels,
            "precision": self.precision,
        }

    def summary(self) -> str:
        """One line for people: what was compared and how closely it agreed."""
        return (
            f"ONNX Runtime vs torch ({self.precision}, {self.sample_sets} sample sets, {self.pixels} pixels): "
            f"class agreement {100 * self.class_agreement:.4f} % (at least {100 * self.min_class_agreement:g} %); "
            f"max logit difference {self.max_relative_logit_difference:.3g} of the logit scale "
            f"{self.logit_scale:.3g} (tolerance {self.tolerance:g}); "
            f"max probability difference {self.max_probability_difference:.3g}"
        )


@dataclass(frozen=True)
class OutputSpec:
    """The model's output: B x classes x tile_size x tile_size, channel i for nomenclature class i."""

    name: str
    kind: str  # "logits" (softmax applied by the engine) or "probabilities"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}


@dataclass(frozen=True)
class BundleSpec:
    """Everything the engine needs to know to run a bundle and to present its result."""

    model_name: str
    model_version: str
    architecture: str
    aerial: AerialInput
    sentinel2: Sentinel2Input | None
    aerial_metadata: MetadataInput | None
    output: OutputSpec
    nomenclature: Nomenclature
    provenance: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    precision: str = "fp32"  # one of PRECISIONS

    @property
    def needs_sentinel2(self) -> bool:
        return self.sentinel2 is not None

    def model_summary(self) -> dict[str, str]:
        """Which model made a map, for its statistics file: name, version, architecture and precision
        ("fp32", "fp16" or "int8")."""
        return {
            "name": self.model_name,
            "version": self.model_version,
            "architecture": self.architecture,
            "precision": self.precision,
        }

    @property
    def parity(self) -> ParityRecord | None:
        """The export's parity figures recorded in the provenance (validated on reading), if any."""
        record = self.provenance.get(PARITY_KEY)
        return _parity(_Fields(record, f"provenance.{PARITY_KEY}")) if record is not None else None

    def to_dict(self) -> dict[str, Any]:
        inputs: dict[str, Any] = {"aerial": self.aerial.to_dict()}
        if self.sentinel2 is not None:
            inputs["sentinel2"] = self.sentinel2.to_dict()
        if self.aerial_metadata is not None:
            inputs["aerial_metadata"] = self.aerial_metadata.to_dict()
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": {
                "name": self.model_name,
                "version": self.model_version,
                "architecture": self.architecture,
                "description": self.description,
                "precision": self.precision,
            },
            "inputs": inputs,
            "output": self.output.to_dict(),
            "nomenclature": self.nomenclature.to_dict(),
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> BundleSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(f"The bundle's metadata is not valid JSON: {exc}", METADATA_KEY) from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> BundleSpec:
        """Build and validate a spec; a missing or contradictory field raises BundleError naming it."""
        root = _Fields(data, "")
        if root.get("format", str) != FORMAT:
            raise BundleError(f"This is not a flair bundle (format must be '{FORMAT}')", "format")
        version = root.get("format_version", int)
        if version > FORMAT_VERSION:
            raise BundleError(
                f"The bundle uses format version {version}; this plugin reads up to {FORMAT_VERSION}",
                "format_version",
                "Update the plugin to run this model.",
            )
        model = root.sub("model")
        architecture = model.choice("architecture", ARCHITECTURES)
        inputs = root.sub("inputs")
        aerial = _aerial(inputs.sub("aerial"))
        sentinel2 = _sentinel2(inputs.sub("sentinel2")) if inputs.has("sentinel2") else None
        metadata = None
        if inputs.has("aerial_metadata"):
            meta = inputs.sub("aerial_metadata")
            encoding = (
                meta.choice("encoding", METADATA_ENCODINGS)
                if meta.has("encoding")
                else DEFAULT_METADATA_ENCODING
            )
            metadata = MetadataInput(meta.get("name", str), meta.positive_int("size"), encoding)
        if architecture == "utt" and sentinel2 is None:
            raise BundleError("A U-T&T bundle must describe its Sentinel-2 input", "inputs.sentinel2")
        if architecture == "unet" and sentinel2 is not None:
            raise BundleError("An aerial-only U-Net bundle cannot take Sentinel-2", "inputs.sentinel2")
        out = root.sub("output")
        output = OutputSpec(out.get("name", str), out.choice("kind", OUTPUT_KINDS))
        nomenclature = _nomenclature(root.sub("nomenclature"))
        names = [aerial.name, output.name]
        if sentinel2 is not None:
            names += [sentinel2.name, sentinel2.dates_name]
        if metadata is not None:
            names.append(metadata.name)
        if len(set(names)) != len(names):
            raise BundleError(f"Input and output names must differ, got {names}", "inputs")
        provenance = root.get("provenance", dict) if root.has("provenance") else {}
        parity = None
        if provenance.get(PARITY_KEY) is not None:
            parity = _parity(root.sub("provenance").sub(PARITY_KEY))
        if model.has("precision"):
            precision = model.choice("precision", PRECISIONS)
        else:  # bundles written before the field: their export's parity check says it
            precision = parity.precision if parity is not None else "fp32"
        return cls(
            model_name=model.get("name", str),
            model_version=str(model.get("version", (str, int, float))),
            architecture=architecture,
            aerial=aerial,
            sentinel2=sentinel2,
            aerial_metadata=metadata,
            output=output,
            nomenclature=nomenclature,
            provenance=provenance,
            description=model.get("description", str) if model.has("description") else "",
            precision=precision,
        )


class _Fields:
    """Typed access to one JSON object, raising BundleError with the dotted field path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise BundleError("Expected an object", path or "<root>")
        self.data = data
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.data or self.data[key] is None:
            raise BundleError("A required field is missing", self._name(key))
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise BundleError(f"Expected a finite number, got {value!r}", self._name(key))
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise BundleError(f"Expected {names}, got {value!r}", self._name(key))
        return value

    def sub(self, key: str) -> _Fields:
        return _Fields(self.get(key, dict), self._name(key))

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.get(key, str)
        if value not in allowed:
            raise BundleError(f"Unknown value '{value}', expected one of {list(allowed)}", self._name(key))
        return value

    def positive_int(self, key: str) -> int:
        value = self.get(key, int)
        if value <= 0:
            raise BundleError(f"Must be positive, got {value}", self._name(key))
        return value

    def positive_float(self, key: str) -> float:
        value = self.get(key, float)
        if not value > 0:
            raise BundleError(f"Must be positive, got {value}", self._name(key))
        return value

    def floats(self, key: str, length: int) -> tuple[float, ...]:
        values = self.get(key, list)
        if len(values) != length:
            raise BundleError(f"Expected {length} values, got {len(values)}", self._name(key))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise BundleError(f"Expected numbers, got {values!r}", self._name(key))
        if not all(math.isfinite(v) for v in values):
            raise BundleError(f"Expected finite numbers, got {values!r}", self._name(key))
        return tuple(float(v) for v in values)

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.get(key, list)
        if not values or not all(isinstance(v, str) for v in values):
            raise BundleError(f"Expected a non-empty list of names, got {values!r}", self._name(key))
        if len(set(values)) != len(values):
            raise BundleError(f"Names repeat: {values}", self._name(key))
        return tuple(values)

    def scaling(self, length: int) -> BandScaling:
        scaling = BandScaling(
            self.floats("scale", length), self.floats("mean", length), self.floats("std", length)
        )
        if any(not s > 0 for s in scaling.std):
            raise BundleError(f"Standard deviations must be positive, got {scaling.std}", self._name("std"))
        return scaling


def _is_month_day(month: int, day: int) -> bool:
    """Whether month-day exists in some year (29 February does, in leap years)."""
    try:
        date(2000, month, day)
    except ValueError:
        return False
    return True


def _aerial(f: _Fields) -> AerialInput:
    bands = f.strings("bands")
    unknown = [b for b in bands if b not in AERIAL_BANDS]
    if unknown:
        raise BundleError(
            f"Unknown aerial bands {unknown}, expected names from {list(AERIAL_BANDS)}", f._name("bands")
        )
    low, high = f.floats("value_range", 2)
    if not high > low:
        raise BundleError(f"The range must increase, got [{low}, {high}]", f._name("value_range"))
    return AerialInput(
        name=f.get("name", str),
        bands=bands,
        gsd=f.positive_float("gsd"),
        tile_size=f.positive_int("tile_size"),
        value_range=(low, high),
        scaling=f.scaling(len(bands)),
    )


def _sentinel2(f: _Fields) -> Sentinel2Input:
    bands = f.strings("bands")
    unknown = [b for b in bands if b not in SENTINEL2_BANDS]
    if unknown:
        raise BundleError(
            f"Unknown Sentinel-2 bands {unknown}, expected names from {list(SENTINEL2_BANDS)}",
            f._name("bands"),
        )
    reference = f.get("reference_date", str)
    match = _MONTH_DAY.match(reference)
    if not match or not _is_month_day(int(match.group(1)), int(match.group(2))):
        raise BundleError(
            f"Expected a calendar month and day 'MM-DD' (e.g. '05-15'), got '{reference}'",
            f._name("reference_date"),
        )
    clouds = f.sub("cloud_filter")
    threshold = clouds.get("probability_threshold", float)
    fraction = clouds.get("max_cloudy_fraction", float)
    if not 0 <= threshold <= 100:
        raise BundleError(f"Must lie in 0..100, got {threshold}", clouds._name("probability_threshold"))
    if not 0 < fraction <= 1:
        raise BundleError(f"Must lie in (0, 1], got {fraction}", clouds._name("max_cloudy_fraction"))
    max_dates = f.positive_int("max_dates") if f.has("max_dates") else None
    return Sentinel2Input(
        name=f.get("name", str),
        dates_name=f.get("dates_name", str),
        bands=bands,
        gsd=f.positive_float("gsd"),
        window_size=f.positive_int("window_size"),
        reference_date=reference,
        date_encoding=f.choice("date_encoding", DATE_ENCODINGS),
        pad_value=f.get("pad_value", float),
        monthly_average=f.get("monthly_average", bool),
        max_dates=max_dates,
        cloud_filter=CloudFilter(threshold, fraction),
        scaling=f.scaling(len(bands)),
    )


def _parity(f: _Fields) -> ParityRecord:
    fractions = {}
    for key in ("class_agreement", "min_class_agreement"):
        fractions[key] = f.get(key, float)
        if not 0 <= fractions[key] <= 1:
            raise BundleError(f"Must lie in 0..1, got {fractions[key]}", f._name(key))
    differences = {}
    for key in ("max_relative_logit_difference", "tolerance", "logit_scale", "max_probability_difference"):
        differences[key] = f.get(key, float)
        if not differences[key] >= 0:
            raise BundleError(f"Must be 0 or more, got {differences[key]}", f._name(key))
    return ParityRecord(
        **fractions,
        **differences,
        sample_sets=f.positive_int("sample_sets"),
        pixels=f.positive_int("pixels"),
        precision=f.choice("precision", ("fp32", "fp16")),
    )


def _nomenclature(f: _Fields) -> Nomenclature:
    classes = []
    for index, item in enumerate(f.get("classes", list)):
        c = _Fields(item, f._name(f"classes[{index}]"))
        code = c.get("code", int)
        if not 1 <= code <= 255:
            raise BundleError(f"Class codes must lie in 1..255 (0 is nodata), got {code}", c._name("code"))
        colour = c.get("colour", str)
        if not _COLOUR.match(colour):
            raise BundleError(f"Expected a colour '#rrggbb', got '{colour}'", c._name("colour"))
        name = c.get("name", str)
        classes.append(
            LandCoverClass(code, name, c.get("name_fr", str) if c.has("name_fr") else name, colour)
        )
    if not classes:
        raise BundleError("The nomenclature has no class", f._name("classes"))
    codes = [c.code for c in classes]
    if len(set(codes)) != len(codes):
        raise BundleError(f"Class codes repeat: {codes}", f._name("classes"))
    return Nomenclature(f.get("name", str), tuple(classes))


def flair2_aerial_input(tile_size: int = 512, scaling: BandScaling | None = None) -> AerialInput:
    """The FLAIR #2 baseline's aerial input: R, G, B, NIR, elevation at 0.2 m, 8-bit values / 255."""
    n = len(AERIAL_BANDS)
    return AerialInput(
        name="aerial",
        bands=AERIAL_BANDS,
        gsd=0.2,
        tile_size=tile_size,
        value_range=(0.0, 255.0),
        scaling=scaling or BandScaling((1 / 255,) * n, (0.0,) * n, (1.0,) * n),
    )


def flair2_sentinel2_input(window_size: int = 40, scaling: BandScaling | None = None) -> Sentinel2Input:
    """The FLAIR #2 baseline's Sentinel-2 input: 10 bands, reflectance x 10000 fed as it is, 40 x 40
    px windows, dates filtered at 60 % probability over half the window and averaged per month."""
    n = len(SENTINEL2_BANDS)
    return Sentinel2Input(
        name="sentinel2",
        dates_name="sentinel2_dates",
        bands=SENTINEL2_BANDS,
        gsd=10.0,
        window_size=window_size,
        reference_date="05-15",
        date_encoding="days_before_reference",
        pad_value=0.0,
        monthly_average=True,
        max_dates=None,
        cloud_filter=CloudFilter(60.0, 0.5),
        scaling=scaling or BandScaling((1.0,) * n, (0.0,) * n, (1.0,) * n),
    )
