"""Export a trained network to the model bundle the plugin runs: one ONNX file whose metadata property
`flair_bundle` describes its inputs, classes and provenance (flair_qgis.core.bundle_spec).

The export runs ONNX Runtime on sample inputs and compares its outputs with torch's on what decides the
map: the predicted class of every pixel (argmax agreement) and the logits relative to their own scale (a
network whose logits reach several hundred differs from itself between fp32 implementations by more, in
absolute terms, than one whose logits stay near 1). A bundle that fails either check is never written
(nothing appears at the output path); one that passes records both figures in its provenance.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from flair_qgis.core.bundle_spec import (
    DEFAULT_METADATA_ENCODING,
    METADATA_KEY,
    PARITY_KEY,
    AerialInput,
    BundleSpec,
    MetadataInput,
    OutputSpec,
    ParityRecord,
    Sentinel2Input,
)
from flair_qgis.core.errors import FlairError, OutputError
from flair_qgis.core.nomenclature import FLAIR_13, Nomenclature

from . import __version__
from .models import UTT
from .quantize import INT8_MIN_AGREEMENT, QUANTIZATION_KEY, QuantizationRefused, TileSamples, quantize_int8

OPSET = 17
#: Largest accepted |logit difference| between ONNX Runtime and torch, as a fraction of the logit scale
#: (the largest |logit| torch gives on the samples). fp32 implementations differ by about 1e-6 of it.
FP32_TOLERANCE = 1e-4
#: The same for an fp16 bundle (half precision keeps about 3 significant digits), against fp32 torch.
FP16_TOLERANCE = 1e-2
#: Least accepted share of sample pixels whose class (argmax) ONNX Runtime and torch agree on: only
#: pixels whose two best classes are within rounding of each other may differ.
FP32_MIN_AGREEMENT = 0.999
FP16_MIN_AGREEMENT = 0.99


class ExportError(FlairError):
    """The bundle could not be produced or does not reproduce the network; nothing was written."""


class BundleNetwork(nn.Module):
    """The network as the bundle runs it: named float32 inputs -> logits B x K x S x S."""

    def __init__(self, model: nn.Module, utt: bool, half: bool = False) -> None:
        super().__init__()
        self.model = model
        self.utt = utt
        self.half = half

    def _cast(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.half() if self.half else tensor

    def forward(self, aerial: torch.Tensor, *sentinel2_and_metadata: torch.Tensor) -> torch.Tensor:
        # the dates stay float32: the positional encoding needs their precision
        extra = [t if i == 1 else self._cast(t) for i, t in enumerate(sentinel2_and_metadata)]
        inputs = [self._cast(aerial), *extra]
        logits = self.model.segment(*inputs) if self.utt else self.model(*inputs)
        return logits.float()


@dataclass
class ExportReport:
    """What the export wrote and what its ONNX Runtime vs torch check measured."""

    path: Path
    parity: ParityRecord
    checked_shapes: list[dict[str, tuple[int, ...]]]
    fp16: bool
    #: for an int8 bundle, its calibration and class agreement with the fp32 bundle (QuantizationRecord)
    quantization: object | None = None

    @property
    def max_probability_difference(self) -> float:
        return self.parity.max_probability_difference

    @property
    def tolerance(self) -> float:
        return self.parity.tolerance


def bundle_spec(
    aerial: AerialInput,
    sentinel2: Sentinel2Input | None,
    metadata_size: int | None = None,
    nomenclature: Nomenclature = FLAIR_13,
    metadata_encoding: str = DEFAULT_METADATA_ENCODING,
    name: str = "flair2-utt",
    version: str = "1",
    description: str = "",
    provenance: dict | None = None,
) -> BundleSpec:
    """The bundle description of a U-T&T (with `sentinel2`) or aerial-only U-Net (without); with
    `metadata_size`, the aerial metadata input built with `metadata_encoding`."""
    return BundleSpec(
        model_name=name,
        model_version=version,
        architecture="utt" if sentinel2 is not None else "unet",
        aerial=aerial,
        sentinel2=sentinel2,
        aerial_metadata=(
            MetadataInput("aerial_metadata", metadata_size, metadata_encoding) if metadata_size else None
        ),
        output=OutputSpec("logits", "logits"),
        nomenclature=nomenclature,
        provenance={
            "exported_by": f"flair-training {__version__}",
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(provenance or {}),
        },
        description=description,
    )


def training_data_text(records: list[dict]) -> str:
    """The training roots a run recorded (train.training_data_record), as one line for the provenance."""
    parts = []
    for record in records:
        if record.get("kind") == "corrections":
            text = f"corrections {record.get('domain') or ''} at {record['root']}: {record.get('patches')} patches, "
            text += f"{record.get('corrected_pixels')} corrected pixels"
            if record.get("predicted_pixels"):
                text += f", {record['predicted_pixels']} from confident predictions"
            if record.get("author"):
                text += f", by {record['author']}"
            if record.get("written"):
                text += f" ({str(record['written'])[:10]})"
        else:
            text = f"{record.get('kind', 'FLAIR #2 layout')} at {record['root']}"
        parts.append(text)
    return "; ".join(parts)


def export_provenance(path: str | Path, checkpoint: dict, config: dict) -> dict:
    """The provenance of a bundle exported from a checkpoint of `flair-train fit`: the checkpoint (name,
    path, SHA-256, epoch), the model the run started from (--init), its training data (the roots, with a
    corrections dataset's patches, corrected pixels and author), when it was trained, its configuration."""
    from .checkpoints import file_sha256

    path = Path(path)
    recorded = (checkpoint.get("hyper_parameters") or {}).get("provenance") or {}
    provenance = {
        "source": "flair-train fit",
        "checkpoint": path.name,
        "checkpoint_path": str(path.resolve()),
        "checkpoint_sha256": file_sha256(path),
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
    }
    base = recorded.get("base_model")
    provenance["base_model"] = base.get("text") if isinstance(base, dict) else "none (trained from scratch)"
    if recorded.get("training_data"):
        provenance["training_data"] = training_data_text(recorded["training_data"])
    if recorded.get("trained_at"):
        provenance["trained_at"] = recorded["trained_at"]
    provenance["config"] = config
    return provenance


def sample_inputs(spec: BundleSpec, batch: int, dates: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Plausible normalised inputs for the checks: raw values in the spec's range scaled as the engine
    scales them; with several samples, the last one's series is padded to half its length."""
    rng = np.random.default_rng(seed)
    a = spec.aerial
    low, high = a.value_range
    raw = rng.uniform(low, high, size=(batch, len(a.bands), a.tile_size, a.tile_size))
    inputs = {a.name: _normalise(raw, a.scaling.scale, a.scaling.mean, a.scaling.std)}
    if spec.sentinel2 is not None:
        s = spec.sentinel2
        raw = rng.uniform(200, 5000, size=(batch, dates, len(s.bands), s.window_size, s.window_size))
        series = _normalise(raw, s.scaling.scale, s.scaling.mean, s.scaling.std, band_axis=2)
        positions = np.sort(rng.uniform(-230, 135, size=(batch, dates)), axis=1)[:, ::-1].astype(np.float32)
        if batch > 1 and dates > 1:
            keep = dates // 2
            series[-1, keep:] = s.pad_value
            positions[-1, keep:] = 0.0
        inputs[s.name] = series
        inputs[s.dates_name] = np.ascontiguousarray(positions)
    if spec.aerial_metadata is not None:
        inputs[spec.aerial_metadata.name] = rng.normal(size=(batch, spec.aerial_metadata.size)).astype(
            np.float32
        )
    return inputs


def _normalise(raw: np.ndarray, scale, mean, std, band_axis: int = 1) -> np.ndarray:
    shape = [1] * raw.ndim
    shape[band_axis] = -1
    values = (raw * np.reshape(scale, shape) - np.reshape(mean, shape)) / np.reshape(std, shape)
    return values.astype(np.float32)


def _input_names(spec: BundleSpec) -> list[str]:
    names = [spec.aerial.name]
    if spec.sentinel2 is not None:
        names += [spec.sentinel2.name, spec.sentinel2.dates_name]
    if spec.aerial_metadata is not None:
        names.append(spec.aerial_metadata.name)
    return names


def _dynamic_axes(spec: BundleSpec) -> dict[str, dict[int, str]]:
    axes = {spec.aerial.name: {0: "batch"}, spec.output.name: {0: "batch"}}
    if spec.sentinel2 is not None:
        axes[spec.sentinel2.name] = {0: "batch", 1: "dates"}
        axes[spec.sentinel2.dates_name] = {0: "batch", 1: "dates"}
    if spec.aerial_metadata is not None:
        axes[spec.aerial_metadata.name] = {0: "batch"}
    return axes


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class _Agreement:
    """Running totals of the parity check over sample sets."""

    agreeing: int = 0
    pixels: int = 0
    worst_relative: float = 0.0
    scale: float = 0.0
    worst_probability: float = 0.0
    sets: int = 0

    def add(self, actual: np.ndarray, expected: np.ndarray) -> None:
        scale = max(float(np.abs(expected).max()), 1e-6)
        self.worst_relative = max(self.worst_relative, float(np.abs(actual - expected).max()) / scale)
        self.scale = max(self.scale, scale)
        self.worst_probability = max(
            self.worst_probability, float(np.abs(_softmax(actual) - _softmax(expected)).max())
        )
        same = actual.argmax(axis=1) == expected.argmax(axis=1)
        self.agreeing += int(same.sum())
        self.pixels += same.size
        self.sets += 1


def check_parity(
    network: nn.Module,
    path: Path,
    spec: BundleSpec,
    shapes: list[tuple[int, int]],
    tolerance: float = FP32_TOLERANCE,
    min_agreement: float = FP32_MIN_AGREEMENT,
    precision: str = "fp32",
) -> tuple[ParityRecord, list[dict[str, tuple[int, ...]]]]:
    """Run the bundle at `path` with ONNX Runtime and `network` (named inputs -> logits, in torch) on
    sample sets of the given (batch, dates) and measure how closely they agree: the share of pixels with
    the same predicted class, and the largest |logit difference| relative to the largest |logit| torch
    gives on each set. Nothing is judged here: see `verify_parity`."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    totals, checked = _Agreement(), []
    for seed, (batch, dates) in enumerate(shapes):
        inputs = sample_inputs(spec, batch, dates, seed=seed)
        with torch.no_grad():
            expected = network(*(torch.from_numpy(inputs[n]) for n in _input_names(spec))).numpy()
        actual = session.run([spec.output.name], inputs)[0]
        if actual.shape != expected.shape:
            raise ExportError(
                f"ONNX Runtime returned {actual.shape}, torch {expected.shape} for batch {batch}, {dates} dates"
            )
        totals.add(actual, expected)
        checked.append({name: tuple(value.shape) for name, value in inputs.items()})
    record = ParityRecord(
        class_agreement=totals.agreeing / totals.pixels,
        min_class_agreement=min_agreement,
        max_relative_logit_difference=totals.worst_relative,
        tolerance=tolerance,
        logit_scale=totals.scale,
        max_probability_difference=totals.worst_probability,
        sample_sets=totals.sets,
        pixels=totals.pixels,
        precision=precision,
    )
    return record, checked


def verify_parity(
    network: nn.Module,
    path: Path,
    spec: BundleSpec,
    shapes: list[tuple[int, int]],
    tolerance: float = FP32_TOLERANCE,
    min_agreement: float = FP32_MIN_AGREEMENT,
    precision: str = "fp32",
) -> tuple[ParityRecord, list[dict[str, tuple[int, ...]]]]:
    """check_parity, then raise ExportError (with both figures) unless the logits agree within
    `tolerance` of their scale and the classes on at least `min_agreement` of the pixels."""
    record, checked = check_parity(network, path, spec, shapes, tolerance, min_agreement, precision)
    if not (record.max_relative_logit_difference <= tolerance and record.class_agreement >= min_agreement):
        raise ExportError(
            "ONNX Runtime does not reproduce torch: "
            f"class agreement {100 * record.class_agreement:.4f} % (at least {100 * min_agreement:g} % "
            f"needed), max logit difference {record.max_relative_logit_difference:.3g} of the logit scale "
            f"{record.logit_scale:.3g} (tolerance {tolerance:g}); the bundle was not written",
            "Check the model for operations that export differently, or export in fp32; "
            "--tolerance sets another relative logit tolerance if you know why the figures differ.",
        )
    return record, checked


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def export_bundle(
    model: nn.Module,
    spec: BundleSpec,
    output: str | Path,
    *,
    fp16: bool = False,
    overwrite: bool = False,
    tolerance: float | None = None,
    min_agreement: float | None = None,
    opset: int = OPSET,
    int8: TileSamples | None = None,
    int8_min_agreement: float = INT8_MIN_AGREEMENT,
) -> ExportReport:
    """Write `model` (UTT, AerialUNet or a module with their call signature, any weights) as a bundle at
    `output` after checking parity, with the parity figures in the bundle's provenance (`parity`).

    Raises OutputError when `output` exists (without overwrite) and ExportError when ONNX Runtime's
    logits differ from torch's by more than `tolerance` of their scale (default 1e-4 fp32, 1e-2 fp16) or
    its classes agree on less than `min_agreement` of the sample pixels (default 0.999 fp32, 0.99 fp16);
    in both cases nothing is written at `output`.

    With `int8` (calibration and held-out tiles), the checked fp32 graph is quantised (quantize.py) and
    the int8 bundle written only when its classes agree with the fp32 bundle's on at least
    `int8_min_agreement` of the held-out pixels (ExportError otherwise, nothing written); the figures go
    into its provenance (`quantization`) and its `model.precision` is "int8".
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists", "Choose another path or pass --overwrite.")
    if not output.parent.is_dir():
        raise OutputError(f"The folder {output.parent} does not exist")
    utt = isinstance(model, UTT)
    if utt != (spec.sentinel2 is not None):
        raise ExportError(
            f"A {type(model).__name__} cannot be exported with a '{spec.architecture}' bundle description"
        )
    tolerance = tolerance if tolerance is not None else (FP16_TOLERANCE if fp16 else FP32_TOLERANCE)
    if min_agreement is None:
        min_agreement = FP16_MIN_AGREEMENT if fp16 else FP32_MIN_AGREEMENT
    if not tolerance >= 0 or not 0 <= min_agreement <= 1:
        raise ExportError(
            f"The tolerance must be 0 or more and the class agreement in 0..1, got {tolerance} and {min_agreement}"
        )
    if int8 is not None and fp16:
        raise ExportError("A bundle is either fp16 or int8, not both", "Choose --fp16 or --int8.")
    if int8 is not None and not 0 <= int8_min_agreement <= 1:
        raise ExportError(f"The int8 class agreement must lie in 0..1, got {int8_min_agreement}")
    model = model.eval()
    reference = BundleNetwork(model, utt).eval()  # fp32 torch: what the bundle must reproduce
    network = BundleNetwork(copy.deepcopy(model).half(), utt, half=True).eval() if fp16 else reference
    BundleSpec.from_json(spec.to_json())  # the engine must be able to read what we write
    handle, temporary = tempfile.mkstemp(suffix=".onnx.part", dir=output.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    quantized = temporary_path.with_suffix(".int8.part")
    quantization = None
    try:
        example = sample_inputs(spec, batch=2, dates=3)
        args = tuple(torch.from_numpy(example[n]) for n in _input_names(spec))
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                network,
                args,
                str(temporary_path),
                input_names=_input_names(spec),
                output_names=[spec.output.name],
                dynamic_axes=_dynamic_axes(spec),
                opset_version=opset,
                dynamo=False,
            )
        proto = onnx.load(str(temporary_path))
        _set_description(proto, spec)
        proto.producer_name = "flair-training"
        onnx.checker.check_model(proto)
        onnx.save(proto, str(temporary_path))
        shapes = [(2, 3), (1, 5), (3, 1)] if spec.sentinel2 is not None else [(2, 1), (1, 1), (3, 1)]
        precision = "fp16" if fp16 else "fp32"
        parity, checked = verify_parity(
            reference, temporary_path, spec, shapes, tolerance, min_agreement, precision
        )
        spec = replace(
            spec, provenance={**spec.provenance, PARITY_KEY: parity.to_dict()}, precision=precision
        )
        BundleSpec.from_json(spec.to_json())
        _set_description(proto, spec)  # the graph is the one checked; only its description grows
        onnx.save(proto, str(temporary_path))
        if int8 is not None:
            quantization = quantize_int8(
                temporary_path, quantized, int8, int8_min_agreement, spec.aerial.name
            )
            provenance = {**spec.provenance, QUANTIZATION_KEY: quantization.to_dict()}
            spec = replace(spec, provenance=provenance, precision="int8")
            proto = onnx.load(str(quantized))
            _set_description(proto, spec)
            proto.producer_name = "flair-training"
            onnx.save(proto, str(temporary_path))
        os.chmod(temporary_path, 0o666 & ~_umask())
        os.replace(temporary_path, output)
    except QuantizationRefused as refused:
        raise ExportError(
            f"The int8 model does not keep the map: {refused}; the bundle was not written",
            "Calibrate on more tiles like the ones the model will map (--calibration-data), or export "
            "in fp32.",
        ) from refused
    except (OutputError, ExportError):
        raise
    except Exception as exc:  # the exporter and ONNX Runtime raise many kinds
        raise ExportError(f"Exporting to ONNX failed: {type(exc).__name__}: {exc}") from exc
    finally:
        temporary_path.unlink(missing_ok=True)
        quantized.unlink(missing_ok=True)
    return ExportReport(output, parity, checked, fp16, quantization)


def _set_description(proto: onnx.ModelProto, spec: BundleSpec) -> None:
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, spec.to_json()
