"""Export a trained network to the model bundle the plugin runs: one ONNX file whose metadata property
`flair_bundle` describes its inputs, classes and provenance (flair_qgis.core.bundle_spec).

The export runs ONNX Runtime on sample inputs and compares its class probabilities with torch's; a bundle
that disagrees is never written (nothing appears at the output path).
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from flair_qgis.core.bundle_spec import (
    METADATA_KEY,
    AerialInput,
    BundleSpec,
    MetadataInput,
    OutputSpec,
    Sentinel2Input,
)
from flair_qgis.core.errors import FlairError, OutputError
from flair_qgis.core.nomenclature import FLAIR_13, Nomenclature

from . import __version__
from .models import UTT

OPSET = 17
#: Largest accepted difference of softmax probabilities between ONNX Runtime and torch.
FP32_TOLERANCE = 1e-4
#: The same for an fp16 bundle (half precision keeps about 3 significant digits).
FP16_TOLERANCE = 1e-2  # measured against the fp32 torch network


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
    """What the export checked: the largest probability difference per sample set, and the tolerance."""

    path: Path
    max_probability_difference: float
    tolerance: float
    checked_shapes: list[dict[str, tuple[int, ...]]]
    fp16: bool


def bundle_spec(
    aerial: AerialInput,
    sentinel2: Sentinel2Input | None,
    metadata_size: int | None = None,
    nomenclature: Nomenclature = FLAIR_13,
    name: str = "flair2-utt",
    version: str = "1",
    description: str = "",
    provenance: dict | None = None,
) -> BundleSpec:
    """The bundle description of a U-T&T (with `sentinel2`) or aerial-only U-Net (without)."""
    return BundleSpec(
        model_name=name,
        model_version=version,
        architecture="utt" if sentinel2 is not None else "unet",
        aerial=aerial,
        sentinel2=sentinel2,
        aerial_metadata=MetadataInput("aerial_metadata", metadata_size) if metadata_size else None,
        output=OutputSpec("logits", "logits"),
        nomenclature=nomenclature,
        provenance={
            "exported_by": f"flair-training {__version__}",
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(provenance or {}),
        },
        description=description,
    )


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


def check_parity(
    network: BundleNetwork, path: Path, spec: BundleSpec, tolerance: float, shapes: list[tuple[int, int]]
) -> tuple[float, list[dict[str, tuple[int, ...]]]]:
    """Largest |softmax(ORT) - softmax(torch)| over sample sets of the given (batch, dates)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst, checked = 0.0, []
    for seed, (batch, dates) in enumerate(shapes):
        inputs = sample_inputs(spec, batch, dates, seed=seed)
        with torch.no_grad():
            expected = network(*(torch.from_numpy(inputs[n]) for n in _input_names(spec))).numpy()
        actual = session.run([spec.output.name], inputs)[0]
        if actual.shape != expected.shape:
            raise ExportError(
                f"ONNX Runtime returned {actual.shape}, torch {expected.shape} for batch {batch}, {dates} dates"
            )
        worst = max(worst, float(np.abs(_softmax(actual) - _softmax(expected)).max()))
        checked.append({name: tuple(value.shape) for name, value in inputs.items()})
    return worst, checked


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
    opset: int = OPSET,
) -> ExportReport:
    """Write `model` (UTT or AerialUNet, any weights) as a bundle at `output` after checking parity.

    Raises OutputError when `output` exists (without overwrite) and ExportError when ONNX Runtime's
    probabilities differ from torch's by `tolerance` or more (default 1e-4 fp32, 1e-2 fp16); in both cases
    nothing is written at `output`.
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
    model = model.eval()
    reference = BundleNetwork(model, utt).eval()  # fp32 torch: what the bundle must reproduce
    network = BundleNetwork(copy.deepcopy(model).half(), utt, half=True).eval() if fp16 else reference
    BundleSpec.from_json(spec.to_json())  # the engine must be able to read what we write
    handle, temporary = tempfile.mkstemp(suffix=".onnx.part", dir=output.parent)
    os.close(handle)
    temporary_path = Path(temporary)
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
        del proto.metadata_props[:]
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, spec.to_json()
        proto.producer_name = "flair-training"
        onnx.checker.check_model(proto)
        onnx.save(proto, str(temporary_path))
        shapes = [(2, 3), (1, 5), (3, 1)] if spec.sentinel2 is not None else [(2, 1), (1, 1), (3, 1)]
        worst, checked = check_parity(reference, temporary_path, spec, tolerance, shapes)
        if not worst < tolerance:
            raise ExportError(
                f"ONNX Runtime's class probabilities differ from torch's by up to {worst:.3g} "
                f"(tolerance {tolerance:g}); the bundle was not written",
                "Check the model for operations that export differently, or export in fp32.",
            )
        os.chmod(temporary_path, 0o666 & ~_umask())
        os.replace(temporary_path, output)
    except (OutputError, ExportError):
        raise
    except Exception as exc:  # the exporter and ONNX Runtime raise many kinds
        raise ExportError(f"Exporting to ONNX failed: {type(exc).__name__}: {exc}") from exc
    finally:
        temporary_path.unlink(missing_ok=True)
    return ExportReport(output, worst, tolerance, checked, fp16)
