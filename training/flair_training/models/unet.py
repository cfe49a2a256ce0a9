"""The aerial-only U-Net, laid out as IGN's FLAIR models (parameters under `seg_model.`)."""

from __future__ import annotations

import torch
from torch import nn

from .utt import aerial_unet


class AerialUNet(nn.Module):
    """Aerial B x C x S x S -> logits B x K x S x S (S a multiple of 32)."""

    def __init__(
        self,
        aerial_channels: int = 5,
        num_classes: int = 13,
        encoder_name: str = "resnet34",
        encoder_weights: str | None = None,
    ) -> None:
        super().__init__()
        self.seg_model = aerial_unet(encoder_name, encoder_weights, aerial_channels, num_classes)

    def forward(self, aerial: torch.Tensor) -> torch.Tensor:
        return self.seg_model(aerial)
