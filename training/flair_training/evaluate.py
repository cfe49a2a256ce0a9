"""`flair-train evaluate`: per-class IoU, mIoU and confusion matrix (CSV, PNG) of a trained model on a
FLAIR #2 split, with each prediction written as a GeoTIFF on its aerial patch's grid: class codes 1..13
(this project's maps), or class indices 0..12 as IGN's FLAIR #2 scorer reads them (`--format ign`)."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import rasterio
import torch
from torch.utils.data import DataLoader

from flair_qgis.core.bundle_spec import (
    DEFAULT_METADATA_ENCODING,
    METADATA_KEY,
    AerialInput,
    BundleSpec,
    Sentinel2Input,
)
from flair_qgis.core.errors import BundleError, OutputError
from flair_qgis.core.nomenclature import FLAIR_13

from .checkpoints import CheckpointError, load_checkpoint, load_strict, model_state, state_dict_of
from .config import DEFAULTS, aerial_spec, deep_merge, sentinel2_spec, validate
from .data.flair2 import IGNORE_INDEX, Flair2Dataset, collate, find_patches
from .lightning_module import build_model
from .metrics import iou_per_class, mean_iou

NUM_CLASSES = len(FLAIR_13.classes)
#: How predictions are written: "codes" (FLAIR_13 codes 1..13, nodata 0, as the plugin's maps) or
#: "ign" (class indices 0..12 without nodata, LZW: what IGN's FLAIR #2 scorer compares with MSK - 1).
PREDICTION_FORMATS = ("codes", "ign")


def load_trained(path: str | Path) -> tuple[torch.nn.Module, dict, dict]:
    """A checkpoint written by `flair-train fit`: (network in eval mode, its configuration, the raw checkpoint)."""
    checkpoint = load_checkpoint(path)
    config = (checkpoint.get("hyper_parameters") or {}).get("config")
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{Path(path).name} was not written by flair-train fit (no configuration in it)",
            "Use `flair-train import-checkpoint` for checkpoints of the FLAIR #2 reference code or IGN's weights.",
        )
    config = deep_merge(DEFAULTS, config)
    validate(config)
    model = load_strict(build_model(config), model_state(state_dict_of(checkpoint, Path(path).name)))
    return model, config, checkpoint


@dataclass
class Evaluation:
    ious: np.ndarray  # per FLAIR_13 class, NaN where absent
    miou: float
    confusion: np.ndarray  # K x K, rows reference, columns prediction
    output_dir: Path


def predict_batch(model: torch.nn.Module, batch: dict, architecture: str) -> torch.Tensor:
    """Class indices B x S x S."""
    with torch.no_grad():
        if architecture == "unet":
            logits = model(batch["aerial"])
        else:
            logits = model.segment(
                batch["aerial"], batch["sentinel2"], batch["positions"], batch.get("metadata")
            )
    return logits.argmax(dim=1)


def write_prediction(path: Path, classes: np.ndarray, aerial: Path, fmt: str = "codes") -> None:
    """Class indices (S x S, 0..12) written on the aerial patch's grid and CRS, uint8: as FLAIR_13 codes
    with 0 for nodata (`fmt` "codes"), or as the indices themselves (`fmt` "ign": IGN's scorer subtracts
    1 from the reference labels and compares them with the prediction's values, so 0 is building and
    there is no nodata value)."""
    with rasterio.open(aerial) as src:
        profile = dict(driver="GTiff", width=src.width, height=src.height, count=1, dtype="uint8")
        profile |= dict(crs=src.crs, transform=src.transform)
    if fmt == "ign":
        values = classes.astype(np.uint8)
        profile |= dict(compress="lzw")
    else:
        values = np.asarray(FLAIR_13.codes, dtype=np.uint8)[classes]
        profile |= dict(nodata=0, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values[None])


def write_confusion(output_dir: Path, confusion: np.ndarray) -> None:
    names = [c.name for c in FLAIR_13.classes]
    with open(output_dir / "confusion_matrix.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference \\ predicted", *names])
        for name, row in zip(names, confusion, strict=True):
            writer.writerow([name, *row.tolist()])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, totals, out=np.zeros_like(confusion, dtype=float), where=totals > 0)
    figure, axes = plt.subplots(figsize=(9, 8))
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("reference")
    axes.set_title("Confusion matrix (share of each reference class)")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(output_dir / "confusion_matrix.png", dpi=100)
    plt.close(figure)


class BundlePredictor:
    """Runs a model bundle (.onnx) with ONNX Runtime on dataset batches, as the plugin would."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own exception types
            raise BundleError(f"ONNX Runtime cannot open {Path(path).name}: {exc}") from exc
        text = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if text is None:
            raise BundleError(f"{Path(path).name} has no '{METADATA_KEY}' metadata: not a model bundle")
        self.spec = BundleSpec.from_json(text)
        if self.spec.nomenclature.codes != FLAIR_13.codes:
            raise BundleError(
                f"Evaluation on FLAIR #2 needs the 13-class nomenclature; this bundle predicts "
                f"{self.spec.nomenclature.codes}",
                "nomenclature.classes",
            )

    def __call__(self, batch: dict) -> torch.Tensor:
        """Class indices B x S x S."""
        spec = self.spec
        feeds = {spec.aerial.name: batch["aerial"].numpy()}
        if spec.sentinel2 is not None:
            feeds[spec.sentinel2.name] = batch["sentinel2"].numpy()
            feeds[spec.sentinel2.dates_name] = batch["positions"].numpy()
        if spec.aerial_metadata is not None:
            feeds[spec.aerial_metadata.name] = batch["metadata"].numpy()
        logits = self.session.run([spec.output.name], feeds)[0]
        return torch.from_numpy(logits.argmax(axis=1))


@dataclass
class Predictor:
    """A model ready to evaluate: batch -> class indices B x S x S, and the inputs it expects."""

    predict: Callable[[dict], torch.Tensor]
    aerial: AerialInput
    sentinel2: Sentinel2Input | None
    with_metadata: bool
    metadata_encoding: str = DEFAULT_METADATA_ENCODING

    def dataset(self, root: Path, patches: list) -> Flair2Dataset:
        return Flair2Dataset(
            root,
            patches,
            self.aerial,
            self.sentinel2,
            with_metadata=self.with_metadata,
            metadata_encoding=self.metadata_encoding,
        )


def load_predictor(model_path: str | Path) -> Predictor:
    """A checkpoint of `fit` (run in torch) or a bundle (.onnx, run by ONNX Runtime)."""
    if Path(model_path).suffix.lower() == ".onnx":
        bundle = BundlePredictor(model_path)
        spec = bundle.spec
        metadata = spec.aerial_metadata
        encoding = metadata.encoding if metadata is not None else DEFAULT_METADATA_ENCODING
        return Predictor(bundle, spec.aerial, spec.sentinel2, metadata is not None, encoding)
    model, config, _ = load_trained(model_path)
    predict = partial(predict_batch, model, architecture=config["model"]["architecture"])
    return Predictor(predict, aerial_spec(config), sentinel2_spec(config), config["data"]["aerial_metadata"])


def evaluate(
    checkpoint: str | Path, root: str | Path, output_dir: str | Path, split: str = "test", batch_size: int = 4,
    overwrite: bool = False, prediction_format: str = "codes",
) -> Evaluation:  # fmt: skip
    """Predict every patch of `split` under `root` with a checkpoint of `fit` or a bundle (.onnx, run by
    ONNX Runtime), and write the predictions (in `prediction_format`, see PREDICTION_FORMATS) and
    metrics into `output_dir`."""
    if prediction_format not in PREDICTION_FORMATS:
        raise OutputError(
            f"Unknown prediction format '{prediction_format}'", f"Use one of {list(PREDICTION_FORMATS)}."
        )
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise OutputError(f"{output_dir} is not empty", "Choose another folder or pass --overwrite.")
    predictor = load_predictor(checkpoint)
    patches = find_patches(root, split)
    pad_value = predictor.sentinel2.pad_value if predictor.sentinel2 is not None else 0.0
    loader = DataLoader(
        predictor.dataset(Path(root), patches),
        batch_size=batch_size,
        collate_fn=partial(collate, pad_value=pad_value),
    )
    predictions_dir = output_dir / "predictions"
    created = [d for d in (output_dir, predictions_dir) if not d.exists()]
    predictions_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _evaluate_into(
            predictor, loader, patches, checkpoint, split, output_dir, predictions_dir, prediction_format
        )
    except BaseException:
        # A refused or failed run leaves no folder it created, so the corrected rerun is not refused.
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _evaluate_into(
    predictor: Predictor,
    loader: DataLoader,
    patches: list,
    checkpoint: str | Path,
    split: str,
    output_dir: Path,
    predictions_dir: Path,
    prediction_format: str,
) -> Evaluation:
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    by_name = {p.name: p for p in patches}
    for batch in loader:
        predicted = predictor.predict(batch).numpy()
        for i, name in enumerate(batch["name"]):
            patch = by_name[name]
            write_prediction(
                predictions_dir / f"PRED_{name.removeprefix('IMG_')}.tif",
                predicted[i],
                patch.aerial,
                prediction_format,
            )
        if "labels" in batch:
            labels = batch["labels"].numpy()
            valid = labels != IGNORE_INDEX
            pairs = labels[valid] * NUM_CLASSES + predicted[valid]
            confusion += np.bincount(pairs, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)
    ious = iou_per_class(confusion)
    miou = mean_iou(ious)
    metrics = {
        "checkpoint": str(checkpoint),
        "split": split,
        "patches": len(patches),
        "prediction_format": prediction_format,
        "miou": None if np.isnan(miou) else miou,
        "iou": {
            c.name: (None if np.isnan(v) else float(v)) for c, v in zip(FLAIR_13.classes, ious, strict=True)
        },
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    write_confusion(output_dir, confusion)
    return Evaluation(ious, miou, confusion, output_dir)
