"""The weights a fine-tune starts from (`flair-train fit --init`): a checkpoint of `fit`, a FLAIR #2
reference U-T&T checkpoint, IGN's FLAIR-INC aerial U-Net weights, or a bundle whose provenance names the
checkpoint it was exported from. Only the network's weights are taken: the optimizer starts afresh at
epoch 0, unlike `--resume`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from flair_qgis.core.bundle_spec import BandScaling

from .checkpoints import (
    FLAIR_INC_LOGITS,
    _resnet_name,
    detect_kind,
    file_sha256,
    ign_aerial_scaling,
    load_checkpoint,
    model_state,
    reference_specs,
    state_dict_of,
    utt_architecture,
)
from .config import DEFAULTS, ConfigError, aerial_scaling, deep_merge, sentinel2_scaling

#: The model settings that shape an aerial U-Net's weights; a U-T&T's are all but _FREE_SETTINGS.
_UNET_SETTINGS = {"architecture", "encoder_name"}
_FREE_SETTINGS = {"encoder_weights", "sentinel2_dropout", "pad_value", "padding_mode"}
#: FLAIR-19 logits of FLAIR-INC merged into FLAIR_13's "other" (codes 13..19, channels 12..18).
_OTHER_CHANNELS = slice(12, FLAIR_INC_LOGITS)


@dataclass
class BaseModel:
    """Weights to start from: the network's state (no `model.` prefix), what they are (a provenance
    record), the settings their shapes need (dotted configuration keys -> values, for the error
    messages) and the normalisations they learnt on, where known (by setting: "data.aerial_scaling",
    "data.sentinel2_scaling")."""

    state: dict[str, torch.Tensor]
    record: dict[str, Any]
    needs: dict[str, Any] = field(default_factory=dict)
    scalings: dict[str, BandScaling] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the provenance: the model and the file its weights came from."""
        text = f"{self.record['model']} ({self.record['file']}"
        if self.record.get("checkpoint"):
            text += f", exported from {self.record['checkpoint']}"
        return text + ")"


def read_base_model(path: str | Path) -> BaseModel:
    """The weights at `path` (a `.ckpt`/`.pth` checkpoint or a `.onnx` bundle). Raises ConfigError for a
    bundle that names no checkpoint or whose checkpoint is not found, CheckpointError for a file that is
    not a checkpoint of a known kind."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No checkpoint or bundle to start from at {path}")
    if path.suffix.lower() == ".onnx":
        return _from_bundle(path)
    return _from_checkpoint(path)


def _from_bundle(path: Path) -> BaseModel:
    from flair_qgis.core.bundle import load_bundle

    spec = load_bundle(path).spec
    provenance = spec.provenance
    name = provenance.get("checkpoint")
    if not name:
        raise ConfigError(
            f"The bundle {path.name} does not name the checkpoint it was exported from, so its weights "
            "cannot be trained further",
            "Give the checkpoint itself to --init (a checkpoint of flair-train fit, a FLAIR #2 reference "
            "checkpoint or IGN's FLAIR-INC weights).",
        )
    candidates = [Path(p) for p in (provenance.get("checkpoint_path"),) if p] + [path.parent / name]
    expected = provenance.get("checkpoint_sha256")
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        places = " or ".join(str(c) for c in candidates)
        raise ConfigError(
            f"The bundle {path.name} was exported from the checkpoint '{name}', which is not at {places}",
            f"Give that checkpoint to --init (or put it beside the bundle): --init /path/to/{name}.",
        )
    if expected and file_sha256(found) != expected:
        raise ConfigError(
            f"{found} is not the checkpoint the bundle {path.name} was exported from (its SHA-256 differs)",
            "Give the very checkpoint the bundle was exported from to --init.",
        )
    base = _from_checkpoint(found)
    base.record = {
        **base.record,
        "model": f"{spec.model_name} {spec.model_version}",
        "file": path.name,
        "checkpoint": found.name,
    }
    return base


def _from_checkpoint(path: Path) -> BaseModel:
    checkpoint = load_checkpoint(path)
    state = state_dict_of(checkpoint, path.name)
    record = {"file": path.name, "sha256": file_sha256(path)}
    config = (checkpoint.get("hyper_parameters") or {}).get("config")
    if isinstance(config, dict):
        model = config.get("model", {})
        shaping = _UNET_SETTINGS if model.get("architecture") == "unet" else set(model) - _FREE_SETTINGS
        needs = {f"model.{key}": value for key, value in model.items() if key in shaping}
        needs["data.aerial_metadata"] = config.get("data", {}).get("aerial_metadata")
        if config.get("data", {}).get("aerial_metadata"):
            needs["data.tile_size"] = config["data"].get("tile_size")
        record |= {
            "kind": "flair-train fit",
            "model": f"flair-train fit checkpoint ({model.get('architecture')})",
        }
        trained = deep_merge(DEFAULTS, config)
        scalings = {"data.aerial_scaling": aerial_scaling(trained)}
        if model.get("architecture") == "utt":
            scalings["data.sentinel2_scaling"] = sentinel2_scaling(trained)
        return BaseModel(model_state(state), record, needs, scalings)
    kind = detect_kind(state)
    if kind == "utt":
        inner = model_state(state)
        arch = utt_architecture(inner)
        needs = {
            "model.architecture": "utt",
            "model.encoder_name": arch.encoder_name,
            "model.encoder_widths": arch.encoder_widths,
            "model.decoder_widths": arch.decoder_widths,
            "model.out_conv": arch.out_conv,
            "model.n_head": arch.n_head,
            "model.d_k": arch.d_k,
            "model.d_model": arch.d_model,
            "data.aerial_metadata": arch.metadata_size is not None,
        }
        if arch.metadata_size is not None:
            needs["data.tile_size"] = arch.tile_size
        record |= {"kind": "FLAIR #2 reference U-T&T", "model": "FLAIR #2 reference U-T&T"}
        aerial, sentinel2 = reference_specs()
        scalings = {"data.aerial_scaling": aerial.scaling, "data.sentinel2_scaling": sentinel2.scaling}
        return BaseModel(inner, record, needs, scalings)
    inner = _flair13_head(model_state(state))
    needs = {"model.architecture": "unet", "model.encoder_name": _resnet_name(inner, "seg_model.")}
    record |= {"kind": "IGN FLAIR-INC aerial U-Net", "model": "IGN FLAIR-INC aerial U-Net"}
    return BaseModel(inner, record, needs, {"data.aerial_scaling": ign_aerial_scaling()})


def _flair13_head(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """FLAIR-INC's 19-logit head cut to FLAIR_13: channels 1..12 kept, "other" started from the mean of
    the channels of codes 13..19 (a starting point; fine-tuning then learns it)."""
    state = dict(state)
    for key in ("seg_model.segmentation_head.0.weight", "seg_model.segmentation_head.0.bias"):
        if key in state and state[key].shape[0] == FLAIR_INC_LOGITS:
            head = state[key]
            state[key] = torch.cat([head[:12], head[_OTHER_CHANNELS].mean(dim=0, keepdim=True)])
    return state


def _setting(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _settings_text(settings: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        return (
            "[" + ",".join(str(x) for x in v) + "]"
            if isinstance(v, list)
            else str(v).lower()
            if isinstance(v, bool)
            else str(v)
        )

    return " ".join(f"{key}={value(v)}" for key, v in settings.items())


def differing_settings(config: dict, wanted: dict[str, Any]) -> dict[str, Any]:
    """The settings of `wanted` whose value in `config` differs."""
    return {
        key: value for key, value in wanted.items() if value is not None and _setting(config, key) != value
    }


def first_mismatch(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """The first layer, in the model's order, that the weights lack or give another shape; then the
    first layer of the weights the model lacks. None when they fit."""
    own = model.state_dict()
    for key, tensor in own.items():
        if key not in state:
            return f"the weights have no layer '{key}'"
        if tuple(state[key].shape) != tuple(tensor.shape):
            return (
                f"layer '{key}' is {tuple(state[key].shape)} in the weights, {tuple(tensor.shape)} in "
                "this configuration"
            )
    extra = next((key for key in state if key not in own), None)
    return f"the weights have a layer '{extra}' this configuration lacks" if extra else None


def load_base_weights(model: nn.Module, base: BaseModel, config: dict) -> list[str]:
    """Copy the base weights into `model` (built from `config`). Raises ConfigError naming the first
    mismatching layer and the settings to change; returns warnings about settings that run but differ
    from the base model's (the normalisation of its inputs)."""
    mismatch = first_mismatch(model, base.state)
    if mismatch is not None:
        change = differing_settings(config, base.needs)
        hint = (
            f"Set {_settings_text(change)} (the base model's), or start from another checkpoint."
            if change
            else "Set the model.* settings the base model was trained with, or start from another checkpoint."
        )
        raise ConfigError(
            f"The weights of {base.record['file']} do not fit this configuration: {mismatch}", hint
        )
    try:
        model.load_state_dict(base.state, strict=True)
    except RuntimeError as exc:  # dtype or other details first_mismatch does not see
        raise ConfigError(f"The weights of {base.record['file']} cannot be loaded: {exc}") from exc
    warnings = []
    readers = {"data.aerial_scaling": aerial_scaling, "data.sentinel2_scaling": sentinel2_scaling}
    for name, wanted in base.scalings.items():
        if readers[name](config) == wanted:
            continue
        settings = {f"{name}.{part}": list(getattr(wanted, part)) for part in ("scale", "mean", "std")}
        inputs = "aerial" if name == "data.aerial_scaling" else "Sentinel-2"
        warnings.append(
            f"{base.record['model']} learnt on {inputs} values normalised otherwise than this "
            f"configuration says: set {_settings_text(settings)} to feed it what it learnt from."
        )
    return warnings
