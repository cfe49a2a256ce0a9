"""Checkpoints from elsewhere turned into this package's networks and into bundles: FLAIR #2 reference
U-T&T checkpoints (Lightning `.ckpt`, keys `model.arch_vhr...`) and IGN's public FLAIR-INC aerial-only
U-Net weights (`*_weights.pth`, keys `model.seg_model...`, 19 logits). Everything is read with
torch.load(weights_only=True): no code runs from a checkpoint.

`import_checkpoint` recognises the format and writes the bundle; `import_reference_utt` and
`convert_flair_inc` do it for one format each.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from flair_qgis.core.bundle_spec import BandScaling, flair2_aerial_input, flair2_sentinel2_input
from flair_qgis.core.errors import FlairError, first_line
from flair_qgis.core.nomenclature import FLAIR_13, FLAIR_19, LandCoverClass, Nomenclature

from .models import UTT, AerialUNet

#: IGN's normalisation of its FLAIR aerial models, on 0..255 values (R, G, B, NIR, elevation).
IGN_MEANS = (105.08, 110.87, 101.82, 106.38, 53.26)
IGN_STDS = (52.17, 45.38, 44.00, 39.69, 79.30)
#: Checkpoint formats `import_checkpoint` takes ("ign-unet" is an older name of "flair-inc").
KINDS = ("auto", "utt", "flair-inc", "ign-unet")
#: Output logits of IGN's FLAIR-INC weights: the 19 FLAIR classes in code order.
FLAIR_INC_LOGITS = 19


class CheckpointError(FlairError):
    """A checkpoint that cannot be read or does not fit the network it claims to be."""


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint file's dictionary, read with weights_only=True: only tensors and plain containers are
    accepted, so a pickle that would run code or build other objects is refused."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}")
    with open(path, "rb") as handle:
        head = handle.read(2)
    if not zipfile.is_zipfile(path) and not head.startswith(b"\x80"):
        raise CheckpointError(
            f"{path.name} is not a PyTorch checkpoint (neither a torch zip archive nor a pickle)"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name} holds Python objects other than tensors, which are not loaded for safety "
            f"(loading them could run code): {_unpickling_reason(exc)}",
            "Save the weights as a plain state dict (torch.save(model.state_dict(), ...)).",
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CheckpointError(f"{path.name} is not a PyTorch checkpoint: {first_line(exc)}") from exc
    if not isinstance(loaded, dict):
        raise CheckpointError(f"{path.name} holds a {type(loaded).__name__}, not a checkpoint dictionary")
    return loaded


def state_dict_of(checkpoint: dict, name: str = "the checkpoint") -> dict[str, torch.Tensor]:
    """A Lightning checkpoint's `state_dict`, or the dictionary itself when it is a bare state dict."""
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{name} has no state dict")
    not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{name}: entries that are not tensors: {not_tensors[:5]}")
    return state


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint file (a Lightning `.ckpt`'s `state_dict`, or a bare state dict)."""
    return state_dict_of(load_checkpoint(path), Path(path).name)


def _unpickling_reason(exc: BaseException) -> str:
    """The line of torch's weights-only error that names the refused object."""
    for line in str(exc).splitlines():
        if "Unsupported" in line or "global" in line.lower():
            return line.strip().removeprefix("WeightsUnpickler error: ")
    return first_line(exc)


def detect_kind(state: dict[str, torch.Tensor]) -> str:
    """ "utt" (a U-T&T: the reference's `model.`-prefixed keys or bare ones) or "flair-inc" (IGN's
    aerial U-Net)."""
    keys = list(state)
    if any(k.startswith("model.arch_vhr.") for k in keys):
        return "utt"
    if any(k.startswith("model.seg_model.") for k in keys):
        return "flair-inc"
    if any(k.startswith("arch_vhr.") for k in keys):
        return "utt"
    raise CheckpointError(
        "Unrecognised checkpoint: no key starts with 'model.arch_vhr.' (FLAIR #2 U-T&T) or 'model.seg_model.' "
        f"(IGN aerial U-Net); first keys: {keys[:3]}"
    )


def model_state(state: dict[str, torch.Tensor], prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The network's entries (prefix removed); the task's other buffers (e.g. loss weights) are dropped."""
    if not any(k.startswith(prefix) for k in state):
        return dict(state)
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _shape(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"The checkpoint lacks '{key}'")
    return tuple(state[key].shape)


def _resnet_name(state: dict[str, torch.Tensor], prefix: str) -> str:
    """resnet18/34 (basic blocks) or resnet50 (bottlenecks), from the blocks present in layer3."""
    blocks = {int(k.split(".")[3]) for k in state if k.startswith(f"{prefix}encoder.layer3.")}
    bottleneck = f"{prefix}encoder.layer1.0.conv3.weight" in state
    depth = {(2, False): "resnet18", (6, False): "resnet34", (6, True): "resnet50", (23, True): "resnet101"}
    name = depth.get((len(blocks), bottleneck))
    if name is None:
        raise CheckpointError(f"Unsupported aerial encoder: {len(blocks)} blocks in layer3")
    return name


@dataclass
class UTTArchitecture:
    """U-T&T hyper-parameters read from a state dict's shapes."""

    encoder_name: str
    aerial_channels: int
    sentinel2_channels: int
    num_classes: int
    encoder_widths: list[int]
    decoder_widths: list[int]
    out_conv: list[int]
    n_head: int
    d_k: int
    d_model: int
    metadata_size: int | None
    tile_size: int


def utt_architecture(state: dict[str, torch.Tensor], tile_size: int = 512) -> UTTArchitecture:
    """Infer the U-T&T sizes from a (prefix-free) state dict; tile_size is only needed with metadata,
    whose MLP ends at tile_size / 32 values."""
    stages = len({int(k.split(".")[2]) for k in state if k.startswith("arch_hr.down_blocks.")}) + 1
    encoder = [_shape(state, "arch_hr.in_conv.conv.conv.0.weight")[0]]
    encoder += [_shape(state, f"arch_hr.down_blocks.{i}.conv1.conv.0.weight")[0] for i in range(stages - 1)]
    decoder = [0] * stages
    decoder[-1] = encoder[-1]
    for j, i in enumerate(range(stages - 1, 0, -1)):
        decoder[i - 1] = _shape(state, f"arch_hr.up_blocks.{j}.up.0.weight")[1]
    out_conv, index = [], 0
    while f"arch_hr.out_conv.conv.conv.{index}.weight" in state:
        out_conv.append(_shape(state, f"arch_hr.out_conv.conv.conv.{index}.weight")[0])
        index += 3
    q = _shape(state, "arch_hr.temporal_encoder.attention_heads.Q")
    metadata = None
    if "mtd_mlp.enc_mlp.0.weight" in state:
        metadata = _shape(state, "mtd_mlp.enc_mlp.0.weight")[1]
        tile_size = _shape(state, "mtd_mlp.enc_mlp.6.weight")[0] * 32
    return UTTArchitecture(
        encoder_name=_resnet_name(state, "arch_vhr."),
        aerial_channels=_shape(state, "arch_vhr.encoder.conv1.weight")[1],
        sentinel2_channels=_shape(state, "arch_hr.in_conv.conv.conv.0.weight")[1],
        num_classes=_shape(state, "arch_vhr.segmentation_head.0.weight")[0],
        encoder_widths=encoder,
        decoder_widths=decoder,
        out_conv=out_conv,
        n_head=q[0],
        d_k=q[1],
        d_model=_shape(state, "arch_hr.temporal_encoder.inconv.weight")[0],
        metadata_size=metadata,
        tile_size=tile_size,
    )


def load_strict(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """load_state_dict(strict=True) with an error that names the missing, unexpected and misshaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or misshaped:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped)):
            if items:
                parts.append(f"{len(items)} {label} (e.g. {', '.join(items[:3])})")
        raise CheckpointError(f"The checkpoint does not fit {type(model).__name__}: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return model.eval()


def utt_from_state(state: dict[str, torch.Tensor], tile_size: int = 512, **fixed) -> UTT:
    """A U-T&T with a reference (or this package's) state dict loaded strictly. `fixed` gives what the
    weights do not tell (agg_mode, encoder_norm, pad_value, padding_mode, gsds)."""
    arch = utt_architecture(state, tile_size)
    model = UTT(
        aerial_channels=arch.aerial_channels,
        sentinel2_channels=arch.sentinel2_channels,
        num_classes=arch.num_classes,
        encoder_name=arch.encoder_name,
        encoder_widths=arch.encoder_widths,
        decoder_widths=arch.decoder_widths,
        out_conv=arch.out_conv,
        n_head=arch.n_head,
        d_model=arch.d_model,
        d_k=arch.d_k,
        metadata_size=arch.metadata_size,
        tile_size=arch.tile_size,
        **fixed,
    )
    return load_strict(model, state)


class ClassSelection(nn.Module):
    """Maps a network's logits over FLAIR-19 to a smaller nomenclature: B x 19 x H x W -> B x K x H x W.

    Each output channel is one FLAIR-19 channel, or the log-sum-exp of several (merging classes adds their
    probabilities, e.g. 13..19 into FLAIR_13's "other").
    """

    def __init__(self, network: nn.Module, groups: list[list[int]]) -> None:
        super().__init__()
        self.network = network
        self.groups = groups

    def forward(self, aerial: torch.Tensor) -> torch.Tensor:
        logits = self.network(aerial)
        channels = [
            logits[:, g[0] : g[0] + 1] if len(g) == 1 else torch.logsumexp(logits[:, g], dim=1, keepdim=True)
            for g in self.groups
        ]
        return torch.cat(channels, dim=1)


def class_groups(classes: str) -> tuple[list[list[int]], Nomenclature]:
    """ "flair13": FLAIR-19 channels 1..12 kept and 13..19 merged into "other"; or a comma-separated list
    of FLAIR-19 codes to keep as they are (e.g. "1,2,3,4,5,6,7,8,9,10,11,12,13,18")."""
    if classes.strip().lower() == "flair13":
        return [[code - 1] for code in range(1, 13)] + [list(range(12, 19))], FLAIR_13
    try:
        codes = [int(part) for part in classes.split(",") if part.strip()]
    except ValueError as exc:
        raise CheckpointError(
            f"--classes must be 'flair13' or FLAIR-19 codes like 1,2,3; got '{classes}'"
        ) from exc
    if not codes or len(set(codes)) != len(codes) or not all(1 <= c <= 19 for c in codes):
        raise CheckpointError(f"--classes must list distinct FLAIR-19 codes in 1..19, got '{classes}'")
    kept = tuple(LandCoverClass(**FLAIR_19.by_code(c).__dict__) for c in codes)
    return [[c - 1] for c in codes], Nomenclature(f"FLAIR ({len(codes)} of 19 classes)", kept)


def ign_unet_from_state(state: dict[str, torch.Tensor]) -> AerialUNet:
    """IGN's FLAIR-INC aerial U-Net (keys `model.seg_model.*`, 19 logits) loaded strictly into AerialUNet."""
    inner = model_state(state)
    classes = _shape(inner, "seg_model.segmentation_head.0.weight")[0]
    channels = _shape(inner, "seg_model.encoder.conv1.weight")[1]
    if classes != FLAIR_INC_LOGITS:
        raise CheckpointError(
            f"IGN's FLAIR-INC weights give {FLAIR_INC_LOGITS} logits (the FLAIR classes in code order); "
            f"this file's segmentation head gives {classes}",
            "Only weights in IGN's published layout can be converted.",
        )
    if channels != 5:
        raise CheckpointError(
            f"This U-Net takes {channels} bands; the converter handles the 5-band (R, G, B, NIR, "
            "elevation) FLAIR-INC models (rgbie)"
        )
    model = AerialUNet(channels, classes, _resnet_name(inner, "seg_model."))
    return load_strict(model, inner)


def ign_aerial_scaling() -> BandScaling:
    return BandScaling((1.0,) * 5, IGN_MEANS, IGN_STDS)


def reference_specs(tile_size: int = 512, window_size: int = 40):
    """The FLAIR #2 baseline's inputs: aerial / 255, Sentinel-2 reflectance x 10000 as it is."""
    return flair2_aerial_input(tile_size), flair2_sentinel2_input(window_size)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source_provenance(path: Path, kind: str, licence: str | None, training_data: str | None) -> dict:
    provenance = {
        "source": f"import-checkpoint ({kind})",
        "checkpoint": path.name,
        "checkpoint_sha256": file_sha256(path),
    }
    if training_data:
        provenance["training_data"] = training_data
    if licence:
        provenance["licence"] = licence
    return provenance


def import_reference_utt(
    path: str | Path,
    output: str | Path,
    *,
    state: dict[str, torch.Tensor] | None = None,
    tile_size: int | None = None,
    window_size: int = 40,
    name: str | None = None,
    fp16: bool = False,
    overwrite: bool = False,
    tolerance: float | None = None,
    licence: str | None = None,
    training_data: str | None = "FLAIR #2 (IGN)",
):
    """A checkpoint of the FLAIR #2 reference code as a U-T&T bundle with the baseline's inputs (aerial /
    255, Sentinel-2 reflectance x 10000, `window_size` px windows, `tile_size` px tiles: 512 by default,
    or what the metadata MLP was trained for); a checkpoint with the metadata MLP gets the reference's
    metadata encoding ("flair2-reference"). Returns export.ExportReport; raises
    CheckpointError, OutputError or export.ExportError, writing nothing at `output` then."""
    from .export import bundle_spec, export_bundle

    path = Path(path)
    state = model_state(read_checkpoint(path) if state is None else state)
    architecture = utt_architecture(state, tile_size or 512)
    if architecture.metadata_size is not None and tile_size not in (None, architecture.tile_size):
        raise CheckpointError(
            f"This checkpoint's metadata MLP was trained for {architecture.tile_size} px tiles, "
            f"not {tile_size}",
            f"Import it with --tile-size {architecture.tile_size} (or leave the option out).",
        )
    tile_size = architecture.tile_size
    model = utt_from_state(state, tile_size=tile_size)
    aerial, sentinel2 = reference_specs(tile_size, window_size)
    metadata = model.mtd_mlp.enc_mlp[0].in_features if model.mtd_mlp is not None else None
    spec = bundle_spec(
        aerial,
        sentinel2,
        metadata,
        name=name or "flair2-utt-reference",
        provenance=_source_provenance(path, "FLAIR #2 reference U-T&T", licence, training_data),
        metadata_encoding="flair2-reference",
    )
    return export_bundle(model, spec, output, fp16=fp16, overwrite=overwrite, tolerance=tolerance)


def convert_flair_inc(
    path: str | Path,
    output: str | Path,
    *,
    state: dict[str, torch.Tensor] | None = None,
    classes: str = "flair13",
    tile_size: int | None = 512,
    name: str | None = None,
    fp16: bool = False,
    overwrite: bool = False,
    tolerance: float | None = None,
    licence: str | None = None,
    training_data: str | None = None,
):
    """IGN's public FLAIR-INC aerial-only weights (a `*_weights.pth` state dict, keys `model.seg_model.`,
    19 logits in FLAIR order, e.g. FLAIR-INC_rgbie_15cl_resnet34-unet_weights.pth) as an aerial-only
    bundle with IGN's normalisation (IGN_MEANS, IGN_STDS on 0..255 values).

    `classes`: "flair13" keeps classes 1..12 and merges 13..19 into "other" (probabilities added), or
    comma-separated FLAIR-19 codes to keep as they are. `licence` and `training_data` are recorded in the
    provenance when given (the file itself says neither). Returns export.ExportReport (`.path` is the
    bundle, `.parity` the figures of its check); raises CheckpointError, OutputError or
    export.ExportError, writing nothing at `output` then.
    """
    from .export import bundle_spec, export_bundle

    path = Path(path)
    state = read_checkpoint(path) if state is None else state
    network = ign_unet_from_state(state)
    groups, nomenclature = class_groups(classes)
    model = ClassSelection(network, groups)
    aerial = flair2_aerial_input(tile_size or 512, ign_aerial_scaling())
    provenance = _source_provenance(path, "IGN FLAIR-INC aerial U-Net", licence, training_data)
    provenance["classes"] = classes
    spec = bundle_spec(
        aerial, None, None, nomenclature, name=name or "ign-flair-inc-unet", provenance=provenance
    )
    return export_bundle(model, spec, output, fp16=fp16, overwrite=overwrite, tolerance=tolerance)


def import_checkpoint(path: str | Path, output: str | Path, kind: str = "auto", **options):
    """Recognise the checkpoint's format (`kind` "auto") and write its bundle with
    `import_reference_utt` ("utt") or `convert_flair_inc` ("flair-inc"); `options` are theirs."""
    if kind not in KINDS:
        raise CheckpointError(f"Unknown checkpoint kind '{kind}'", f"Use one of {list(KINDS)}.")
    state = read_checkpoint(path)
    kind = detect_kind(state) if kind == "auto" else kind
    if kind == "utt":
        options.pop("classes", None)
        return import_reference_utt(path, output, state=state, **options)
    options.pop("window_size", None)
    return convert_flair_inc(path, output, state=state, **options)
