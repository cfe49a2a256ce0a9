"""`flair-train fit`: the Lightning trainer with checkpoints on the validation mIoU, early stopping,
TensorBoard and CSV logs, resume, mixed precision and Lightning's DDP settings from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader

from .config import ConfigError, aerial_spec, sentinel2_spec
from .data.flair2 import Flair2Dataset, collate, find_patches, split_by_domain
from .lightning_module import SegmentationTask
from .threads import set_torch_threads


class Flair2DataModule(L.LightningDataModule):
    """Train/validation loaders over a FLAIR #2 root, split by domain."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = config
        data = config["data"]
        if not data["root"]:
            raise ConfigError("data.root is not set", "Give the dataset folder: data.root=/path/to/flair2.")
        self.root = Path(data["root"])
        self.train_set: Flair2Dataset | None = None
        self.val_set: Flair2Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        data = self.config["data"]
        train, val = split_by_domain(
            find_patches(self.root, "train"), data["val_domains"], data["val_fraction"]
        )
        common = dict(aerial=aerial_spec(self.config), sentinel2=sentinel2_spec(self.config))
        common |= dict(with_metadata=data["aerial_metadata"])
        self.train_set = Flair2Dataset(self.root, train, augment=data["augment"], **common)
        self.val_set = Flair2Dataset(self.root, val, augment=False, **common)

    def _loader(self, dataset: Flair2Dataset, batch_size: int, shuffle: bool) -> DataLoader:
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


@dataclass
class FitResult:
    best_checkpoint: str
    best_val_miou: float | None
    last_checkpoint: str | None
    output_dir: Path
    epochs: int


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


def fit(config: dict, resume: str | Path | None = None) -> FitResult:
    """Train a model as configured; `resume` continues from a checkpoint of an earlier run."""
    if resume is not None and not Path(resume).is_file():
        raise ConfigError(f"No checkpoint to resume from at {resume}")
    set_torch_threads(config["trainer"]["threads"])
    L.seed_everything(config["seed"], workers=True)
    datamodule = Flair2DataModule(config)
    find_patches(datamodule.root, "train")  # a wrong data.root fails before anything is written
    output_dir = Path(config["output_dir"])
    output_dir.mkdir(parents=True, exist_ok=True)
    task = SegmentationTask(config)
    trainer, checkpoint = make_trainer(config, output_dir)
    trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    best = checkpoint.best_model_score
    return FitResult(
        best_checkpoint=checkpoint.best_model_path,
        best_val_miou=float(best) if best is not None else None,
        last_checkpoint=str(output_dir / "checkpoints" / "last.ckpt"),
        output_dir=output_dir,
        epochs=trainer.current_epoch,
    )
