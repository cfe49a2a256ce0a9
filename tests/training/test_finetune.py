"""Fine-tuning: `fit --init` from a fit checkpoint, a bundle, a FLAIR #2 reference or FLAIR-INC checkpoint
(weights only, a fresh run), errors that name the mismatching layer and the setting to change; several
data roots, validation held out by zone, the ignore label in the loss and the metrics, classes without
examples, and the provenance the exported bundle then carries."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from flair_qgis import cli as engine_cli
from flair_qgis.core.errors import InputError
from flair_training import cli
from flair_training.base_model import load_base_weights, read_base_model
from flair_training.checkpoints import load_checkpoint, model_state
from flair_training.config import ConfigError, load_config
from flair_training.data.flair2 import (
    IGNORE_INDEX,
    find_patches,
    label_lookup,
    split_by_domain,
    split_by_zone,
)
from flair_training.export import training_data_text
from flair_training.lightning_module import SegmentationTask, build_model
from flair_training.train import Flair2DataModule, classes_without_examples, fit, training_data_record
from tests.bundles import make_aerial_bundle
from tests.data.flair2.reference_keys import write_ign_weights, write_reference_checkpoint


def unet_config(root, output, *extra: str) -> dict:
    return load_config(
        "unet_aerial",
        [
            f"data.root={root}", f"output_dir={output}", "model.encoder_name=resnet18", "data.tile_size=32",
            "data.batch_size=4", "data.num_workers=0", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1", "trainer.accelerator=cpu", "trainer.devices=1",
            "trainer.progress_bar=false", "trainer.threads=1", *extra,
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def base_checkpoint(synthetic_root, tmp_path_factory) -> Path:
    """A U-Net ResNet-18 trained for two steps: a real checkpoint of `fit`."""
    threads = torch.get_num_threads()
    try:
        result = fit(unet_config(synthetic_root, tmp_path_factory.mktemp("base")), warn=lambda text: None)
    finally:
        torch.set_num_threads(threads)
    return Path(result.best_checkpoint)


def network_state(path: Path) -> dict[str, torch.Tensor]:
    return model_state(load_checkpoint(path)["state_dict"])


@pytest.mark.slow  # trains a model
def test_init_takes_the_weights_only_and_starts_a_fresh_run(
    base_checkpoint, synthetic_root, tmp_path, one_thread
):
    config = unet_config(synthetic_root, tmp_path / "tuned", "optim.lr=0.0")

    result = fit(config, init=base_checkpoint, warn=lambda text: None)

    tuned = load_checkpoint(result.last_checkpoint)
    base_state, tuned_state = network_state(base_checkpoint), model_state(tuned["state_dict"])
    parameters = [name for name, _ in build_model(config).named_parameters()]  # not BatchNorm statistics
    assert parameters and all(torch.equal(base_state[k], tuned_state[k]) for k in parameters)
    assert tuned["epoch"] == 0 and tuned["global_step"] == 2  # a new run, not a resumed one
    steps = {int(s["step"]) for s in tuned["optimizer_states"][0]["state"].values()}
    assert steps == {2}  # a fresh optimizer: only this run's steps
    record = tuned["hyper_parameters"]["provenance"]["base_model"]
    assert record["file"] == base_checkpoint.name and record["kind"] == "flair-train fit"


@pytest.mark.slow  # trains a model
def test_a_resumed_fine_tune_keeps_its_base_model(base_checkpoint, synthetic_root, tmp_path, one_thread):
    tuned = fit(unet_config(synthetic_root, tmp_path / "tuned"), init=base_checkpoint, warn=lambda text: None)
    config = unet_config(synthetic_root, tmp_path / "resumed", "trainer.max_epochs=2")
    resumed = fit(config, resume=tuned.last_checkpoint, warn=lambda text: None)
    checkpoint = load_checkpoint(resumed.last_checkpoint)
    assert checkpoint["epoch"] == 1
    assert checkpoint["hyper_parameters"]["provenance"]["base_model"]["file"] == base_checkpoint.name


@pytest.mark.slow  # trains a model
def test_a_bundle_starts_from_the_checkpoint_it_names(base_checkpoint, tmp_path, capsys):
    bundle = tmp_path / "base.onnx"
    assert cli.main(["export", str(base_checkpoint), str(bundle), "--name", "base-unet"]) == 0
    base = read_base_model(bundle)
    assert base.record["model"] == "base-unet 1" and base.record["checkpoint"] == base_checkpoint.name
    assert base.describe() == f"base-unet 1 (base.onnx, exported from {base_checkpoint.name})"

    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(bundle, moved / "base.onnx")
    with pytest.raises(ConfigError, match=f"exported from the checkpoint '{base_checkpoint.name}'") as caught:
        read_base_model_elsewhere(moved / "base.onnx", base_checkpoint)
    assert "--init" in caught.value.hint
    shutil.copy(base_checkpoint, moved / base_checkpoint.name)  # beside the bundle: found there
    assert (
        read_base_model_elsewhere(moved / "base.onnx", base_checkpoint).record["checkpoint"]
        == base_checkpoint.name
    )


def read_base_model_elsewhere(bundle: Path, checkpoint: Path):
    """read_base_model with the checkpoint's recorded path hidden for the duration of the call."""
    hidden = checkpoint.with_suffix(".hidden")
    checkpoint.rename(hidden)
    try:
        return read_base_model(bundle)
    finally:
        hidden.rename(checkpoint)


def test_a_bundle_that_names_no_checkpoint_is_refused_with_what_to_give(tmp_path, capsys):
    bundle = tmp_path / "plain.onnx"
    make_aerial_bundle(bundle)
    with pytest.raises(ConfigError, match="does not name the checkpoint") as caught:
        read_base_model(bundle)
    assert "Give the checkpoint itself to --init" in caught.value.hint

    status = cli.main(["fit", "--config", "quick", f"data.root={tmp_path}", "--init", str(bundle)])
    assert status == 2 and "does not name the checkpoint" in capsys.readouterr().err


@pytest.mark.slow  # trains a model
def test_a_checkpoint_of_another_model_names_the_layer_and_the_setting(
    base_checkpoint, synthetic_root, tmp_path
):
    base = read_base_model(base_checkpoint)
    config = unet_config(synthetic_root, tmp_path, "model.encoder_name=resnet34")
    with pytest.raises(ConfigError, match=r"layer 'seg_model\.encoder\.layer1\.2\.") as caught:
        load_base_weights(build_model(config), base, config)
    assert "model.encoder_name=resnet18" in caught.value.hint

    config = load_config("quick", [f"data.root={synthetic_root}", "data.tile_size=32"])
    with pytest.raises(ConfigError, match="the weights have no layer 'arch_vhr") as caught:
        load_base_weights(build_model(config), base, config)
    assert "Set model.architecture=unet (the base model's)" in caught.value.hint  # U-T&T sizes left out

    config = unet_config(synthetic_root, tmp_path, "data.aerial_scaling.std=2.0")
    warnings = load_base_weights(build_model(config), base, config)
    assert len(warnings) == 1 and "learnt on aerial values normalised otherwise" in warnings[0]
    assert "data.aerial_scaling.std=[1.0,1.0,1.0,1.0,1.0]" in warnings[0]


def test_init_from_a_reference_checkpoint(tmp_path):
    path = write_reference_checkpoint(tmp_path / "reference.ckpt")
    base = read_base_model(path)
    config = load_config(None, ["data.root=/nowhere"])  # the defaults are the FLAIR #2 baseline's
    model = build_model(config)
    assert load_base_weights(model, base, config) == []
    reference = model_state(torch.load(path, weights_only=True)["state_dict"])
    assert all(torch.equal(model.state_dict()[k], reference[k]) for k in reference)
    assert base.record["kind"] == "FLAIR #2 reference U-T&T"

    config = load_config("quick", ["data.root=/nowhere"])
    with pytest.raises(ConfigError, match="do not fit this configuration") as caught:
        load_base_weights(build_model(config), base, config)
    assert "model.encoder_name=resnet34" in caught.value.hint and "model.d_model=256" in caught.value.hint


def test_init_from_flair_inc_weights_cuts_the_head_and_warns_of_the_normalisation(tmp_path):
    path = write_ign_weights(tmp_path / "FLAIR-INC_rgbie_weights.pth")
    config = load_config("unet_aerial", ["data.root=/nowhere"])
    model = build_model(config)

    warnings = load_base_weights(model, read_base_model(path), config)

    assert len(warnings) == 1 and "data.aerial_scaling.mean=[105.08," in warnings[0]
    source = torch.load(path, weights_only=True)["model.seg_model.segmentation_head.0.weight"]
    head = model.state_dict()["seg_model.segmentation_head.0.weight"]
    assert head.shape[0] == 13 and torch.equal(head[:12], source[:12])
    assert torch.allclose(head[12], source[12:19].mean(dim=0))
    ign = ["data.aerial_scaling.scale=1", "data.aerial_scaling.mean=[105.08,110.87,101.82,106.38,53.26]",
           "data.aerial_scaling.std=[52.17,45.38,44.0,39.69,79.3]"]  # fmt: skip
    config = load_config("unet_aerial", ["data.root=/nowhere", *ign])
    assert load_base_weights(build_model(config), read_base_model(path), config) == []


@pytest.mark.slow  # trains a model
def test_resume_and_init_together_are_refused(base_checkpoint, synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match="--resume and --init"):
        fit(unet_config(synthetic_root, tmp_path), resume=base_checkpoint, init=base_checkpoint)


def test_split_by_zone_holds_out_zones_in_every_domain(synthetic_root):
    patches = find_patches(synthetic_root)
    train, val = split_by_zone(patches, val_fraction=0.2)
    zone = lambda p: (p.domain, p.zone)  # noqa: E731
    assert train and val and not {zone(p) for p in train} & {zone(p) for p in val}
    assert {p.domain for p in val} == {
        p.domain for p in patches if len({q.zone for q in patches if q.domain == p.domain}) > 1
    }
    chosen = f"{patches[0].domain}/{patches[0].zone}"
    train, val = split_by_zone(patches, val_zones=[chosen])
    assert {f"{p.domain}/{p.zone}" for p in val} == {chosen}
    with pytest.raises(InputError, match="not in the dataset"):
        split_by_zone(patches, val_zones=["D999_2021/Z1"])


def test_one_domain_split_by_domain_says_to_split_by_zone(synthetic_root):
    one_domain = [p for p in find_patches(synthetic_root) if p.domain == "D001_2021"]
    with pytest.raises(InputError, match="two domains or more") as caught:
        split_by_domain(one_domain)
    assert "data.split_by=zone" in caught.value.hint
    train, val = split_by_zone(one_domain)
    assert train and val


def test_several_roots_are_concatenated_each_with_its_own_files(synthetic_root, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(synthetic_root, second)
    config = load_config(
        "quick",
        [
            f"data.root=[{synthetic_root},{second}]",
            "data.tile_size=32",
            "data.split_by=zone",
            "data.augment=false",
        ],
    )
    datamodule = Flair2DataModule(config)
    datamodule.setup()
    total = len(find_patches(synthetic_root))
    assert len(datamodule.train_set) + len(datamodule.val_set) == 2 * total
    assert [root for root, _ in datamodule.train_patches] == [synthetic_root, second]
    sets = datamodule.train_set.datasets
    assert [s.root for s in sets] == [synthetic_root, second]
    first = datamodule.train_set[0]
    assert torch.equal(datamodule.train_set[len(sets[0])]["sentinel2"], first["sentinel2"])  # same files
    centroids_path = second / "flair-2_centroids_sp_to_patch.json"
    centroids = json.loads(centroids_path.read_text())
    row, col = centroids[f"{first['name']}.tif"]
    centroids[f"{first['name']}.tif"] = [row + 3, col + 3]
    centroids_path.write_text(json.dumps(centroids))
    datamodule = Flair2DataModule(config)
    datamodule.setup()
    moved = datamodule.train_set[len(datamodule.train_set.datasets[0])]
    assert moved["name"] == first["name"]
    assert not torch.equal(moved["sentinel2"], first["sentinel2"])  # the second root's own centroids
    assert torch.equal(datamodule.train_set[0]["sentinel2"], first["sentinel2"])


def write_label_patch(root: Path, name: str, codes: np.ndarray) -> None:
    folder = root / "flair_labels_train" / "CORR-map" / "Z0-0" / "msk"
    images = root / "flair_aerial_train" / "CORR-map" / "Z0-0" / "img"
    folder.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    profile = dict(driver="GTiff", width=codes.shape[1], height=codes.shape[0], crs="EPSG:2154")
    profile |= dict(transform=from_origin(650000, 6860000, 0.2, 0.2))
    with rasterio.open(folder / f"MSK_{name}.tif", "w", count=1, dtype="uint8", **profile) as dst:
        dst.write(codes[None].astype(np.uint8))
    with rasterio.open(images / f"IMG_{name}.tif", "w", count=5, dtype="uint8", **profile) as dst:
        dst.write(np.zeros((5, *codes.shape), np.uint8))


def test_pixels_labelled_0_change_nothing_in_the_loss_nor_the_metrics(tmp_path):
    codes = np.zeros((32, 32), np.uint8)
    codes[4:20, 4:28] = 6
    codes[20:30, 2:12] = 1
    write_label_patch(tmp_path, "1", codes)
    labels = torch.from_numpy(label_lookup()[codes])[None]
    assert (labels == IGNORE_INDEX).sum() == (codes == 0).sum()

    task = SegmentationTask(load_config("unet_aerial", ["data.root=/nowhere"]))
    logits = torch.randn(1, 13, 32, 32, requires_grad=True)
    loss = task.loss(logits, None, labels)
    loss.backward()
    unlabelled = torch.from_numpy(codes == 0)
    assert torch.all(logits.grad[0][:, unlabelled] == 0)  # no gradient where nothing is labelled
    changed = logits.detach().clone()
    changed[0][:, unlabelled] = torch.randn(13, int(unlabelled.sum())) * 10
    assert torch.allclose(task.loss(changed, None, labels), loss)
    labelled = ~unlabelled
    expected = torch.nn.functional.cross_entropy(logits[0][:, labelled].T, labels[0][labelled])
    assert torch.allclose(loss, expected)
    assert task.loss(logits, None, torch.full_like(labels, IGNORE_INDEX)) == 0  # not NaN

    task.val_confusion.update(logits.argmax(dim=1), labels)
    assert int(task.val_confusion.compute().sum()) == int(labelled.sum())


def test_classes_without_examples_are_named(tmp_path):
    codes = np.zeros((32, 32), np.uint8)
    codes[:8] = 6
    codes[8:16] = 13  # "other": weight 0 in the loss, never missed
    write_label_patch(tmp_path, "1", codes)
    config = load_config("unet_aerial", [f"data.root={tmp_path}"])
    missing = classes_without_examples([(tmp_path, find_patches(tmp_path))], config)
    assert "coniferous" not in missing and "other" not in missing and len(missing) == 11
    assert missing[0] == "building"


def test_training_data_record_reads_a_corrections_manifest(tmp_path, synthetic_root):
    (tmp_path / "manifest.json").write_text(
        json.dumps({"domain": "CORR-map", "patches": 6, "author": "A. Reviewer", "written": "2026-12-02T10:00:00+00:00",
                    "corrected_pixels": {"6 coniferous": 1200, "7 deciduous": 300}, "predicted_pixels": {}})
    )  # fmt: skip
    records = training_data_record([tmp_path, synthetic_root])
    assert records[0]["corrected_pixels"] == 1500 and records[1]["kind"] == "FLAIR #2 layout"
    text = training_data_text(records)
    assert text.startswith(f"corrections CORR-map at {tmp_path.resolve()}: 6 patches, 1500 corrected pixels")
    assert "by A. Reviewer (2026-12-02)" in text and text.endswith(
        f"FLAIR #2 layout at {synthetic_root.resolve()}"
    )


@pytest.mark.slow  # trains a model
def test_the_exported_bundle_says_what_it_was_tuned_from(
    base_checkpoint, synthetic_root, tmp_path, one_thread
):
    bundle = tmp_path / "base.onnx"
    assert cli.main(["export", str(base_checkpoint), str(bundle), "--name", "base-unet"]) == 0
    result = fit(unet_config(synthetic_root, tmp_path / "tuned"), init=bundle, warn=lambda text: None)
    tuned = tmp_path / "tuned.onnx"
    assert cli.main(["export", result.best_checkpoint, str(tuned)]) == 0

    out = io.StringIO()
    assert engine_cli.main(["info", str(tuned)], stdout=out) == 0
    text = out.getvalue()
    assert f"Base model: base-unet 1 (base.onnx, exported from {base_checkpoint.name})" in text
    assert f"Training data: FLAIR #2 layout at {synthetic_root.resolve()}" in text
    assert "Trained at: 20" in text and "Checkpoint SHA-256: " in text
    out = io.StringIO()
    assert engine_cli.main(["info", str(bundle)], stdout=out) == 0
    assert "Base model: none (trained from scratch)" in out.getvalue()
