"""U-T&T: the FLAIR #2 fusion of a U-Net on the aerial image with U-TAE on the Sentinel-2 series.

Attribute names (arch_vhr, arch_hr, fm_utae_featmap_cropped, fm_utae_featmap_collapsed, mtd_mlp,
reshape_utae_output) are those of the reference code, so its checkpoints load with strict=True.
"""

from __future__ import annotations

from collections.abc import Sequence

import segmentation_models_pytorch as smp
import torch
from torch import nn
from torch.nn import functional as F

from .fusion import FMCollapsed, FMCropped, MetadataMLP
from .utae import UTAE


def aerial_unet(
    encoder_name: str = "resnet34",
    encoder_weights: str | None = None,
    in_channels: int = 5,
    classes: int = 13,
) -> smp.Unet:
    """The aerial U-Net; no weights are downloaded unless `encoder_weights` (e.g. "imagenet") is given."""
    return smp.Unet(encoder_name, encoder_weights=encoder_weights, in_channels=in_channels, classes=classes)


def footprint_size(aerial_size: int, aerial_gsd: float, sentinel2_gsd: float, window_size: int) -> int:
    """How many Sentinel-2 pixels the aerial tile covers (512 px x 0.2 m / 10 m -> 10)."""
    return max(1, min(window_size, round(aerial_size * aerial_gsd / sentinel2_gsd)))


def centre_crop(maps: torch.Tensor, size: int) -> torch.Tensor:
    """B x C x H x W -> B x C x size x size around the centre (same offsets as torchvision's CenterCrop)."""
    height, width = int(maps.shape[-2]), int(maps.shape[-1])  # fixed sizes: constants when exported
    top = round((height - size) / 2.0)
    left = round((width - size) / 2.0)
    return maps[..., top : top + size, left : left + size]


class UTT(nn.Module):
    """Aerial B x Ca x S x S + Sentinel-2 B x T x Cs x W x W + positions B x T (+ metadata B x M)
    -> (aerial logits B x K x S x S, auxiliary U-TAE logits B x K x S x S)."""

    def __init__(
        self,
        aerial_channels: int = 5,
        sentinel2_channels: int = 10,
        num_classes: int = 13,
        encoder_name: str = "resnet34",
        encoder_weights: str | None = None,
        encoder_widths: Sequence[int] = (64, 64, 128, 128),
        decoder_widths: Sequence[int] = (64, 64, 128, 128),
        out_conv: Sequence[int] = (32, 13),
        str_conv_k: int = 4,
        str_conv_s: int = 2,
        str_conv_p: int = 1,
        agg_mode: str = "att_group",
        encoder_norm: str = "group",
        n_head: int = 16,
        d_model: int = 256,
        d_k: int = 4,
        pad_value: float = 0.0,
        padding_mode: str = "reflect",
        aerial_gsd: float = 0.2,
        sentinel2_gsd: float = 10.0,
        metadata_size: int | None = None,
        tile_size: int = 512,
        sentinel2_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.aerial_gsd = aerial_gsd
        self.sentinel2_gsd = sentinel2_gsd
        self.sentinel2_dropout = sentinel2_dropout
        self.arch_vhr = aerial_unet(encoder_name, encoder_weights, aerial_channels, num_classes)
        self.arch_hr = UTAE(
            input_dim=sentinel2_channels,
            encoder_widths=encoder_widths,
            decoder_widths=decoder_widths,
            out_conv=out_conv,
            str_conv_k=str_conv_k,
            str_conv_s=str_conv_s,
            str_conv_p=str_conv_p,
            agg_mode=agg_mode,
            encoder_norm=encoder_norm,
            n_head=n_head,
            d_model=d_model,
            d_k=d_k,
            pad_value=pad_value,
            padding_mode=padding_mode,
        )
        # U-TAE's own classifier is not part of U-T&T (the auxiliary head is reshape_utae_output): kept so
        # reference checkpoints load strictly, frozen so DDP does not wait for its gradients (as the
        # fusion into the first stage below, which the decoder never reads)
        self.arch_hr.out_conv.requires_grad_(False)
        stage_widths = list(self.arch_vhr.encoder.out_channels)
        utae_width = self.arch_hr.decoder_widths[0]
        self.fm_utae_featmap_cropped = FMCropped(utae_width, stage_widths)
        self.fm_utae_featmap_collapsed = FMCollapsed(utae_width, stage_widths)
        self.fm_utae_featmap_cropped.conv_list[0].requires_grad_(False)
        self.fm_utae_featmap_collapsed.mlps[0].requires_grad_(False)
        if metadata_size:
            deepest_size = tile_size // 2 ** (len(stage_widths) - 1)
            self.mtd_mlp = MetadataMLP(metadata_size, deepest_size)
        else:
            self.mtd_mlp = None
        # index 0 held the reference's fixed-size Upsample; the resize now follows the aerial input
        self.reshape_utae_output = nn.Sequential(nn.Identity(), nn.Conv2d(utae_width, num_classes, 1))

    def sentinel2_maps(self, sentinel2: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """B x T x Cs x W x W -> the finest U-TAE decoder map, B x decoder_widths[0] x W x W."""
        return self.arch_hr.features(sentinel2, positions)[-1]

    def fuse(
        self, stages: list[torch.Tensor], utae_map: torch.Tensor, aerial_size: int
    ) -> list[torch.Tensor]:
        """Adds the cropped and collapsed U-TAE summaries to the encoder stages (per sample).

        The first stage (the input itself) is left alone: the U-Net decoder never reads it, so its fusion
        modules, kept for the reference's checkpoints, would only cost time (they are frozen).
        """
        crop = footprint_size(aerial_size, self.aerial_gsd, self.sentinel2_gsd, int(utae_map.shape[-1]))
        footprint = centre_crop(utae_map, crop)
        summary = utae_map.mean(dim=(-2, -1))
        fused = [stages[0]]
        for index in range(1, len(stages)):
            size = (int(stages[index].shape[-2]), int(stages[index].shape[-1]))
            cropped = self.fm_utae_featmap_cropped.stage(index, footprint, size)
            collapsed = self.fm_utae_featmap_collapsed.stage(index, summary, size)
            fused.append(stages[index] + cropped + collapsed)
        return fused

    def segment(
        self,
        aerial: torch.Tensor,
        sentinel2: torch.Tensor,
        positions: torch.Tensor,
        metadata: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The land-cover logits alone, B x K x S x S (what a bundle runs)."""
        return self._run(aerial, sentinel2, positions, metadata, with_aux=False)[0]

    def forward(
        self,
        aerial: torch.Tensor,
        sentinel2: torch.Tensor,
        positions: torch.Tensor,
        metadata: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits, aux = self._run(aerial, sentinel2, positions, metadata, with_aux=True)
        assert aux is not None
        return logits, aux

    def _run(
        self,
        aerial: torch.Tensor,
        sentinel2: torch.Tensor,
        positions: torch.Tensor,
        metadata: torch.Tensor | None,
        with_aux: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        aerial_size = int(aerial.shape[-1])
        utae_map = self.sentinel2_maps(sentinel2, positions)
        stages = list(self.arch_vhr.encoder(aerial))
        if self.mtd_mlp is not None and metadata is not None:
            encoded = self.mtd_mlp(metadata)  # B x H_deepest, varies along rows as in the reference
            deepest = stages[-1]
            stages[-1] = deepest + encoded[:, None, :, None].expand_as(deepest)
        drop_sentinel2 = (
            self.training and self.sentinel2_dropout > 0 and torch.rand(1).item() < self.sentinel2_dropout
        )
        if not drop_sentinel2:
            stages = self.fuse(stages, utae_map, aerial_size)
        logits = self.arch_vhr.segmentation_head(self.arch_vhr.decoder(stages))
        if not with_aux:
            return logits, None
        crop = footprint_size(aerial_size, self.aerial_gsd, self.sentinel2_gsd, int(utae_map.shape[-1]))
        aux = self.reshape_utae_output[1](centre_crop(utae_map, crop))
        aux = F.interpolate(aux, size=(int(aerial.shape[-2]), aerial_size), mode="nearest")
        return logits, aux
