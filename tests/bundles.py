"""Small real ONNX model bundles whose answer is known, built with `onnx.helper` (no torch).

The engine, the plugin and the demo tests run these through the real ONNX Runtime. Each model is a 1x1
convolution of the normalised aerial bands (so every pixel's class is a fixed, hand-computable function of
its own band values), optionally followed by a 3x3 box blur (a model with a spatial footprint, for seam
tests), and, for U-T&T-shaped bundles, a per-class bias computed from the Sentinel-2 series and its dates.

Stable API (imported by other test packages):
    make_aerial_bundle(path, **options) -> BundleSpec
    make_utt_bundle(path, **options) -> BundleSpec
    aerial_logits(normalised, weights, bias) -> C x H x W  (the numpy answer of the 1x1 convolution)
    default_weights(n_classes, n_bands) -> (weights C x bands, bias C)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from flair_qgis.core.bundle_spec import (
    METADATA_KEY,
    BandScaling,
    BundleSpec,
    OutputSpec,
    flair2_aerial_input,
    flair2_sentinel2_input,
)
from flair_qgis.core.nomenclature import FLAIR_13, Nomenclature

#: Opset and IR version every onnxruntime >= 1.14 reads.
OPSET = 17
IR_VERSION = 8


def default_weights(n_classes: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights C x bands and bias C where class i (i < bands) scores band i and the other classes
    score -10: the predicted class index is the argmax of the normalised bands."""
    weights = np.zeros((n_classes, n_bands), np.float32)
    bias = np.full(n_classes, -10.0, np.float32)
    for i in range(min(n_classes, n_bands)):
        weights[i, i] = 1.0
        bias[i] = 0.0
    return weights, bias


def aerial_logits(normalised: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The 1x1 convolution the aerial models compute: bands x H x W -> C x H x W logits."""
    return np.einsum("cb,bhw->chw", weights, normalised.astype(np.float32)) + bias[:, None, None]


def make_spec(
    *,
    tile_size: int = 64,
    nomenclature: Nomenclature = FLAIR_13,
    aerial_scaling: BandScaling | None = None,
    output_kind: str = "logits",
    sentinel2_window: int | None = None,
    model_name: str = "known-answer test model",
) -> BundleSpec:
    """The spec of a test bundle: FLAIR #2 inputs at a small tile size."""
    sentinel2 = None if sentinel2_window is None else flair2_sentinel2_input(sentinel2_window)
    return BundleSpec(
        model_name=model_name,
        model_version="1",
        architecture="unet" if sentinel2 is None else "utt",
        aerial=flair2_aerial_input(tile_size, aerial_scaling),
        sentinel2=sentinel2,
        aerial_metadata=None,
        output=OutputSpec("logits" if output_kind == "logits" else "probabilities", output_kind),
        nomenclature=nomenclature,
        provenance={"generator": "tests/bundles.py"},
        description="1x1 convolution of the normalised bands with known weights",
    )


def make_aerial_bundle(
    path: str | Path,
    *,
    weights: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    blur: bool = False,
    graph_tile_size: int | None = None,
    graph_bands: int | None = None,
    graph_classes: int | None = None,
    metadata: str | bool | None = True,
    **spec_options: Any,
) -> BundleSpec:
    """Write an aerial-only (U-Net-like) bundle at `path` and return its spec.

    Graph: logits[B, C, S, S] = Conv1x1(aerial[B, bands, S, S]; weights, bias), then a 3x3 box blur
    with zero padding when `blur`, then a Softmax over C when the spec's output kind is "probabilities".
    `graph_tile_size` / `graph_bands` / `graph_classes` make the graph contradict its spec (validator
    tests); `metadata` False writes no metadata, a string writes that text instead of the spec's JSON.
    `spec_options` go to make_spec (tile_size, nomenclature, aerial_scaling, output_kind, ...).
    """
    spec = make_spec(**spec_options)
    n_bands = graph_bands or len(spec.aerial.bands)
    n_classes = graph_classes or len(spec.nomenclature.classes)
    size = graph_tile_size or spec.aerial.tile_size
    default_w, default_b = default_weights(n_classes, n_bands)
    weights = default_w if weights is None else np.asarray(weights, np.float32)
    bias = default_b if bias is None else np.asarray(bias, np.float32)
    nodes, inits, result = _aerial_head(spec.aerial.name, weights, bias, blur, n_classes)
    nodes, result = _finish(nodes, result, spec)
    graph = helper.make_graph(
        nodes,
        "flair_test_aerial",
        [_tensor(spec.aerial.name, ["batch", n_bands, size, size])],
        [_tensor(spec.output.name, ["batch", n_classes, size, size])],
        inits,
    )
    _save(graph, path, spec, metadata)
    return spec


def make_utt_bundle(
    path: str | Path,
    *,
    weights: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    sentinel2_band: int = 0,
    sentinel2_weights: np.ndarray | None = None,
    dates_weights: np.ndarray | None = None,
    sentinel2_window: int = 8,
    metadata: str | bool | None = True,
    **spec_options: Any,
) -> BundleSpec:
    """Write a U-T&T-shaped bundle (aerial + Sentinel-2 series + dates) at `path`; return its spec.

    logits[b, c] = Conv1x1(aerial[b]) + sentinel2_weights[c] * max over (T, H, W) of
    sentinel2[b, :, sentinel2_band] + dates_weights[c] * max over T of dates[b] / 365.
    The maxima ignore padding frames as long as real values are >= the padding value (0), so a tile's
    answer does not depend on the other tiles of its batch. Default weights: sentinel2 0.001 on the last
    class, dates 0 (the node is still there so the input is not pruned).
    """
    spec = make_spec(sentinel2_window=sentinel2_window, **spec_options)
    assert spec.sentinel2 is not None
    n_classes = len(spec.nomenclature.classes)
    n_bands = len(spec.aerial.bands)
    n_s2 = len(spec.sentinel2.bands)
    default_w, default_b = default_weights(n_classes, n_bands)
    weights = default_w if weights is None else np.asarray(weights, np.float32)
    bias = default_b if bias is None else np.asarray(bias, np.float32)
    if sentinel2_weights is None:
        sentinel2_weights = np.zeros(n_classes, np.float32)
        sentinel2_weights[-1] = 0.001
    if dates_weights is None:
        dates_weights = np.zeros(n_classes, np.float32)
    nodes, inits, aerial_out = _aerial_head(spec.aerial.name, weights, bias, False, n_classes)
    s2, dates = spec.sentinel2.name, spec.sentinel2.dates_name
    inits += [
        numpy_helper.from_array(np.array([sentinel2_band], np.int64), "s2_band"),
        numpy_helper.from_array(np.array([sentinel2_band + 1], np.int64), "s2_band_end"),
        numpy_helper.from_array(np.array([2], np.int64), "s2_axis"),
        numpy_helper.from_array(np.asarray(sentinel2_weights, np.float32)[None, :], "s2_weights"),
        numpy_helper.from_array((np.asarray(dates_weights, np.float32) / 365.0)[None, :], "dates_weights"),
        numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "bias_shape_tail"),
    ]
    nodes += [
        helper.make_node("Slice", [s2, "s2_band", "s2_band_end", "s2_axis"], ["s2_slice"]),
        helper.make_node("ReduceMax", ["s2_slice"], ["s2_max"], axes=[1, 2, 3, 4], keepdims=0),
        helper.make_node("Unsqueeze", ["s2_max", "one_axis"], ["s2_col"]),
        helper.make_node("Mul", ["s2_col", "s2_weights"], ["s2_bias"]),
        helper.make_node("ReduceMax", [dates], ["dates_max"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["dates_max", "dates_weights"], ["dates_bias"]),
        helper.make_node("Add", ["s2_bias", "dates_bias"], ["series_bias"]),
        helper.make_node("Unsqueeze", ["series_bias", "spatial_axes"], ["series_bias_4d"]),
        helper.make_node("Add", [aerial_out, "series_bias_4d"], ["fused"]),
    ]
    inits += [
        numpy_helper.from_array(np.array([1], np.int64), "one_axis"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "spatial_axes"),
    ]
    nodes, _ = _finish(nodes, "fused", spec)
    size, window = spec.aerial.tile_size, spec.sentinel2.window_size
    graph = helper.make_graph(
        nodes,
        "flair_test_utt",
        [
            _tensor(spec.aerial.name, ["batch", n_bands, size, size]),
            _tensor(s2, ["batch", "dates", n_s2, window, window]),
            _tensor(dates, ["batch", "dates"]),
        ],
        [_tensor(spec.output.name, ["batch", n_classes, size, size])],
        inits,
    )
    _save(graph, path, spec, metadata)
    return spec


def utt_series_bias(
    sentinel2: np.ndarray,
    positions: np.ndarray,
    sentinel2_band: int,
    sentinel2_weights: np.ndarray,
    dates_weights: np.ndarray,
) -> np.ndarray:
    """The numpy answer of the U-T&T model's Sentinel-2 bias for one tile: T x bands x W x W values and
    T positions -> C biases."""
    s2_max = float(sentinel2[:, sentinel2_band].max())
    dates_max = float(positions.max()) if positions.size else 0.0
    return np.asarray(sentinel2_weights, np.float32) * s2_max + np.asarray(dates_weights) * dates_max / 365.0


def _aerial_head(
    name: str, weights: np.ndarray, bias: np.ndarray, blur: bool, n_classes: int
) -> tuple[list, list, str]:
    n_classes, n_bands = weights.shape
    inits = [
        numpy_helper.from_array(weights.reshape(n_classes, n_bands, 1, 1), "conv_w"),
        numpy_helper.from_array(bias, "conv_b"),
    ]
    nodes = [helper.make_node("Conv", [name, "conv_w", "conv_b"], ["logits_raw"], kernel_shape=[1, 1])]
    if not blur:
        return nodes, inits, "logits_raw"
    box = np.zeros((n_classes, 1, 3, 3), np.float32) + 1.0 / 9.0
    inits.append(numpy_helper.from_array(box, "blur_w"))
    nodes.append(
        helper.make_node(
            "Conv",
            ["logits_raw", "blur_w"],
            ["logits_blur"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            group=n_classes,
        )
    )
    return nodes, inits, "logits_blur"


def _finish(nodes: list, result: str, spec: BundleSpec) -> tuple[list, str]:
    if spec.output.kind == "probabilities":
        nodes.append(helper.make_node("Softmax", [result], [spec.output.name], axis=1))
    else:
        nodes.append(helper.make_node("Identity", [result], [spec.output.name]))
    return nodes, spec.output.name


def _tensor(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _save(graph: onnx.GraphProto, path: str | Path, spec: BundleSpec, metadata: str | bool | None) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    if metadata is True:
        helper.set_model_props(model, {METADATA_KEY: spec.to_json()})
    elif isinstance(metadata, str):
        helper.set_model_props(model, {METADATA_KEY: metadata})
    onnx.save(model, str(path))
