"""The two ways U-T&T injects the U-TAE feature map into every stage of the aerial U-Net encoder.

Each works per sample: sample i of the batch only ever sees its own Sentinel-2 window (the FLAIR #2
baseline broadcast the first sample's collapsed vector to the whole batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class FMCropped(nn.Module):
    """Aerial footprint of the U-TAE map, 1x1 conv to each stage's width, bilinear resize to its size.

    B x C_in x h x w -> one B x C_i x H_i x W_i map per stage (parameters `conv_list.i`).
    """

    def __init__(self, in_channels: int, out_channels_list: Sequence[int]) -> None:
        super().__init__()
        self.conv_list = nn.ModuleList(
            nn.Conv2d(in_channels, width, kernel_size=1) for width in out_channels_list
        )

    def stage(self, index: int, footprint: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The map added to stage `index`: B x C_index x size."""
        return F.interpolate(
            self.conv_list[index](footprint), size=size, mode="bilinear", align_corners=False
        )

    def forward(self, footprint: torch.Tensor, sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
        return [self.stage(i, footprint, size) for i, size in enumerate(sizes)]


def _collapsed_widths(in_channels: int, out_channels: int) -> list[int]:
    """The reference's three-layer MLP widths: a linear ramp from the input to the output width
    (or twice the input when both are equal)."""
    if in_channels == out_channels:
        return [in_channels, in_channels * 2, in_channels * 2, out_channels]
    step = abs(in_channels - out_channels) // 3
    sign = 1 if out_channels > in_channels else -1
    return [in_channels, in_channels + sign * step, in_channels + 2 * sign * step, out_channels]


class FMCollapsed(nn.Module):
    """Spatial mean of the U-TAE map, a 3-layer MLP per stage, tiled over the stage's size.

    B x C_in -> one B x C_i x H_i x W_i map per stage (parameters `mlps.i.{0,3,6}`).
    """

    def __init__(self, in_channels: int, out_channels_list: Sequence[int], dropout: float = 0.3) -> None:
        super().__init__()
        self.mlps = nn.ModuleList()
        for width in out_channels_list:
            w = _collapsed_widths(in_channels, width)
            self.mlps.append(
                nn.Sequential(
                    nn.Linear(w[0], w[1]),
                    nn.Dropout(dropout),
                    nn.ReLU(inplace=True),
                    nn.Linear(w[1], w[2]),
                    nn.Dropout(dropout),
                    nn.ReLU(inplace=True),
                    nn.Linear(w[2], w[3]),
                )
            )

    def stage(self, index: int, summary: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The map added to stage `index`: B x C_index x size, constant over the stage."""
        vector = self.mlps[index](summary)  # B x C_index
        return vector[:, :, None, None].expand(-1, -1, size[0], size[1])

    def forward(self, summary: torch.Tensor, sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
        return [self.stage(i, summary, size) for i, size in enumerate(sizes)]


class MetadataMLP(nn.Module):
    """Aerial metadata vector B x in_size -> B x out_size (parameters `enc_mlp.{0,3,6}`)."""

    def __init__(self, in_size: int, out_size: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.enc_mlp = nn.Sequential(
            nn.Linear(in_size, 64),
            nn.Dropout(dropout),
            nn.ReLU(inplace=True),
            nn.Linear(64, 32),
            nn.Dropout(dropout),
            nn.ReLU(inplace=True),
            nn.Linear(32, out_size),
        )

    def forward(self, metadata: torch.Tensor) -> torch.Tensor:
        return self.enc_mlp(metadata)
