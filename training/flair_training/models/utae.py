"""U-TAE: the U-Net with temporal attention that encodes the Sentinel-2 time series in U-T&T.

Follows the structure of U-TAE (Garnot & Landrieu, 2021) and keeps its module and parameter names, so a
state dict saved by the FLAIR #2 reference code loads with strict=True. Two deliberate differences: the
L-TAE input normalisation ignores padded dates (so a sample's output does not depend on how much its batch
was padded), and padded frames are handled with masks instead of boolean indexing (so it exports to ONNX).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

AGGREGATION_MODES = ("att_group", "att_mean", "mean")
NORMS = ("group", "batch", "instance", "none")


class PositionalEncoder(nn.Module):
    """Sinusoidal encoding of day positions: B x T -> B x T x (d * repeat), always computed in float32
    (day offsets of a few hundred need more than half precision)."""

    def __init__(self, d: int, period: float = 1000.0, repeat: int = 1, offset: int = 0) -> None:
        super().__init__()
        self.d = d
        self.repeat = repeat
        exponent = 2 * torch.div(torch.arange(offset, offset + d).float(), 2, rounding_mode="floor") / d
        self._denom = torch.pow(period, exponent)  # not a buffer: stays float32 when the model is halved

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        denom = self._denom.to(positions.device)
        table = positions.float()[:, :, None] / denom[None, None, :]
        even = torch.arange(self.d, device=positions.device) % 2 == 0
        table = torch.where(even, torch.sin(table), torch.cos(table))
        return table.repeat(1, 1, self.repeat)


class MaskedGroupNorm(nn.GroupNorm):
    """GroupNorm over N x C x T whose statistics skip the padded steps (valid: N x T, 1 = real).

    Without a mask it is nn.GroupNorm; the parameters (weight, bias) are the same.
    """

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        if valid is None:
            return super().forward(x)
        n, c, t = x.shape
        groups = x.reshape(n, self.num_groups, c // self.num_groups, t)
        weight = valid.to(x.dtype)[:, None, None, :]
        count = (weight.sum(dim=-1, keepdim=True) * (c // self.num_groups)).clamp(min=1.0)
        mean = (groups * weight).sum(dim=(-2, -1), keepdim=True) / count
        var = (((groups - mean) ** 2) * weight).sum(dim=(-2, -1), keepdim=True) / count
        out = ((groups - mean) / torch.sqrt(var + self.eps)).reshape(n, c, t)
        if self.affine:
            out = out * self.weight[None, :, None] + self.bias[None, :, None]
        return out


class ScaledDotProductAttention(nn.Module):
    """Attention of one learnt query per head over the dates; padded dates get no weight."""

    def __init__(self, temperature: float, attn_dropout: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature
        self.dropout = nn.Dropout(attn_dropout)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pad_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q: N x d_k, k: N x T x d_k, v: N x T x d_v, pad_mask: N x T -> (N x 1 x d_v, N x 1 x T)."""
        attn = torch.matmul(q.unsqueeze(1), k.transpose(1, 2)) / self.temperature
        if pad_mask is not None:
            attn = attn.masked_fill(pad_mask.unsqueeze(1), -1e3)
        attn = self.dropout(torch.softmax(attn, dim=2))
        return torch.matmul(attn, v), attn


class MultiHeadAttention(nn.Module):
    """L-TAE's lightweight multi-head attention: a learnt master query per head (parameter Q)."""

    def __init__(self, n_head: int, d_k: int, d_in: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.d_k = d_k
        self.d_in = d_in
        self.Q = nn.Parameter(torch.zeros((n_head, d_k)))
        nn.init.normal_(self.Q, mean=0, std=math.sqrt(2.0 / d_k))
        self.fc1_k = nn.Linear(d_in, n_head * d_k)
        nn.init.normal_(self.fc1_k.weight, mean=0, std=math.sqrt(2.0 / d_k))
        self.attention = ScaledDotProductAttention(temperature=math.sqrt(d_k))

    def forward(
        self, v: torch.Tensor, pad_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """v: N x T x d_in, pad_mask: N x T -> (n_head x N x d_in/n_head, n_head x N x T)."""
        n, t, _ = v.shape
        q = self.Q.unsqueeze(1).expand(self.n_head, n, self.d_k).reshape(-1, self.d_k)
        k = self.fc1_k(v).reshape(n, t, self.n_head, self.d_k)
        k = k.permute(2, 0, 1, 3).reshape(-1, t, self.d_k)
        if pad_mask is not None:
            pad_mask = pad_mask.repeat(self.n_head, 1)
        heads = torch.stack(v.split(self.d_in // self.n_head, dim=-1)).reshape(self.n_head * n, t, -1)
        output, attn = self.attention(q, k, heads, pad_mask=pad_mask)
        return output.reshape(self.n_head, n, -1), attn.reshape(self.n_head, n, t)


class LTAE2d(nn.Module):
    """Lightweight Temporal Attention Encoder applied at every pixel: B x T x C x H x W -> B x C' x H x W,
    with the attention masks n_head x B x T x H x W."""

    def __init__(
        self,
        in_channels: int = 128,
        n_head: int = 16,
        d_k: int = 4,
        mlp: Sequence[int] = (256, 128),
        dropout: float = 0.2,
        d_model: int | None = 256,
        period: float = 1000.0,
        positional_encoding: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.n_head = n_head
        self.d_model = d_model if d_model is not None else in_channels
        widths = list(mlp)
        if widths[0] != self.d_model:
            raise ValueError(f"the MLP must start at d_model={self.d_model}, got {widths}")
        self.inconv = nn.Conv1d(in_channels, d_model, 1) if d_model is not None else None
        self.positional_encoder = (
            PositionalEncoder(self.d_model // n_head, period=period, repeat=n_head)
            if positional_encoding
            else None
        )
        self.attention_heads = MultiHeadAttention(n_head=n_head, d_k=d_k, d_in=self.d_model)
        self.in_norm = MaskedGroupNorm(num_groups=n_head, num_channels=in_channels)
        self.out_norm = nn.GroupNorm(num_groups=n_head, num_channels=widths[-1])
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.BatchNorm1d(width_out), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor, pad_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: B x T x C x H x W, positions: B x T, pad_mask: B x T (True = padded frame)."""
        b, t, c, h, w = x.shape
        per_pixel = x.permute(0, 3, 4, 1, 2).reshape(-1, t, c)  # (B*H*W) x T x C
        pixel_mask = None
        if pad_mask is not None:
            pixel_mask = pad_mask[:, None, None, :].expand(b, h, w, t).reshape(-1, t)
        valid = None if pixel_mask is None else ~pixel_mask
        out = self.in_norm(per_pixel.permute(0, 2, 1), valid).permute(0, 2, 1)
        if self.inconv is not None:
            out = self.inconv(out.permute(0, 2, 1)).permute(0, 2, 1)
        if self.positional_encoder is not None:
            encoded = self.positional_encoder(positions)  # B x T x d_model
            encoded = encoded.to(out.dtype)[:, None, None].expand(b, h, w, t, self.d_model)
            out = out + encoded.reshape(-1, t, self.d_model)
        out, attn = self.attention_heads(out, pad_mask=pixel_mask)
        out = out.permute(1, 0, 2).reshape(b * h * w, -1)  # heads concatenated
        out = self.out_norm(self.dropout(self.mlp(out)))
        out = out.reshape(b, h, w, -1).permute(0, 3, 1, 2)
        attn = attn.reshape(self.n_head, b, h, w, t).permute(0, 1, 4, 2, 3)
        return out, attn


def _norm_layer(norm: str, channels: int, n_groups: int) -> nn.Module | None:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(num_channels=channels, num_groups=n_groups)
    if norm == "none":
        return None
    raise ValueError(f"unknown norm '{norm}', expected one of {NORMS}")


class ConvLayer(nn.Module):
    """A stack of conv + norm + ReLU layers, widths given by nkernels (parameters under `conv.`)."""

    def __init__(
        self,
        nkernels: Sequence[int],
        norm: str = "batch",
        k: int = 3,
        s: int = 1,
        p: int = 1,
        n_groups: int = 4,
        last_relu: bool = True,
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(len(nkernels) - 1):
            layers.append(
                nn.Conv2d(
                    nkernels[i],
                    nkernels[i + 1],
                    kernel_size=k,
                    padding=p,
                    stride=s,
                    padding_mode=padding_mode,
                )
            )
            norm_layer = _norm_layer(norm, nkernels[i + 1], n_groups)
            if norm_layer is not None:
                layers.append(norm_layer)
            if last_relu or i < len(nkernels) - 2:
                layers.append(nn.ReLU())
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class TemporallySharedBlock(nn.Module):
    """A 2D block applied to every date of a B x T x C x H x W series; padded frames stay pad_value."""

    def __init__(self, pad_value: float | None = None) -> None:
        super().__init__()
        self.pad_value = pad_value

    def smart_forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: B x T x C x H x W (or B x C x H x W), pad_mask: B x T -> B x T x C' x H' x W'."""
        if x.dim() == 4:
            return self.forward(x)
        b, t, c, h, w = x.shape
        out = self.forward(x.reshape(b * t, c, h, w))
        out = out.reshape(b, t, *out.shape[1:])
        if self.pad_value is not None and pad_mask is not None:
            out = torch.where(pad_mask[:, :, None, None, None], torch.full_like(out, self.pad_value), out)
        return out


class ConvBlock(TemporallySharedBlock):
    def __init__(
        self,
        nkernels: Sequence[int],
        pad_value: float | None = None,
        norm: str = "batch",
        last_relu: bool = True,
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__(pad_value=pad_value)
        self.conv = ConvLayer(nkernels=nkernels, norm=norm, last_relu=last_relu, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DownConvBlock(TemporallySharedBlock):
    """Strided convolution then a residual pair of convolutions: C x H x W -> C' x H/s x W/s."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        k: int,
        s: int,
        p: int,
        pad_value: float | None = None,
        norm: str = "batch",
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__(pad_value=pad_value)
        self.down = ConvLayer(nkernels=[d_in, d_in], norm=norm, k=k, s=s, p=p, padding_mode=padding_mode)
        self.conv1 = ConvLayer(nkernels=[d_in, d_out], norm=norm, padding_mode=padding_mode)
        self.conv2 = ConvLayer(nkernels=[d_out, d_out], norm=norm, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.down(x))
        return out + self.conv2(out)


class UpConvBlock(nn.Module):
    """Transposed convolution, concatenation with the temporally aggregated skip, residual convs."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        k: int,
        s: int,
        p: int,
        norm: str = "batch",
        d_skip: int | None = None,
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        d = d_out if d_skip is None else d_skip
        self.skip_conv = nn.Sequential(nn.Conv2d(d, d, kernel_size=1), nn.BatchNorm2d(d), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(d_in, d_out, kernel_size=k, stride=s, padding=p),
            nn.BatchNorm2d(d_out),
            nn.ReLU(),
        )
        self.conv1 = ConvLayer(nkernels=[d_out + d, d_out], norm=norm, padding_mode=padding_mode)
        self.conv2 = ConvLayer(nkernels=[d_out, d_out], norm=norm, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        out = torch.cat([self.up(x), self.skip_conv(skip)], dim=1)
        out = self.conv1(out)
        return out + self.conv2(out)


class TemporalAggregator(nn.Module):
    """Collapses a skip series B x T x C x H x W to B x C x H x W with the L-TAE attention masks."""

    def __init__(self, mode: str = "att_group") -> None:
        super().__init__()
        if mode not in AGGREGATION_MODES:
            raise ValueError(f"unknown aggregation '{mode}', expected one of {AGGREGATION_MODES}")
        self.mode = mode

    def _resize(self, attn: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if size[0] > attn.shape[-2]:
            return F.interpolate(attn, size=size, mode="bilinear", align_corners=False)
        return F.avg_pool2d(attn, kernel_size=attn.shape[-2] // size[0])

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """x: B x T x C x H x W, pad_mask: B x T, attn_mask: heads x B x T x h x w -> B x C x H x W."""
        valid = (~pad_mask).to(x.dtype)
        size = (x.shape[-2], x.shape[-1])
        if self.mode == "att_group":
            n_heads, b, t, h, w = attn_mask.shape
            attn = self._resize(attn_mask.reshape(n_heads * b, t, h, w), size)
            attn = attn.reshape(n_heads, b, t, *size) * valid[None, :, :, None, None]
            groups = torch.stack(x.chunk(n_heads, dim=2))  # heads x B x T x C/heads x H x W
            out = (attn[:, :, :, None] * groups).sum(dim=2)
            return torch.cat(list(out), dim=1)
        if self.mode == "att_mean":
            attn = self._resize(attn_mask.mean(dim=0), size) * valid[:, :, None, None]
            return (x * attn[:, :, None]).sum(dim=1)
        out = (x * valid[:, :, None, None, None]).sum(dim=1)
        return out / valid.sum(dim=1).clamp(min=1.0)[:, None, None, None]


class UTAE(nn.Module):
    """U-TAE over a Sentinel-2 series: B x T x C x H x W + B x T day positions.

    `features()` gives the decoder maps from the coarsest (B x encoder_widths[-1] x H/2^k x W/2^k) to
    the finest (B x decoder_widths[0] x H x W); `forward()` adds `out_conv` (B x out_conv[-1] x H x W).
    H and W must be multiples of str_conv_s ** (len(encoder_widths) - 1).
    """

    def __init__(
        self,
        input_dim: int,
        encoder_widths: Sequence[int] = (64, 64, 64, 128),
        decoder_widths: Sequence[int] | None = (32, 32, 64, 128),
        out_conv: Sequence[int] = (32, 20),
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
    ) -> None:
        super().__init__()
        encoder_widths = list(encoder_widths)
        decoder_widths = list(decoder_widths) if decoder_widths is not None else list(encoder_widths)
        if len(encoder_widths) != len(decoder_widths) or encoder_widths[-1] != decoder_widths[-1]:
            raise ValueError(
                f"encoder and decoder widths must have the same length and last width, got "
                f"{encoder_widths} and {decoder_widths}"
            )
        for width in encoder_widths:
            if width % n_head:
                raise ValueError(f"every encoder width must be a multiple of n_head={n_head}, got {width}")
        self.n_stages = len(encoder_widths)
        self.encoder_widths = encoder_widths
        self.decoder_widths = decoder_widths
        self.downsampling = str_conv_s ** (self.n_stages - 1)
        self.pad_value = pad_value
        self.in_conv = ConvBlock(
            nkernels=[input_dim, encoder_widths[0], encoder_widths[0]],
            pad_value=pad_value,
            norm=encoder_norm,
            padding_mode=padding_mode,
        )
        self.down_blocks = nn.ModuleList(
            DownConvBlock(
                d_in=encoder_widths[i],
                d_out=encoder_widths[i + 1],
                k=str_conv_k,
                s=str_conv_s,
                p=str_conv_p,
                pad_value=pad_value,
                norm=encoder_norm,
                padding_mode=padding_mode,
            )
            for i in range(self.n_stages - 1)
        )
        self.up_blocks = nn.ModuleList(
            UpConvBlock(
                d_in=decoder_widths[i],
                d_out=decoder_widths[i - 1],
                d_skip=encoder_widths[i - 1],
                k=str_conv_k,
                s=str_conv_s,
                p=str_conv_p,
                norm="batch",
                padding_mode=padding_mode,
            )
            for i in range(self.n_stages - 1, 0, -1)
        )
        self.temporal_encoder = LTAE2d(
            in_channels=encoder_widths[-1],
            d_model=d_model,
            n_head=n_head,
            mlp=[d_model, encoder_widths[-1]],
            d_k=d_k,
        )
        self.temporal_aggregator = TemporalAggregator(mode=agg_mode)
        self.out_conv = ConvBlock(nkernels=[decoder_widths[0], *out_conv], padding_mode=padding_mode)

    def pad_mask(self, series: torch.Tensor) -> torch.Tensor:
        """B x T mask, True where a whole frame equals pad_value (a padded date)."""
        return (series == self.pad_value).flatten(start_dim=2).all(dim=-1)

    def features(self, series: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        """series: B x T x C x H x W, positions: B x T -> decoder maps, coarsest first."""
        pad_mask = self.pad_mask(series)
        skips = [self.in_conv.smart_forward(series, pad_mask)]
        for block in self.down_blocks:
            skips.append(block.smart_forward(skips[-1], pad_mask))
        out, attn = self.temporal_encoder(skips[-1], positions, pad_mask=pad_mask)
        maps = [out]
        for i, block in enumerate(self.up_blocks):
            skip = self.temporal_aggregator(skips[-(i + 2)], pad_mask=pad_mask, attn_mask=attn)
            out = block(out, skip)
            maps.append(out)
        return maps

    def forward(self, series: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.out_conv(self.features(series, positions)[-1])
