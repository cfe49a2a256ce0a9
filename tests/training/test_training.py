"""Short training runs on synthetic FLAIR #2 data: U-T&T and the aerial U-Net learn, the fusion wins on the
classes only Sentinel-2 separates; checkpoints, logs, resume, evaluation and export of a trained model."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import onnx
import pytest
import rasterio
import torch

from flair_qgis.core.bundle import load_bundle
from flair_qgis.core.bundle_spec import METADATA_KEY, BundleSpec
from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.core.runtime import create_runner
from flair_training import cli
from flair_training.config import load_config
from flair_training.evaluate import evaluate
from flair_training.export import sample_inputs
from flair_training.metrics import iou_per_class, mean_iou
from flair_training.train import fit

pytestmark = pytest.mark.slow

SENTINEL2_ONLY = [FLAIR_13.codes.index(code) for code in (10, 11, 12)]
EPOCHS = 15


def quick_config(root, output, architecture: str, *extra: str) -> dict:
    return load_config(
        "quick",
        [
            f"data.root={root}",
            f"output_dir={output}",
            f"model.architecture={architecture}",
            "data.tile_size=32",
            "data.batch_size=8",
            "optim.lr=0.003",
            f"trainer.max_epochs={EPOCHS}",
            f"trainer.patience={EPOCHS}",
            "trainer.progress_bar=false",
            "trainer.threads=1",
            *extra,
        ],
    )


def read_metrics(output_dir) -> list[dict]:
    with open(next((output_dir / "csv").rglob("metrics.csv")), newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def trained(synthetic_root, tmp_path_factory):
    """Both architectures trained once with the same data, seed and schedule."""
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("runs")
    runs = {}
    try:
        for architecture in ("utt", "unet"):
            config = quick_config(synthetic_root, out / architecture, architecture)
            runs[architecture] = (fit(config), config)
    finally:
        torch.set_num_threads(threads)
    return runs


@pytest.fixture(scope="module")
def evaluations(trained, synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluations")
    return {a: evaluate(r.best_checkpoint, synthetic_root, out / a) for a, (r, _) in trained.items()}


def test_training_learns_and_fusion_wins_where_only_sentinel2_tells(trained, evaluations) -> None:
    utt, unet = evaluations["utt"], evaluations["unet"]
    # 12 classes: a random guess scores about 0.05 mIoU
    scores = {a: r.best_val_miou for a, (r, _) in trained.items()}
    assert scores["utt"] > 0.25 and scores["unet"] > 0.15, scores
    assert utt.miou > 0.25, utt.ious
    fused = float(np.nanmean(utt.ious[SENTINEL2_ONLY]))
    aerial_only = float(np.nanmean(unet.ious[SENTINEL2_ONLY]))
    assert fused > aerial_only + 0.1, (fused, aerial_only)


def test_checkpoints_and_logs_are_written(trained) -> None:
    result, _ = trained["utt"]
    assert result.best_checkpoint.endswith(".ckpt") and "val_miou=" in result.best_checkpoint
    assert (result.output_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((result.output_dir / "tensorboard").rglob("events.out.tfevents.*"))
    rows = read_metrics(result.output_dir)
    scores = [float(r["val_miou"]) for r in rows if r.get("val_miou")]
    assert len(scores) == EPOCHS and max(scores) == pytest.approx(result.best_val_miou, abs=1e-4)
    assert any(r.get("val_iou/agricultural land") for r in rows)
    assert not any(k.startswith("val_iou/other") for k in rows[0])  # "other" is left out of the mIoU


def test_evaluation_writes_metrics_confusion_and_georeferenced_predictions(
    evaluations, synthetic_root
) -> None:
    result = evaluations["utt"]
    with open(result.output_dir / "confusion_matrix.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][1:] == [c.name for c in FLAIR_13.classes]
    confusion = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    assert confusion.sum() == 16 * 32 * 32  # every labelled pixel of the 16 test patches
    metrics = json.loads((result.output_dir / "metrics.json").read_text())
    assert metrics["miou"] == pytest.approx(mean_iou(iou_per_class(confusion)))
    assert (result.output_dir / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    predictions = sorted((result.output_dir / "predictions").glob("PRED_*.tif"))
    assert len(predictions) == 16
    aerial = next(synthetic_root.glob(f"flair_2_aerial_test/*/*/img/IMG_{predictions[0].stem[5:]}.tif"))
    with rasterio.open(predictions[0]) as pred, rasterio.open(aerial) as src:
        assert pred.transform == src.transform and pred.crs == src.crs
        values = pred.read(1)
    assert values.min() >= 1 and values.max() <= 13


def test_resume_continues_from_the_last_checkpoint(trained, synthetic_root, tmp_path) -> None:
    result, _ = trained["unet"]
    config = quick_config(synthetic_root, tmp_path, "unet", f"trainer.max_epochs={EPOCHS + 1}")
    resumed = fit(config, resume=result.output_dir / "checkpoints" / "last.ckpt")
    rows = read_metrics(tmp_path)
    assert {int(r["epoch"]) for r in rows} == {EPOCHS}  # only the one new epoch ran
    assert resumed.epochs == EPOCHS + 1


def test_cli_exports_a_trained_model(
    trained, evaluations, synthetic_root, tmp_path, capsys, one_thread
) -> None:
    result, _ = trained["utt"]
    out = tmp_path / "trained.onnx"
    assert cli.main(["export", result.best_checkpoint, str(out), "--name", "synthetic-utt"]) == 0
    assert "parity: ONNX Runtime vs torch" in capsys.readouterr().out
    props = {p.key: p.value for p in onnx.load(str(out), load_external_data=False).metadata_props}
    spec = BundleSpec.from_json(props[METADATA_KEY])
    assert spec.model_name == "synthetic-utt" and spec.sentinel2.window_size == 16
    assert spec.sentinel2.scaling.scale == (1e-4,) * 10 and spec.provenance["config"]["model"]["n_head"] == 4
    # the bundle, run by ONNX Runtime, scores the test split as the checkpoint does in torch
    from_bundle = evaluate(out, synthetic_root, tmp_path / "bundle_eval")
    differing = np.abs(from_bundle.confusion - evaluations["utt"].confusion).sum()
    assert differing <= 0.001 * from_bundle.confusion.sum() * 2
    assert from_bundle.miou == pytest.approx(evaluations["utt"].miou, abs=1e-3)


def test_cli_exports_an_int8_bundle_that_keeps_the_map(trained, synthetic_root, tmp_path, capsys, one_thread):
    """Calibrated on the checkpoint's own training data, checked on the test split, marked int8, run by
    the engine; the same export with a gate of 100 % (the figure is below it) writes nothing."""
    result, _ = trained["utt"]
    out = tmp_path / "int8.onnx"
    command = ["export", result.best_checkpoint, str(out), "--int8", "--calibration-tiles", "8"]
    assert cli.main([*command, "--held-out-tiles", "16"]) == 0
    printed = capsys.readouterr().out
    figure = re.search(
        r"int8: int8 vs fp32 bundle on 16 held-out tiles \(16384 pixels\): class agreement ([\d.]+) %",
        printed,
    )
    assert figure and 99 <= float(figure.group(1)) < 100
    spec = load_bundle(out).spec
    record = spec.provenance["quantization"]
    assert spec.precision == "int8" and record["class_agreement"] == pytest.approx(
        float(figure.group(1)) / 100, abs=1e-4
    )
    assert (
        f"training tiles of {synthetic_root}" in record["calibration"]
        and "test split" in record["calibration"]
    )
    assert "(utt, int8)" in load_bundle(out).describe()
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    fp32 = tmp_path / "fp32.onnx"
    assert cli.main(["export", result.best_checkpoint, str(fp32)]) == 0
    assert load_bundle(fp32).spec.precision == "fp32"
    # the engine runs either; their maps of the same test patches agree as the export measured
    maps = [evaluate(path, synthetic_root, tmp_path / path.stem) for path in (fp32, out)]
    assert np.abs(maps[0].confusion - maps[1].confusion).sum() <= 0.02 * maps[0].confusion.sum()
    runner = create_runner(out, "cpu")  # the plugin's engine session
    feeds = sample_inputs(spec, batch=2, dates=3)
    assert runner.run("logits", feeds).shape == (2, 13, 32, 32)
    capsys.readouterr()
    refused = tmp_path / "strict.onnx"
    strict = [*command[:2], str(refused), *command[3:], "--held-out-tiles", "16", "--min-agreement", "1"]
    assert cli.main(strict) == 2
    assert "does not keep the map" in capsys.readouterr().err and not refused.exists()
