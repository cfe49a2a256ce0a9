"""Reading an ONNX file's metadata and graph signature without a session (core/onnx_file.py), checked
against what the real ONNX Runtime reports for the same files, and the bundle read that way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from flair_qgis.core.bundle import graph_tensors, load_bundle, read_bundle
from flair_qgis.core.errors import BundleError
from flair_qgis.core.onnx_file import OnnxFormatError, read_header
from tests.bundles import make_aerial_bundle, make_utt_bundle


def ort_view(path: Path) -> tuple[dict[str, str], str, tuple, tuple]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta()
    return (dict(meta.custom_metadata_map), meta.producer_name, *graph_tensors(session))


def header_view(path: Path) -> tuple[dict[str, str], str, tuple, tuple]:
    header = read_header(path)
    return header.metadata, header.producer, header.inputs, header.outputs


def odd_model(path: Path, ir_version: int = 8) -> None:
    """A model with what a bundle rarely has: an initializer also listed as a graph input (as exporters
    wrote before IR 4), a named and an unknown dimension, an int64 input, two metadata entries, two outputs."""
    weights = numpy_helper.from_array(np.ones((3, 2), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])
    index = helper.make_tensor_value_info("index", TensorProto.INT64, [None])
    listed = helper.make_tensor_value_info("w", TensorProto.FLOAT, [3, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])
    picked = helper.make_tensor_value_info("picked", TensorProto.INT64, [None])
    nodes = [
        helper.make_node("MatMul", ["x", "wt"], ["y"]),
        helper.make_node("Transpose", ["w"], ["wt"]),
        helper.make_node("Identity", ["index"], ["picked"]),
    ]
    graph = helper.make_graph(nodes, "odd", [x, listed, index], [y, picked], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tests")
    model.ir_version = ir_version
    helper.set_model_props(model, {"flair_bundle": "not json", "note": "éà ✓"})
    onnx.save(model, str(path))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: make_aerial_bundle(p, tile_size=32),
        lambda p: make_aerial_bundle(p, blur=True, output_kind="probabilities"),
        lambda p: make_aerial_bundle(p, metadata=False),
        lambda p: make_utt_bundle(p, sentinel2_window=6),
        lambda p: odd_model(p),
        lambda p: odd_model(p, ir_version=3),
    ],
    ids=["aerial", "blur-probabilities", "no-metadata", "utt", "odd", "odd-ir3"],
)
def test_the_header_is_what_onnx_runtime_reports(tmp_path: Path, make) -> None:
    path = tmp_path / "model.onnx"
    make(path)
    assert header_view(path) == ort_view(path)


def test_the_odd_model_is_read_as_expected(tmp_path: Path) -> None:
    odd_model(tmp_path / "odd.onnx")
    header = read_header(tmp_path / "odd.onnx")
    assert [(t.name, t.shape, t.type) for t in header.inputs] == [
        ("x", (None, 2), "tensor(float)"),
        ("index", (None,), "tensor(int64)"),
    ]
    assert [t.name for t in header.outputs] == ["y", "picked"]
    assert header.metadata == {"flair_bundle": "not json", "note": "éà ✓"}
    assert header.producer == "tests"


def test_read_bundle_gives_what_load_bundle_gives(tmp_path: Path) -> None:
    for name, make in (("unet.onnx", make_aerial_bundle), ("utt.onnx", make_utt_bundle)):
        make(tmp_path / name)
        assert read_bundle(tmp_path / name) == load_bundle(tmp_path / name)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01 not a model" * 50, b"this is a text file, not a model\n" * 20, b"\xff" * 40],
    ids=["empty", "zeros", "text", "endless-number"],
)
def test_files_that_are_not_onnx_are_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(data)
    with pytest.raises(OnnxFormatError):
        read_header(path)
    with pytest.raises(BundleError, match="not a readable ONNX model") as info:
        read_bundle(path)
    assert "truncated or corrupt" in str(info.value)


def test_a_truncated_bundle_is_refused_wherever_it_is_cut(tmp_path: Path) -> None:
    make_utt_bundle(tmp_path / "full.onnx")
    data = (tmp_path / "full.onnx").read_bytes()
    for cut in (1, 7, len(data) // 3, len(data) // 2, len(data) - 200, len(data) - 1):
        (tmp_path / "cut.onnx").write_bytes(data[:cut])
        with pytest.raises(BundleError):
            read_bundle(tmp_path / "cut.onnx")
