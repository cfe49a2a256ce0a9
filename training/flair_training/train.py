"""`flair-train fit`: the Lightning trainer with checkpoints on the validation mIoU, early stopping,
TensorBoard and CSV logs, resume or a start from other weights (fine-tuning), mixed precision and
Lightning's DDP settings from the configuration."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import rasterio
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from flair_qgis.core.nomenclature import FLAIR_13

from .base_model import load_base_weights, read_base_model
from .checkpoints import load_checkpoint
from .config import ConfigError, aerial_spec, data_roots, sentinel2_spec
from .data.flair2 import (
    Flair2Dataset,
    Flair2Patch,
    collate,
    find_patches,
    label_lookup,
    split_by_domain,
    split_by_zone,
)
from .lightning_module import SegmentationTask
from .threads import set_torch_threads

#: The manifest a corrections dataset carries (flair_qgis.review.training_patches.MANIFEST_NAME).
MANIFEST_NAME = "manifest.json"


class Flair2DataModule(L.LightningDataModule):
    """Train/validation loaders over one FLAIR #2 root or several (e.g. FLAIR #2 and the patches of a
    reviewer's corrections), concatenated, each read with its own centroids and metadata; validation
    patches held out by domain or by zone (data.split_by)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = config
        self.roots = data_roots(config)
        if not self.roots:
            raise ConfigError(
                "data.root is not set",
                "Give the dataset folder: data.root=/path/to/flair2 (or a list: data.root=[/a,/b]).",
            )
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.train_patches: list[tuple[Path, list[Flair2Patch]]] = []
        self.val_patches: list[tuple[Path, list[Flair2Patch]]] = []

    def find(self) -> list[tuple[Path, list[Flair2Patch]]]:
        """The training patches of every root (InputError for a root that holds none)."""
        return [(root, find_patches(root, "train")) for root in self.roots]

    def split(self) -> None:
        """Hold out the validation patches across all roots."""
        data = self.config["data"]
        per_root = self.find()
        patches = [patch for _, members in per_root for patch in members]
        if data["split_by"] == "zone":
            train, val = split_by_zone(patches, data["val_zones"], data["val_fraction"])
        else:
            train, val = split_by_domain(patches, data["val_domains"], data["val_fraction"])
        held = set(val)
        self.train_patches = [(root, [p for p in members if p not in held]) for root, members in per_root]
        self.val_patches = [(root, [p for p in members if p in held]) for root, members in per_root]
        if not train or not val:
            raise ConfigError(f"The split leaves {len(train)} training and {len(val)} validation patches")

    def _dataset(self, parts: list[tuple[Path, list[Flair2Patch]]], augment: bool) -> Dataset:
        data = self.config["data"]
        common = dict(aerial=aerial_spec(self.config), sentinel2=sentinel2_spec(self.config))
        common |= dict(with_metadata=data["aerial_metadata"])
        sets = [Flair2Dataset(root, patches, augment=augment, **common) for root, patches in parts if patches]
        return sets[0] if len(sets) == 1 else ConcatDataset(sets)

    def setup(self, stage: str | None = None) -> None:
        if not self.train_patches:
            self.split()
        self.train_set = self._dataset(self.train_patches, self.config["data"]["augment"])
        self.val_set = self._dataset(self.val_patches, False)

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        workers = self.config["data"]["num_workers"]
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=workers,
            persistent_workers=workers > 0,
            collate_fn=partial(collate, pad_value=float(self.config["model"]["pad_value"])),
            drop_last=shuffle and len(dataset) > batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.config["data"]["batch_size"], shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.config["data"]["eval_batch_size"], shuffle=False)


def classes_without_examples(parts: list[tuple[Path, list[Flair2Patch]]], config: dict) -> list[str]:
    """Names of the classes the loss trains (weight above 0) of which no training patch has a pixel.
    Reads the label patches until every class is seen."""
    weights = config["loss"]["aerial_class_weights"]
    wanted = {index for index, weight in enumerate(weights) if weight > 0}
    lookup = label_lookup()
    seen: set[int] = set()
    for _, patches in parts:
        for patch in patches:
            if patch.labels is None:
                continue
            with rasterio.open(patch.labels) as src:
                seen.update(int(i) for i in np.unique(lookup[src.read(1)]) if i >= 0)
            if wanted <= seen:
                return []
    return [FLAIR_13.classes[index].name for index in sorted(wanted - seen)]


def training_data_record(roots: list[Path]) -> list[dict]:
    """What each root is, for the provenance: FLAIR #2 layout, or a reviewer's corrections (their
    manifest's patches, corrected pixels, author, date)."""
    records = []
    for root in roots:
        record: dict = {"root": str(Path(root).resolve())}
        manifest_path = Path(root) / MANIFEST_NAME
        if manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                manifest = {}
            record |= {
                "kind": "corrections",
                "domain": manifest.get("domain"),
                "patches": manifest.get("patches"),
                "corrected_pixels": sum((manifest.get("corrected_pixels") or {}).values()),
                "predicted_pixels": sum((manifest.get("predicted_pixels") or {}).values()),
                "author": manifest.get("author") or None,
                "written": manifest.get("written"),
            }
        else:
            record["kind"] = "FLAIR #2 layout"
        records.append(record)
    return records


@dataclass
class FitResult:
    best_checkpoint: str
    best_val_miou: float | None
    last_checkpoint: str | None
    output_dir: Path
    epochs: int
    warnings: list[str] = field(default_factory=list)


def make_trainer(config: dict, output_dir: Path) -> tuple[L.Trainer, ModelCheckpoint]:
    trainer_cfg = config["trainer"]
    checkpoint = ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        filename=f"{config['model']['architecture']}-{{epoch:02d}}-{{val_miou:.4f}}",
        monitor="val_miou",
        mode="max",
        save_top_k=1,
    )
    latest = ModelCheckpoint(
        dirpath=output_dir / "checkpoints", filename="last", enable_version_counter=False
    )
    early_stopping = EarlyStopping(monitor="val_miou", mode="max", patience=trainer_cfg["patience"])
    callbacks = [checkpoint, latest, early_stopping]
    if trainer_cfg["progress_bar"]:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    loggers = [TensorBoardLogger(output_dir, name="tensorboard"), CSVLogger(output_dir, name="csv")]
    trainer = L.Trainer(
        max_epochs=trainer_cfg["max_epochs"],
        precision=trainer_cfg["precision"],
        accelerator=trainer_cfg["accelerator"],
        devices=trainer_cfg["devices"],
        strategy=trainer_cfg["strategy"],
        num_nodes=trainer_cfg["num_nodes"],
        log_every_n_steps=trainer_cfg["log_every_n_steps"],
        limit_train_batches=trainer_cfg["limit_train_batches"],
        limit_val_batches=trainer_cfg["limit_val_batches"],
        deterministic=trainer_cfg["deterministic"],
        enable_progress_bar=trainer_cfg["progress_bar"],
        callbacks=callbacks,
        logger=loggers,
        default_root_dir=output_dir,
    )
    return trainer, checkpoint


def fit(
    config: dict,
    resume: str | Path | None = None,
    init: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> FitResult:
    """Train a model as configured. `resume` continues an earlier run (weights, optimizer, epoch);
    `init` starts from the weights of a checkpoint or bundle (see base_model.read_base_model) with a
    fresh optimizer at epoch 0. Warnings (classes without examples, a base model's other normalisation)
    go to `warn` before training starts (default: Python's warnings) and into FitResult.warnings."""
    if resume is not None and init is not None:
        raise ConfigError(
            "--resume and --init both given",
            "--resume continues a run; --init starts a new one from weights. Give one of them.",
        )
    if resume is not None and not Path(resume).is_file():
        raise ConfigError(f"No checkpoint to resume from at {resume}")
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if warn is not None:
            warn(message)
        else:
            warnings.warn(message, UserWarning, stacklevel=3)

    set_torch_threads(config["trainer"]["threads"])
    L.seed_everything(config["seed"], workers=True)
    base = read_base_model(init) if init is not None else None
    datamodule = Flair2DataModule(config)
    datamodule.split()  # a wrong data.root or split fails before anything is written
    provenance: dict = {
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_data": training_data_record(datamodule.roots),
    }
    if base is not None:
        provenance["base_model"] = {**base.record, "text": base.describe()}
    elif resume is not None:  # a resumed fine-tune still started from its base model
        earlier = (load_checkpoint(resume).get("hyper_parameters") or {}).get("provenance") or {}
        if earlier.get("base_model"):
            provenance["base_model"] = earlier["base_model"]
    task = SegmentationTask(config, provenance)
    if base is not None:
        for message in load_base_weights(task.model, base, config):
            note(message)
    missing = classes_without_examples(datamodule.train_patches, config)
    if missing:
        note(
            f"The training patches hold no example of {len(missing)} class(es): {', '.join(missing)}. "
            "The run goes on; the model learns nothing new about them."
        )
    output_dir = Path(config["output_dir"])
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer, checkpoint = make_trainer(config, output_dir)
    trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    best = checkpoint.best_model_score
    return FitResult(
        best_checkpoint=checkpoint.best_model_path,
        best_val_miou=float(best) if best is not None else None,
        last_checkpoint=str(output_dir / "checkpoints" / "last.ckpt"),
        output_dir=output_dir,
        epochs=trainer.current_epoch,
        warnings=notes,
    )
