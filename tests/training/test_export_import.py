"""Bundles: export parity with ONNX Runtime, refusal to write a bad one, reference and IGN checkpoints
imported strictly, and clear errors for bad checkpoints."""

from __future__ import annotations

import os
import pickle

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from flair_qgis.core.bundle_spec import METADATA_KEY, BundleSpec
from flair_qgis.core.errors import BundleError, OutputError
from flair_training import cli
from flair_training.checkpoints import (
    IGN_MEANS,
    CheckpointError,
    read_checkpoint,
    utt_from_state,
)
from flair_training.evaluate import evaluate
from flair_training.export import ExportError, export_bundle, sample_inputs
from flair_training.models import UTT, AerialUNet
from tests.data.flair2.reference_keys import write_ign_weights, write_reference_checkpoint

#: one torch thread: on a busy 2-core machine two threads waiting on each other are far slower
pytestmark = pytest.mark.usefixtures("one_thread")


def bundle_metadata(path) -> BundleSpec:
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return BundleSpec.from_json(props[METADATA_KEY])


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_export_writes_a_bundle_onnx_runtime_agrees_with(tmp_path, quick_utt, one_thread) -> None:
    model, spec = quick_utt
    path = tmp_path / "quick.onnx"
    report = export_bundle(model, spec, path)
    assert report.max_probability_difference < 1e-4
    assert report.parity.class_agreement >= 0.999 and report.parity.max_relative_logit_difference <= 1e-4
    read = bundle_metadata(path)
    assert read.parity == report.parity  # the figures travel in the bundle
    assert read.architecture == "utt" and read.sentinel2.window_size == 16 and read.aerial.tile_size == 32
    assert read.nomenclature.codes == list(range(1, 14))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["aerial", "sentinel2", "sentinel2_dates"]
    # batch 4 and 7 dates: neither was used at export time, so B and T are really dynamic
    inputs = sample_inputs(read, batch=4, dates=7, seed=42)
    actual = session.run(["logits"], inputs)[0]
    with torch.no_grad():
        expected = model.segment(
            *(torch.from_numpy(inputs[k]) for k in ("aerial", "sentinel2", "sentinel2_dates"))
        )
    assert actual.shape == (4, 13, 32, 32)
    assert np.abs(softmax(actual) - softmax(expected.numpy())).max() < 1e-4


def test_export_refuses_to_write_a_bundle_that_disagrees(tmp_path, quick_utt, one_thread) -> None:
    model, spec = quick_utt
    path = tmp_path / "strict.onnx"
    with pytest.raises(ExportError, match=r"does not reproduce torch: class agreement 100\.0000 %"):
        export_bundle(model, spec, path, tolerance=0.0)  # any rounding difference is too much
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor its temporary file


def test_export_never_overwrites_without_being_asked(tmp_path, quick_utt) -> None:
    model, spec = quick_utt
    path = tmp_path / "taken.onnx"
    path.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists"):
        export_bundle(model, spec, path)
    assert path.read_bytes() == b"precious"


def test_fp16_bundle_stays_close_to_the_fp32_network(tmp_path, quick_utt, one_thread) -> None:
    model, spec = quick_utt
    report = export_bundle(model, spec, tmp_path / "half.onnx", fp16=True)
    assert report.fp16 and report.max_probability_difference < 1e-2
    proto = onnx.load(str(tmp_path / "half.onnx"))
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in proto.graph.initializer)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_reference_checkpoint_becomes_a_bundle_with_its_weights(tmp_path, one_thread) -> None:
    """A checkpoint in the reference layout loads strictly, and the bundle computes what it computes."""
    ckpt = write_reference_checkpoint(tmp_path / "reference.ckpt")
    out = tmp_path / "reference.onnx"
    args = ["import-checkpoint", str(ckpt), str(out), "--tile-size", "64", "--window-size", "16"]
    assert cli.main(args) == 0
    spec = bundle_metadata(out)
    assert spec.architecture == "utt" and spec.aerial.scaling.scale[0] == pytest.approx(1 / 255)
    assert spec.sentinel2.scaling.scale == (1.0,) * 10  # the baseline feeds reflectance x 10000
    # an independent load of the same weights into the published architecture
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    reference = UTT()
    reference.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")}, strict=True)
    inputs = sample_inputs(spec, batch=2, dates=4, seed=7)
    with torch.no_grad():
        expected = reference.eval().segment(
            *(torch.from_numpy(inputs[k]) for k in ("aerial", "sentinel2", "sentinel2_dates"))
        )
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    actual = session.run(["logits"], inputs)[0]
    assert np.abs(softmax(actual) - softmax(expected.numpy())).max() < 1e-4
    head = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(out)).graph.initializer}
    weight = state["model.arch_vhr.segmentation_head.0.weight"].numpy()
    assert any(v.shape == weight.shape and np.array_equal(v, weight) for v in head.values())


def test_reference_checkpoint_with_metadata_loads_strictly(tmp_path) -> None:
    ckpt = write_reference_checkpoint(tmp_path / "reference_mtd.ckpt", metadata=True)
    model = utt_from_state({k[6:]: v for k, v in read_checkpoint(ckpt).items() if k.startswith("model.")})
    assert model.mtd_mlp is not None and model.mtd_mlp.enc_mlp[0].in_features == 45
    assert model.arch_hr.encoder_widths == [64, 64, 128, 128] and model.arch_hr.temporal_encoder.n_head == 16


def test_ign_aerial_weights_become_a_13_class_bundle(tmp_path, one_thread) -> None:
    weights = write_ign_weights(tmp_path / "FLAIR-INC_rgbie_15cl_resnet34-unet_weights.pth")
    out = tmp_path / "ign.onnx"
    assert cli.main(["import-checkpoint", str(weights), str(out), "--tile-size", "64"]) == 0
    spec = bundle_metadata(out)
    assert spec.architecture == "unet" and spec.sentinel2 is None
    assert spec.aerial.scaling.mean == pytest.approx(IGN_MEANS) and spec.aerial.scaling.scale == (1.0,) * 5
    assert [c.name for c in spec.nomenclature.classes][-1] == "other" and len(spec.nomenclature.classes) == 13
    network = AerialUNet(num_classes=19)
    state = torch.load(weights, weights_only=True)
    network.load_state_dict({k[6:]: v for k, v in state.items()}, strict=True)
    inputs = sample_inputs(spec, batch=2, dates=1, seed=3)
    with torch.no_grad():
        logits19 = network.eval()(torch.from_numpy(inputs["aerial"])).numpy()
    probabilities19 = softmax(logits19)
    expected = np.concatenate(
        [probabilities19[:, :12], probabilities19[:, 12:].sum(axis=1, keepdims=True)], axis=1
    )
    actual = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["logits"], inputs)[0]
    assert np.abs(softmax(actual) - expected).max() < 1e-4


def test_ign_weights_with_a_chosen_subset_of_classes(tmp_path) -> None:
    weights = write_ign_weights(tmp_path / "ign_weights.pth")
    out = tmp_path / "ign3.onnx"
    assert (
        cli.main(["import-checkpoint", str(weights), str(out), "--tile-size", "32", "--classes", "1,5,18"])
        == 0
    )
    names = [c.name for c in bundle_metadata(out).nomenclature.classes]
    assert names == ["building", "water", "greenhouse"]
    with pytest.raises(BundleError, match="needs the 13-class nomenclature"):
        evaluate(out, tmp_path, tmp_path / "evaluation")


class Payload:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def test_bad_checkpoints_get_clear_errors(tmp_path, capsys) -> None:
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        read_checkpoint(text)
    code = tmp_path / "code.ckpt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": Payload()}, code)
    with pytest.raises(CheckpointError, match="Python objects other than tensors"):
        read_checkpoint(code)
    plain_pickle = tmp_path / "plain.pkl"
    plain_pickle.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError):
        read_checkpoint(plain_pickle)
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        read_checkpoint(tmp_path / "missing.ckpt")

    strange = tmp_path / "strange.ckpt"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3)}}, strange)
    assert cli.main(["import-checkpoint", str(strange), str(tmp_path / "x.onnx")]) == 2
    assert "Unrecognised checkpoint" in capsys.readouterr().err

    reference = write_reference_checkpoint(tmp_path / "reference.ckpt")
    checkpoint = torch.load(reference, weights_only=True)
    checkpoint["state_dict"]["model.arch_hr.temporal_encoder.attention_heads.fc1_k.weight"] = torch.zeros(
        64, 128
    )
    del checkpoint["state_dict"]["model.reshape_utae_output.1.bias"]
    broken = tmp_path / "broken.ckpt"
    torch.save(checkpoint, broken)
    assert cli.main(["import-checkpoint", str(broken), str(tmp_path / "y.onnx"), "--tile-size", "64"]) == 2
    err = capsys.readouterr().err
    assert "1 missing (e.g. reshape_utae_output.1.bias)" in err
    assert "wrong shape (e.g. arch_hr.temporal_encoder.attention_heads.fc1_k.weight" in err
    assert not (tmp_path / "y.onnx").exists() and not (tmp_path / "x.onnx").exists()
