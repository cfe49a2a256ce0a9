"""Configuration presets, overrides and their errors; the CLI's clear failures and `synth`."""

from __future__ import annotations

import re

import pytest

from flair_training import cli
from flair_training.config import ConfigError, load_config, preset_path


@pytest.mark.parametrize("preset", ["utt_baseline", "unet_aerial", "quick"])
def test_presets_load(preset: str) -> None:
    config = load_config(preset_path(preset))
    assert config == load_config(preset)


def test_baseline_preset_keeps_the_published_hyper_parameters() -> None:
    config = load_config("utt_baseline")
    model = config["model"]
    assert model["encoder_name"] == "resnet34" and model["encoder_widths"] == [64, 64, 128, 128]
    assert (model["n_head"], model["d_model"], model["d_k"], model["window_size"]) == (16, 256, 4, 40)
    assert config["optim"]["lr"] == 0.001 and config["data"]["batch_size"] == 10
    assert config["loss"]["sentinel2_class_weights"][11] == 0  # plowed land off on the satellite head


def test_overrides_are_typed_and_checked() -> None:
    config = load_config(
        "quick", ["trainer.max_epochs=3", "data.val_domains=[D001_2021]", "trainer.strategy=ddp"]
    )
    assert config["trainer"]["max_epochs"] == 3 and config["data"]["val_domains"] == ["D001_2021"]
    with pytest.raises(ConfigError, match=re.escape("Unknown configuration key 'trainer.max_epoch'")):
        load_config("quick", ["trainer.max_epoch=3"])
    with pytest.raises(ConfigError, match=re.escape("'trainer.max_epochs' must be an integer")):
        load_config("quick", ["trainer.max_epochs=3.5"])
    with pytest.raises(ConfigError, match=re.escape("model.out_conv must end with the 13 classes")):
        load_config("quick", ["model.out_conv=[16, 12]"])
    with pytest.raises(ConfigError, match=re.escape("multiples of model.n_head")):
        load_config("quick", ["model.encoder_widths=[10, 10, 20, 20]"])
    with pytest.raises(ConfigError, match="not of the form"):
        load_config("quick", ["trainer.max_epochs"])


def test_bad_configuration_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="No configuration file"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    typo = tmp_path / "typo.yaml"
    typo.write_text("base: quick\nmodel:\n  architecure: utt\n")
    with pytest.raises(ConfigError, match=re.escape("Unknown configuration key 'model.architecure'")):
        load_config(typo)


def test_cli_reports_errors_and_exits_2(tmp_path, capsys) -> None:
    assert cli.main(["fit", "--config", "quick", "trainer.max_epochs=1", f"output_dir={tmp_path / 'x'}"]) == 2
    assert "data.root is not set" in capsys.readouterr().err
    output = tmp_path / "run"
    assert cli.main(["fit", "--config", "quick", f"data.root={tmp_path}", f"output_dir={output}"]) == 2
    assert "No FLAIR #2 train aerial folder" in capsys.readouterr().err
    assert not output.exists()
    assert (
        cli.main(
            ["evaluate", str(tmp_path / "none.ckpt"), "--data", str(tmp_path), "--out", str(tmp_path / "e")]
        )
        == 2
    )
    assert "No checkpoint at" in capsys.readouterr().err


def test_cli_synth_writes_a_dataset_and_keeps_existing_data(tmp_path, capsys) -> None:
    out = tmp_path / "synthetic"
    assert (
        cli.main(["synth", str(out), "--patches", "8", "--size", "32", "--window", "16", "--dates", "6"]) == 0
    )
    assert "wrote 6 train and 2 test patches of 32 px" in capsys.readouterr().out
    assert len(list(out.glob("flair_aerial_train/*/*/img/IMG_*.tif"))) == 6
    assert cli.main(["synth", str(out), "--patches", "8", "--size", "32"]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_evaluate_refused_for_a_size_error_leaves_no_folder_behind(tmp_path, capsys) -> None:
    from tests.bundles import make_aerial_bundle

    data = tmp_path / "synthetic"
    assert cli.main(["synth", str(data), "--patches", "4", "--size", "32", "--window", "16"]) == 0
    make_aerial_bundle(tmp_path / "tile64.onnx", tile_size=64)  # the patches are 32 px
    out = tmp_path / "evaluation"
    args = ["evaluate", str(tmp_path / "tile64.onnx"), "--data", str(data), "--out", str(out)]
    assert cli.main(args) == 2
    capsys.readouterr()
    assert not out.exists()
    make_aerial_bundle(tmp_path / "tile32.onnx", tile_size=32)
    assert cli.main(["evaluate", str(tmp_path / "tile32.onnx"), "--data", str(data), "--out", str(out)]) == 0
    assert "is not empty" not in capsys.readouterr().err
    assert (out / "metrics.json").is_file()
