"""The Lightning task that trains U-T&T or the aerial U-Net on FLAIR #2 batches and tracks the mIoU."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics.classification import MulticlassConfusionMatrix

from flair_qgis.core.nomenclature import FLAIR_13

from .data.flair2 import IGNORE_INDEX, METADATA_SIZE
from .metrics import OTHER_INDEX, iou_per_class, mean_iou
from .models import UTT, AerialUNet

NUM_CLASSES = len(FLAIR_13.classes)


def build_model(config: dict) -> nn.Module:
    """The network a configuration describes (weights freshly initialised)."""
    model, data = config["model"], config["data"]
    if model["architecture"] == "unet":
        return AerialUNet(5, NUM_CLASSES, model["encoder_name"], model["encoder_weights"])
    return UTT(
        aerial_channels=5,
        sentinel2_channels=10,
        num_classes=NUM_CLASSES,
        encoder_name=model["encoder_name"],
        encoder_weights=model["encoder_weights"],
        encoder_widths=model["encoder_widths"],
        decoder_widths=model["decoder_widths"],
        out_conv=model["out_conv"],
        str_conv_k=model["str_conv_k"],
        str_conv_s=model["str_conv_s"],
        str_conv_p=model["str_conv_p"],
        agg_mode=model["agg_mode"],
        encoder_norm=model["encoder_norm"],
        n_head=model["n_head"],
        d_model=model["d_model"],
        d_k=model["d_k"],
        pad_value=model["pad_value"],
        padding_mode=model["padding_mode"],
        metadata_size=METADATA_SIZE if data["aerial_metadata"] else None,
        tile_size=data["tile_size"],
        sentinel2_dropout=model["sentinel2_dropout"],
    )


class SegmentationTask(L.LightningModule):
    """Cross-entropy on the aerial logits (+ aux_weight x on U-TAE's auxiliary logits for U-T&T),
    class weights from the configuration; validation mIoU over the 12 classes other than "other"."""

    def __init__(self, config: dict, provenance: dict | None = None) -> None:
        """`provenance`: what the run started from and learnt on (base model, training data, date),
        kept in every checkpoint for the bundle `flair-train export` writes."""
        super().__init__()
        self.save_hyperparameters({"config": config, "provenance": provenance or {}})
        self.config = config
        self.architecture = config["model"]["architecture"]
        self.model = build_model(config)
        loss = config["loss"]
        self.aux_weight = float(loss["aux_weight"])
        self.criterion_aerial = nn.CrossEntropyLoss(
            weight=torch.tensor(loss["aerial_class_weights"], dtype=torch.float32), ignore_index=IGNORE_INDEX
        )
        self.criterion_sentinel2 = nn.CrossEntropyLoss(
            weight=torch.tensor(loss["sentinel2_class_weights"], dtype=torch.float32),
            ignore_index=IGNORE_INDEX,
        )
        self.val_confusion = MulticlassConfusionMatrix(NUM_CLASSES, ignore_index=IGNORE_INDEX)

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Batch -> (logits B x K x S x S, auxiliary logits or None)."""
        if self.architecture == "unet":
            return self.model(batch["aerial"]), None
        return self.model(batch["aerial"], batch["sentinel2"], batch["positions"], batch.get("metadata"))

    def loss(self, logits: torch.Tensor, aux: torch.Tensor | None, labels: torch.Tensor) -> torch.Tensor:
        """The training loss of logits (and auxiliary logits) against labels B x S x S; pixels labelled
        IGNORE_INDEX (unlabelled: 0 in a MSK file) take no part in it."""
        labels = labels.long()
        if not (labels != IGNORE_INDEX).any():  # a batch without labels: no loss (not NaN)
            return logits.float().sum() * 0.0
        loss = self.criterion_aerial(logits.float(), labels)
        if aux is not None and self.aux_weight:
            loss = loss + self.aux_weight * self.criterion_sentinel2(aux.float(), labels)
        return loss

    def _loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logits, aux = self(batch)
        return self.loss(logits, aux, batch["labels"]), logits

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        self.log(
            "train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["name"])
        )
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits = self._loss(batch)
        self.log(
            "val_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["name"]), sync_dist=True
        )
        self.val_confusion.update(logits.argmax(dim=1), batch["labels"].long())

    def on_validation_epoch_end(self) -> None:
        confusion = self.val_confusion.compute().cpu().numpy()
        self.val_confusion.reset()
        ious = iou_per_class(confusion)
        miou = mean_iou(ious)
        self.log("val_miou", 0.0 if np.isnan(miou) else miou, prog_bar=True, sync_dist=True)
        for index, cls in enumerate(FLAIR_13.classes):
            if index != OTHER_INDEX and not np.isnan(ious[index]):
                self.log(f"val_iou/{cls.name}", float(ious[index]), sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optim = self.config["optim"]
        return torch.optim.Adam(self.model.parameters(), lr=optim["lr"], weight_decay=optim["weight_decay"])
