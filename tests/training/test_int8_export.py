"""int8 bundles refused when their map departs from the fp32 bundle's (a trained model's int8 bundle that
passes is tested with the trained models, in test_training.py)."""

from __future__ import annotations

import numpy as np
import pytest

from flair_training.export import ExportError, export_bundle
from flair_training.quantize import TileSamples, training_tiles

pytestmark = pytest.mark.usefixtures("one_thread")


def test_int8_export_refuses_a_map_it_does_not_keep(tmp_path, quick_utt, synthetic_root) -> None:
    model, spec = quick_utt
    samples = training_tiles([synthetic_root], spec, calibration=4, held_out=8)
    assert "test split" in samples.source and len(samples.held_out) == 8
    # calibrated on blank tiles: the activation ranges collapse, and with them the map
    blank = [{name: np.zeros_like(value) for name, value in feeds.items()} for feeds in samples.calibration]
    broken = TileSamples(blank, samples.held_out, "blank tiles")
    message = (
        r"does not keep the map: int8 vs fp32 bundle on 8 held-out tiles \(8192 pixels\): class agreement"
    )
    with pytest.raises(ExportError, match=message + r" \d+\.\d\d % \(at least 99 %\)"):
        export_bundle(model, spec, tmp_path / "int8.onnx", int8=broken)
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor a temporary file
    with pytest.raises(ExportError, match="A bundle is either fp16 or int8"):
        export_bundle(model, spec, tmp_path / "int8.onnx", int8=samples, fp16=True)
    assert list(tmp_path.iterdir()) == []


def test_int8_quantises_the_aerial_branch_between_its_convolutions(tmp_path, quick_utt) -> None:
    import onnx

    from flair_training.quantize import QUANTISED_OPS, aerial_nodes

    model, spec = quick_utt
    export_bundle(model, spec, tmp_path / "fp32.onnx")
    graph = onnx.load(str(tmp_path / "fp32.onnx")).graph
    by_name = {node.name: node for node in graph.node}
    chosen = aerial_nodes(tmp_path / "fp32.onnx", spec.aerial.name)
    kinds = {by_name[name].op_type for name in chosen}
    assert {"Conv", "Add", "Relu", "MaxPool", "Concat"} <= kinds <= set(QUANTISED_OPS)
    # the classifier, the last convolution before the logits, stays in float, as does the whole of
    # the Sentinel-2 branch (nodes the aerial input does not reach)
    reached = {spec.aerial.name}
    for node in graph.node:
        if reached.intersection(node.input):
            reached.update(node.output)
    assert all(reached.intersection(by_name[name].input) for name in chosen)
    sentinel2_convs = [
        n.name for n in graph.node if n.op_type == "Conv" and not reached.intersection(n.input)
    ]
    assert sentinel2_convs and not set(sentinel2_convs) & set(chosen)
    # the float convolutions of the aerial branch are the last ones: nothing quantised comes after them
    kept = [
        n
        for n in graph.node
        if n.op_type == "Conv" and reached.intersection(n.input) and n.name not in chosen
    ]
    after = {o for n in kept for o in n.output}
    for node in graph.node:
        if after.intersection(node.input):
            after.update(node.output)
            assert node.name not in chosen
    assert kept and graph.output[0].name in after
    assert any(n.op_type == "Resize" and reached.intersection(n.input) for n in graph.node)
