"""Checkpoints in the format the FLAIR #2 reference code (IGNF/FLAIR-2) and IGN's FLAIR models save.

The key names and shapes below are written down from the reference sources (src/backbones/txt_model.py,
utae_model.py, ltae.py, fusion_utils.py, smp's ResNet U-Net, src/task_module.py, main.py), not taken from
this project's models, so loading them strictly proves the names match. Values are random but plausible
(positive variances, unit-scale norms). Run `python -m tests.data.flair2.reference_keys OUT` to write
`reference_utt.ckpt` and `ign_aerial_weights.pth` into OUT.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

Shapes = dict[str, tuple[int, ...]]


def _conv(prefix: str, c_in: int, c_out: int, k: int, bias: bool = True) -> Shapes:
    keys: Shapes = {f"{prefix}.weight": (c_out, c_in, k, k)}
    if bias:
        keys[f"{prefix}.bias"] = (c_out,)
    return keys


def _linear(prefix: str, c_in: int, c_out: int) -> Shapes:
    return {f"{prefix}.weight": (c_out, c_in), f"{prefix}.bias": (c_out,)}


def _batch_norm(prefix: str, c: int) -> Shapes:
    return {
        f"{prefix}.weight": (c,),
        f"{prefix}.bias": (c,),
        f"{prefix}.running_mean": (c,),
        f"{prefix}.running_var": (c,),
        f"{prefix}.num_batches_tracked": (),
    }


def _group_norm(prefix: str, c: int) -> Shapes:
    return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,)}


def smp_resnet34_unet(prefix: str, in_channels: int, classes: int) -> Shapes:
    """segmentation_models_pytorch Unet('resnet34'): torchvision ResNet-34 without fc, 5 decoder blocks
    (256, 128, 64, 32, 16) with conv+BN pairs, a 3x3 segmentation head."""
    keys: Shapes = {}
    keys |= _conv(f"{prefix}encoder.conv1", in_channels, 64, 7, bias=False)
    keys |= _batch_norm(f"{prefix}encoder.bn1", 64)
    c_in = 64
    for layer, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], start=1):
        for block in range(blocks):
            p = f"{prefix}encoder.layer{layer}.{block}"
            keys |= _conv(f"{p}.conv1", c_in if block == 0 else width, width, 3, bias=False)
            keys |= _batch_norm(f"{p}.bn1", width)
            keys |= _conv(f"{p}.conv2", width, width, 3, bias=False)
            keys |= _batch_norm(f"{p}.bn2", width)
            if block == 0 and layer > 1:
                keys |= _conv(f"{p}.downsample.0", c_in, width, 1, bias=False)
                keys |= _batch_norm(f"{p}.downsample.1", width)
        c_in = width
    head, skips = 512, [256, 128, 64, 64, 0]
    for i, (skip, width) in enumerate(zip(skips, [256, 128, 64, 32, 16], strict=True)):
        p = f"{prefix}decoder.blocks.{i}"
        keys |= _conv(f"{p}.conv1.0", head + skip, width, 3, bias=False)
        keys |= _batch_norm(f"{p}.conv1.1", width)
        keys |= _conv(f"{p}.conv2.0", width, width, 3, bias=False)
        keys |= _batch_norm(f"{p}.conv2.1", width)
        head = width
    keys |= _conv(f"{prefix}segmentation_head.0", 16, classes, 3)
    return keys


def _conv_layer(prefix: str, widths: list[int], norm: str, k: int = 3) -> Shapes:
    """utae_model.ConvLayer: per step Conv2d, norm, ReLU inside `conv` (a Sequential)."""
    keys: Shapes = {}
    for i in range(len(widths) - 1):
        keys |= _conv(f"{prefix}.conv.{3 * i}", widths[i], widths[i + 1], k)
        norm_keys = _group_norm if norm == "group" else _batch_norm
        keys |= norm_keys(f"{prefix}.conv.{3 * i + 1}", widths[i + 1])
    return keys


def utae(
    prefix: str, input_dim: int, widths: list[int], out_conv: list[int], n_head: int, d_model: int, d_k: int
) -> Shapes:
    """utae_model.UTAE with encoder_widths == decoder_widths == widths, group norm in the encoder."""
    keys: Shapes = {}
    keys |= _conv_layer(f"{prefix}in_conv.conv", [input_dim, widths[0], widths[0]], "group")
    for i in range(len(widths) - 1):
        p = f"{prefix}down_blocks.{i}"
        keys |= _conv_layer(f"{p}.down", [widths[i], widths[i]], "group", k=4)
        keys |= _conv_layer(f"{p}.conv1", [widths[i], widths[i + 1]], "group")
        keys |= _conv_layer(f"{p}.conv2", [widths[i + 1], widths[i + 1]], "group")
    for j, i in enumerate(range(len(widths) - 1, 0, -1)):
        p = f"{prefix}up_blocks.{j}"
        d_in, d_out, d_skip = widths[i], widths[i - 1], widths[i - 1]
        keys |= _conv(f"{p}.skip_conv.0", d_skip, d_skip, 1)
        keys |= _batch_norm(f"{p}.skip_conv.1", d_skip)
        keys |= {f"{p}.up.0.weight": (d_in, d_out, 4, 4), f"{p}.up.0.bias": (d_out,)}
        keys |= _batch_norm(f"{p}.up.1", d_out)
        keys |= _conv_layer(f"{p}.conv1", [d_out + d_skip, d_out], "batch")
        keys |= _conv_layer(f"{p}.conv2", [d_out, d_out], "batch")
    t = f"{prefix}temporal_encoder"
    keys |= {f"{t}.inconv.weight": (d_model, widths[-1], 1), f"{t}.inconv.bias": (d_model,)}
    keys |= {f"{t}.attention_heads.Q": (n_head, d_k)}
    keys |= _linear(f"{t}.attention_heads.fc1_k", d_model, n_head * d_k)
    keys |= _group_norm(f"{t}.in_norm", widths[-1])
    keys |= _group_norm(f"{t}.out_norm", widths[-1])
    keys |= _linear(f"{t}.mlp.0", d_model, widths[-1])
    keys |= _batch_norm(f"{t}.mlp.1", widths[-1])
    keys |= _conv_layer(f"{prefix}out_conv.conv", [widths[0], *out_conv], "batch")
    return keys


def fusion(
    prefix: str, utae_width: int, stage_widths: list[int], classes: int, metadata: int | None
) -> Shapes:
    """fusion_utils.FM_cropped / FM_collapsed / mtd_encoding_mlp and the U-TAE auxiliary head."""
    keys: Shapes = {}
    for i, width in enumerate(stage_widths):
        keys |= _conv(f"{prefix}fm_utae_featmap_cropped.conv_list.{i}", utae_width, width, 1)
        m = abs(utae_width - width) // 3
        if utae_width < width:
            ramp = [utae_width, utae_width + m, utae_width + 2 * m, width]
        elif utae_width > width:
            ramp = [utae_width, utae_width - m, utae_width - 2 * m, width]
        else:
            ramp = [utae_width, 2 * utae_width, 2 * utae_width, width]
        for layer, index in enumerate((0, 3, 6)):
            keys |= _linear(
                f"{prefix}fm_utae_featmap_collapsed.mlps.{i}.{index}", ramp[layer], ramp[layer + 1]
            )
    if metadata:
        last_spatial = 512 // 2 ** (len(stage_widths) - 1)
        for index, (a, b) in zip((0, 3, 6), [(metadata, 64), (64, 32), (32, last_spatial)], strict=True):
            keys |= _linear(f"{prefix}mtd_mlp.enc_mlp.{index}", a, b)
    keys |= _conv(f"{prefix}reshape_utae_output.1", utae_width, classes, 1)
    return keys


def reference_utt_shapes(metadata: bool = False) -> Shapes:
    """Every key of a FLAIR #2 baseline checkpoint's state_dict (flair-2-config.yml values)."""
    keys = smp_resnet34_unet("model.arch_vhr.", 5, 13)
    keys |= utae("model.arch_hr.", 10, [64, 64, 128, 128], [32, 13], n_head=16, d_model=256, d_k=4)
    keys |= fusion("model.", 64, [5, 64, 64, 128, 256, 512], 13, 32 + 13 if metadata else None)
    keys |= {"criterion.0.weight": (13,), "criterion.1.weight": (13,)}
    return keys


def random_state(shapes: Shapes, seed: int = 0) -> dict[str, torch.Tensor]:
    """Plausible random values: fan-in scaled weights, positive variances, integer counters."""
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=generator)
        elif key.endswith("running_mean"):
            state[key] = 0.1 * torch.randn(shape, generator=generator)
        elif key.startswith("criterion"):
            state[key] = torch.ones(shape)
        elif len(shape) == 1 and key.endswith(".weight"):
            state[key] = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        elif len(shape) == 1:
            state[key] = 0.05 * torch.randn(shape, generator=generator)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=generator) * (1.0 / fan_in) ** 0.5
    return state


def write_reference_checkpoint(path: Path, metadata: bool = False, seed: int = 0) -> Path:
    """A Lightning checkpoint as the reference's ModelCheckpoint(save_weights_only=True) writes it."""
    checkpoint = {
        "epoch": 12,
        "global_step": 3456,
        "pytorch-lightning_version": "1.9.5",
        "state_dict": random_state(reference_utt_shapes(metadata), seed),
        "loops": {},
        "callbacks": {},
    }
    torch.save(checkpoint, path)
    return path


def ign_aerial_shapes(classes: int = 19) -> Shapes:
    """IGN's FLAIR aerial-only U-Net ResNet-34 weights: `model.seg_model.` + smp names, 19 logits."""
    return smp_resnet34_unet("model.seg_model.", 5, classes)


def write_ign_weights(path: Path, seed: int = 1) -> Path:
    torch.save(random_state(ign_aerial_shapes(), seed), path)
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(write_reference_checkpoint(out / "reference_utt.ckpt"))
    print(write_ign_weights(out / "ign_aerial_weights.pth"))
