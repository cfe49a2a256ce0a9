"""Importing checkpoints faithfully: the parity check accepts a reference-format U-T&T whose logits reach
hundreds at the default 512 px / 40 px and refuses a bundle whose weights were corrupted; reference
checkpoints with metadata get the reference's metadata encoding; IGN's FLAIR-INC weights convert."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from flair_qgis import cli as engine_cli
from flair_qgis.core.bundle_spec import METADATA_KEY, BundleSpec
from flair_training import cli
from flair_training.checkpoints import (
    IGN_MEANS,
    IGN_STDS,
    CheckpointError,
    convert_flair_inc,
    import_checkpoint,
    model_state,
    read_checkpoint,
    utt_from_state,
)
from flair_training.evaluate import load_predictor
from flair_training.export import BundleNetwork, ExportError, sample_inputs, verify_parity
from flair_training.models import AerialUNet
from tests.data.flair2.reference_keys import ign_aerial_shapes, random_state, reference_utt_shapes

pytestmark = pytest.mark.usefixtures("one_thread")

#: Gain on the aerial segmentation head: turns the random network's logits (about 0.6) into the several
#: hundred a trained U-T&T gives, the size at which fp32 implementations differ by 1e-4 in probability.
HEAD_GAIN = 500.0


def bundle_spec_of(path: Path) -> BundleSpec:
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return BundleSpec.from_json(props[METADATA_KEY])


def write_trained_looking_reference(path: Path, metadata_spatial: int | None = None, seed: int = 0) -> Path:
    """A checkpoint in the reference's layout (key names written down from IGN's code) with random
    weights and a segmentation head scaled so that the logits reach hundreds. `metadata_spatial`: add
    the metadata MLP, ending at that many values (tile size / 32)."""
    shapes = reference_utt_shapes(metadata=metadata_spatial is not None)
    if metadata_spatial is not None:
        shapes["model.mtd_mlp.enc_mlp.6.weight"] = (metadata_spatial, 32)
        shapes["model.mtd_mlp.enc_mlp.6.bias"] = (metadata_spatial,)
    state = random_state(shapes, seed)
    state["model.arch_vhr.segmentation_head.0.weight"] *= HEAD_GAIN
    state["model.arch_vhr.segmentation_head.0.bias"] *= HEAD_GAIN
    torch.save({"epoch": 20, "global_step": 5000, "state_dict": state}, path)
    return path


@pytest.mark.slow
def test_default_512_px_import_of_a_reference_checkpoint_with_large_logits(tmp_path, capsys) -> None:
    """The import the reference's users run, at its default sizes; the figures go into the bundle and
    `python -m flair_qgis info` shows them."""
    ckpt = write_trained_looking_reference(tmp_path / "reference.ckpt")
    out = tmp_path / "utt.onnx"
    assert cli.main(["import-checkpoint", str(ckpt), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "class agreement" in printed and "of the logit scale" in printed
    spec = bundle_spec_of(out)
    assert spec.aerial.tile_size == 512 and spec.sentinel2.window_size == 40
    parity = spec.parity
    print(parity.summary())  # the figures measured, for the report
    assert parity.logit_scale > 100  # logits of a realistic size, not the random network's
    assert parity.class_agreement >= 0.999 and parity.max_relative_logit_difference <= 1e-4
    assert parity.pixels == 6 * 512 * 512 and parity.precision == "fp32"
    assert spec.provenance["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert engine_cli.main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert f"class agreement {100 * parity.class_agreement:.4f} %" in info and "fp32, 3 sample sets" in info


@pytest.fixture(scope="module")
def small_reference_bundle(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("reference")
    ckpt = write_trained_looking_reference(folder / "reference.ckpt")
    out = folder / "utt64.onnx"
    torch.set_num_threads(1)
    import_checkpoint(ckpt, out, tile_size=64, window_size=16)
    return ckpt, out


def _corrupt(path: Path, out: Path, shape: tuple[int, ...], change) -> Path:
    """A copy of the bundle with `change` applied to its first weight of that shape (the exporter
    renames weights when it folds batch norms into convolutions, so they are found by shape)."""
    proto = onnx.load(str(path))
    for initializer in proto.graph.initializer:
        array = onnx.numpy_helper.to_array(initializer)
        if array.shape == shape:
            initializer.CopyFrom(onnx.numpy_helper.from_array(change(array.copy()), initializer.name))
            onnx.save(proto, str(out))
            return out
    raise AssertionError(f"no weight of shape {shape}")


def test_a_corrupted_weight_is_refused(tmp_path, small_reference_bundle) -> None:
    """The same check that passed the faithful bundle refuses one whose ONNX weights no longer are the
    checkpoint's: one element of one convolution changed, or a whole stage zeroed."""
    ckpt, good = small_reference_bundle
    spec = bundle_spec_of(good)
    network = BundleNetwork(utt_from_state(model_state(read_checkpoint(ckpt)), tile_size=64), utt=True).eval()
    shapes = [(2, 3), (1, 5)]
    record, _ = verify_parity(network, good, spec, shapes)  # the faithful file passes
    assert record.max_relative_logit_difference < 1e-5 and record.class_agreement == 1.0

    def one_element(array: np.ndarray) -> np.ndarray:
        array.flat[0] += 0.5 * np.abs(array).max()
        return array

    nudged = _corrupt(good, tmp_path / "nudged.onnx", (512, 512, 3, 3), one_element)
    with pytest.raises(ExportError, match="does not reproduce torch") as refused:
        verify_parity(network, nudged, spec, shapes)
    assert "of the logit scale" in str(refused.value) and "class agreement" in str(refused.value)

    zeroed = _corrupt(good, tmp_path / "zeroed.onnx", (13, 16, 3, 3), np.zeros_like)  # U-Net head
    with pytest.raises(ExportError, match=r"class agreement \d+\.\d+ % \(at least 50 % needed\)"):
        # even with a logit tolerance that accepts anything, the classes must agree
        verify_parity(network, zeroed, spec, shapes, tolerance=10.0, min_agreement=0.5)


def test_tolerance_option_is_applied(tmp_path, capsys) -> None:
    ckpt = write_trained_looking_reference(tmp_path / "reference.ckpt")
    out = tmp_path / "strict.onnx"
    args = ["import-checkpoint", str(ckpt), str(out), "--tile-size", "64", "--window-size", "16"]
    assert cli.main([*args, "--tolerance", "0"]) == 2
    err = capsys.readouterr().err
    assert "(tolerance 0); the bundle was not written" in err and "--tolerance" in err
    assert list(tmp_path.iterdir()) == [ckpt]
    assert cli.main([*args, "--tolerance", "1e-3"]) == 0
    assert bundle_spec_of(out).parity.tolerance == 1e-3


def test_reference_checkpoint_with_metadata_gets_the_reference_encoding(tmp_path) -> None:
    ckpt = write_trained_looking_reference(tmp_path / "reference_mtd.ckpt", metadata_spatial=2)
    out = tmp_path / "utt_mtd.onnx"
    report = import_checkpoint(ckpt, out, window_size=16)  # the metadata MLP fixes the tile size: 64 px
    spec = bundle_spec_of(out)
    assert spec.aerial.tile_size == 64 and spec.aerial_metadata.size == 45
    assert spec.aerial_metadata.encoding == "flair2-reference"
    assert report.parity.class_agreement >= 0.999
    predictor = load_predictor(out)  # evaluation then builds the vectors the reference's way
    assert predictor.with_metadata and predictor.metadata_encoding == "flair2-reference"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()][-1] == "aerial_metadata"


def write_flair_inc_weights(path: Path, switched_off: tuple[int, ...] = (14, 15, 16, 17, 19)) -> Path:
    """A file in the layout IGN publishes its FLAIR-INC weights in: a bare state dict (no Lightning
    wrapper) of segmentation-models-pytorch's U-Net ResNet-34 under `model.seg_model.`, 5 input bands,
    19 output channels in FLAIR code order; the channels of classes the model was not trained on are
    kept, here with scores far below the others."""
    state = random_state(ign_aerial_shapes(19), seed=5)
    state["model.seg_model.segmentation_head.0.weight"] *= 50.0
    for code in switched_off:
        state["model.seg_model.segmentation_head.0.bias"][code - 1] = -200.0
    torch.save(state, path)
    return path


def test_flair_inc_weights_convert_to_a_faithful_bundle(tmp_path) -> None:
    weights = write_flair_inc_weights(tmp_path / "FLAIR-INC_rgbie_15cl_resnet34-unet_weights.pth")
    out = tmp_path / "flair_inc.onnx"
    report = convert_flair_inc(weights, out, tile_size=64, licence="Etalab 2.0")
    assert report.path == out and out.is_file()
    spec = bundle_spec_of(out)
    assert spec.architecture == "unet" and spec.nomenclature.codes == list(range(1, 14))
    assert spec.aerial.scaling.mean == pytest.approx(IGN_MEANS) and spec.aerial.scaling.std == pytest.approx(
        IGN_STDS
    )
    assert spec.provenance["licence"] == "Etalab 2.0" and spec.provenance["classes"] == "flair13"
    assert spec.provenance["checkpoint"] == weights.name
    assert spec.parity == report.parity and report.parity.class_agreement >= 0.999
    # an independent computation: the published architecture, IGN's normalisation, 19 -> 13 classes
    network = AerialUNet(num_classes=19)
    network.load_state_dict({k.removeprefix("model."): v for k, v in torch.load(weights).items()})
    rng = np.random.default_rng(11)
    raw = rng.integers(0, 256, size=(2, 5, 64, 64)).astype(np.float32)
    normalised = ((raw - np.reshape(IGN_MEANS, (1, 5, 1, 1))) / np.reshape(IGN_STDS, (1, 5, 1, 1))).astype(
        np.float32
    )
    with torch.no_grad():
        probabilities = torch.softmax(network.eval()(torch.from_numpy(normalised)), dim=1).numpy()
    expected = np.concatenate(
        [probabilities[:, :12], probabilities[:, 12:].sum(axis=1, keepdims=True)], axis=1
    )
    logits = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        ["logits"], {"aerial": normalised}
    )[0]
    actual = np.exp(logits - logits.max(axis=1, keepdims=True))
    actual /= actual.sum(axis=1, keepdims=True)
    assert np.abs(actual - expected).max() < 1e-4
    assert np.array_equal(actual.argmax(axis=1), expected.argmax(axis=1))


def test_flair_inc_format_is_detected_and_other_layouts_refused(tmp_path, capsys) -> None:
    weights = write_flair_inc_weights(tmp_path / "weights.pth")
    out = tmp_path / "auto.onnx"
    assert cli.main(["import-checkpoint", str(weights), str(out), "--tile-size", "32"]) == 0
    assert "IGN FLAIR-INC" in bundle_spec_of(out).provenance["source"]
    thirteen = random_state(ign_aerial_shapes(13), seed=2)
    torch.save(thirteen, tmp_path / "thirteen.pth")
    with pytest.raises(CheckpointError, match=r"give 19 logits .* this file's segmentation head gives 13"):
        convert_flair_inc(tmp_path / "thirteen.pth", tmp_path / "x.onnx", tile_size=32)
    assert not (tmp_path / "x.onnx").exists()
    assert sample_inputs(bundle_spec_of(out), 1, 1)["aerial"].shape == (1, 5, 32, 32)
