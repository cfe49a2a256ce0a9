"""Opening bundles: real ONNX files written by tests/bundles.py, read back through ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flair_qgis.core.bundle import load_bundle
from flair_qgis.core.bundle_spec import BundleSpec
from flair_qgis.core.errors import BundleError
from tests.bundles import make_aerial_bundle, make_utt_bundle


def test_aerial_bundle_round_trips_its_spec(tmp_path: Path) -> None:
    spec = make_aerial_bundle(tmp_path / "unet.onnx", tile_size=32)
    bundle = load_bundle(tmp_path / "unet.onnx")
    assert bundle.spec == spec
    assert bundle.spec.sentinel2 is None
    assert [t.name for t in bundle.inputs] == ["aerial"]
    assert bundle.inputs[0].shape == (None, 5, 32, 32)
    assert bundle.outputs[0].shape == (None, 13, 32, 32)


def test_utt_bundle_round_trips_and_describes_itself(tmp_path: Path) -> None:
    spec = make_utt_bundle(tmp_path / "utt.onnx", sentinel2_window=6)
    bundle = load_bundle(tmp_path / "utt.onnx")
    assert bundle.spec == spec
    assert bundle.spec.sentinel2 is not None and bundle.spec.sentinel2.window_size == 6
    assert {t.name: t.shape for t in bundle.inputs} == {
        "aerial": (None, 5, 64, 64),
        "sentinel2": (None, None, 10, 6, 6),
        "sentinel2_dates": (None, None),
    }
    text = bundle.describe()
    for expected in ("utt", "B8A", "05-15", "vineyard / vigne", "#660082", "6 x 6 px", "sentinel2_dates"):
        assert expected in text


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nothing.onnx")
    with pytest.raises(BundleError, match="not a file"):
        load_bundle(tmp_path)


def test_truncated_bundle_is_refused(tmp_path: Path) -> None:
    make_aerial_bundle(tmp_path / "full.onnx")
    data = (tmp_path / "full.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="not a readable ONNX model") as info:
        load_bundle(tmp_path / "cut.onnx")
    assert "truncated or corrupt" in str(info.value)


def test_non_onnx_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.onnx").write_text("this is a text file, not a model\n" * 20)
    with pytest.raises(BundleError, match="not a readable ONNX model"):
        load_bundle(tmp_path / "notes.onnx")


def test_bundle_without_metadata_is_refused(tmp_path: Path) -> None:
    make_aerial_bundle(tmp_path / "bare.onnx", metadata=False)
    with pytest.raises(BundleError, match="carries no flair bundle description") as info:
        load_bundle(tmp_path / "bare.onnx")
    assert info.value.field == "flair_bundle"


def test_metadata_that_is_not_json(tmp_path: Path) -> None:
    make_aerial_bundle(tmp_path / "bad.onnx", metadata="{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path / "bad.onnx")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["inputs"]["aerial"].pop("tile_size"), "inputs.aerial.tile_size"),
        (lambda d: d["inputs"]["aerial"].update(gsd=-1), "inputs.aerial.gsd"),
        (lambda d: d["nomenclature"]["classes"][0].pop("colour"), "nomenclature.classes[0].colour"),
        (lambda d: d["output"].update(kind="scores"), "output.kind"),
    ],
)
def test_metadata_missing_or_invalid_field_is_named(tmp_path: Path, edit, field: str) -> None:
    data = make_aerial_bundle(tmp_path / "ok.onnx").to_dict()
    edit(data)
    make_aerial_bundle(tmp_path / "edited.onnx", metadata=json.dumps(data))
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path / "edited.onnx")
    assert info.value.field == field
    assert f"(field '{field}')" in str(info.value)


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"graph_tile_size": 32}, "inputs.aerial.tile_size", "gives 64"),
        ({"graph_bands": 4}, "inputs.aerial.bands", "gives 5"),
        ({"graph_classes": 12}, "nomenclature.classes", "gives 13"),
    ],
)
def test_graph_contradicting_the_metadata_is_refused(
    tmp_path: Path, options: dict, field: str, words: str
) -> None:
    make_aerial_bundle(tmp_path / "bad.onnx", **options)
    with pytest.raises(BundleError, match=words) as info:
        load_bundle(tmp_path / "bad.onnx")
    assert info.value.field == field


def test_metadata_naming_inputs_the_graph_lacks(tmp_path: Path) -> None:
    data = make_aerial_bundle(tmp_path / "ok.onnx").to_dict()
    data["inputs"]["aerial"]["name"] = "image"
    make_aerial_bundle(tmp_path / "renamed.onnx", metadata=json.dumps(data))
    with pytest.raises(BundleError, match="no input named 'image'") as info:
        load_bundle(tmp_path / "renamed.onnx")
    assert info.value.field == "inputs.aerial"
    data = make_aerial_bundle(tmp_path / "ok.onnx").to_dict()
    data["output"]["name"] = "scores"
    make_aerial_bundle(tmp_path / "renamed_out.onnx", metadata=json.dumps(data))
    with pytest.raises(BundleError, match="no output named 'scores'") as info:
        load_bundle(tmp_path / "renamed_out.onnx")
    assert info.value.field == "output.name"


def test_utt_graph_with_other_window_or_undescribed_inputs(tmp_path: Path) -> None:
    spec = make_utt_bundle(tmp_path / "utt.onnx", sentinel2_window=8)
    data = spec.to_dict()
    data["inputs"]["sentinel2"]["window_size"] = 10
    make_utt_bundle(tmp_path / "window.onnx", sentinel2_window=8, metadata=json.dumps(data))
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path / "window.onnx")
    assert info.value.field == "inputs.sentinel2.window_size"
    # An aerial-only description of a graph that also takes Sentinel-2 inputs.
    aerial_only = make_aerial_bundle(tmp_path / "ok.onnx").to_dict()
    make_utt_bundle(tmp_path / "hidden.onnx", metadata=json.dumps(aerial_only))
    with pytest.raises(BundleError, match="does not describe") as info:
        load_bundle(tmp_path / "hidden.onnx")
    assert info.value.field == "inputs"
    assert BundleSpec.from_json(json.dumps(aerial_only)).sentinel2 is None
