"""Run by tests/training/test_ddp.py: `flair-train fit`'s own fit() with Lightning DDP on CPU processes
(gloo), each rank saving its weights when training ends so the test can compare them. Lightning's DDP
launcher starts the other ranks by running this script again, so the callback is added in every rank."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch

from flair_training import train
from flair_training.config import load_config


class SaveRankWeights(L.Callback):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        state = {name: value.detach().cpu() for name, value in module.state_dict().items()}
        torch.save(state, self.folder / f"rank{trainer.global_rank}.pt")


def main() -> None:
    root, output = Path(sys.argv[1]), Path(sys.argv[2])
    make_trainer = train.make_trainer

    def with_saving(config, output_dir):
        trainer, checkpoint = make_trainer(config, output_dir)
        trainer.callbacks.append(SaveRankWeights(output))
        return trainer, checkpoint

    train.make_trainer = with_saving
    config = load_config(
        "quick",
        [
            f"data.root={root}", f"output_dir={output}", "model.architecture=unet", "data.tile_size=32",
            "data.batch_size=4", "data.num_workers=0", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
            "trainer.limit_val_batches=1", "trainer.progress_bar=false", "trainer.threads=1",
            "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp",
        ],
    )  # fmt: skip
    result = train.fit(config)
    if result.best_checkpoint:
        (output / "best.txt").write_text(result.best_checkpoint)


if __name__ == "__main__":
    main()
