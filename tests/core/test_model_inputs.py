"""The table of model inputs (core/model_inputs.py) is what the graph check, the TensorRT profile and
the tile loop read: its tensors are exactly a real bundle's graph inputs, each gives its TensorRT profile,
and a graph that lacks one is refused naming the field that describes it. The runs of tests/core/
test_predict.py feed every entry (aerial, Sentinel-2) through the table."""

from __future__ import annotations

import dataclasses

import onnxruntime as ort
import pytest

from flair_qgis.core.bundle import load_bundle
from flair_qgis.core.bundle_spec import MetadataInput
from flair_qgis.core.errors import BundleError
from flair_qgis.core.model_inputs import MODEL_INPUTS, graph_inputs, taken
from flair_qgis.core.predict import input_shapes
from tests.bundles import make_aerial_bundle, make_spec, make_utt_bundle


@pytest.mark.parametrize("utt", [False, True])
def test_the_table_names_exactly_the_graph_inputs_of_a_real_bundle(tmp_path, utt) -> None:
    path = tmp_path / "model.onnx"
    spec = make_utt_bundle(path) if utt else make_aerial_bundle(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert sorted(t.name for t in graph_inputs(spec)) == sorted(i.name for i in session.get_inputs())
    assert [kind.key for kind in taken(spec)] == (["aerial", "sentinel2"] if utt else ["aerial"])
    load_bundle(path)  # check_graph reads the same table


def test_each_tensor_gives_its_tensorrt_profile() -> None:
    spec = make_spec(sentinel2_window=8)
    spec = dataclasses.replace(spec, aerial_metadata=MetadataInput("meta", 45))
    s2 = spec.sentinel2
    frames = s2.max_dates or 12
    assert input_shapes(spec, 6) == {
        spec.aerial.name: ((1, 5, 64, 64), (6, 5, 64, 64), (6, 5, 64, 64)),
        s2.name: ((1, 1, 10, 8, 8), (6, frames, 10, 8, 8), (6, frames, 10, 8, 8)),
        s2.dates_name: ((1, 1), (6, frames), (6, frames)),
        "meta": ((1, 45), (6, 45), (6, 45)),
    }
    assert [kind.key for kind in taken(spec)] == [kind.key for kind in MODEL_INPUTS]


def test_a_graph_without_a_tabled_input_is_refused_naming_its_field(tmp_path) -> None:
    path = tmp_path / "model.onnx"
    spec = make_aerial_bundle(path)
    described = dataclasses.replace(spec, aerial_metadata=MetadataInput("meta", 45))
    from flair_qgis.core.bundle import check_graph

    bundle = load_bundle(path)
    with pytest.raises(BundleError) as caught:
        check_graph(described, bundle.inputs, bundle.outputs)
    assert "no input named 'meta'" in str(caught.value) and caught.value.field == "inputs.aerial_metadata"
