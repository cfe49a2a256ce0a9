"""Training configuration: the baseline defaults, YAML presets layered on top, and `key.sub=value`
overrides from the command line, checked against the defaults so a typo fails loudly."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from flair_qgis.core.bundle_spec import (
    AerialInput,
    BandScaling,
    Sentinel2Input,
    flair2_aerial_input,
    flair2_sentinel2_input,
)
from flair_qgis.core.errors import InputError
from flair_qgis.core.nomenclature import FLAIR_13

ARCHITECTURES = ("utt", "unet")
#: How the validation patches are held out: whole domains (FLAIR #2's split) or whole zones.
SPLITS = ("domain", "zone")
#: Keys whose value may be null, or of several types (checked by `validate`).
_FREE_KEYS = {
    "data.root",
    "data.val_domains",
    "data.val_zones",
    "model.encoder_weights",
    "trainer.devices",
    "trainer.strategy",
    "data.sentinel2_scaling.scale",
    "data.aerial_scaling.scale",
    "data.aerial_scaling.mean",
    "data.aerial_scaling.std",
    "data.sentinel2_scaling.mean",
    "data.sentinel2_scaling.std",
    "output_dir",
    "trainer.limit_train_batches",
    "trainer.limit_val_batches",
    "trainer.threads",
}


class ConfigError(InputError):
    """A configuration file or override the training cannot use."""


DEFAULTS: dict[str, Any] = {
    "seed": 2022,
    "output_dir": "runs/flair2",
    "data": {
        "root": None,
        "split_by": "domain",
        "val_domains": None,
        "val_zones": None,
        "val_fraction": 0.2,
        "tile_size": 512,
        "batch_size": 10,
        "eval_batch_size": 4,
        "num_workers": 4,
        "augment": True,
        "aerial_metadata": False,
        "aerial_scaling": {"scale": [1 / 255] * 5, "mean": [0.0] * 5, "std": [1.0] * 5},
        "sentinel2_scaling": {"scale": 1.0, "mean": 0.0, "std": 1.0},
    },
    "model": {
        "architecture": "utt",
        "encoder_name": "resnet34",
        "encoder_weights": None,
        "encoder_widths": [64, 64, 128, 128],
        "decoder_widths": [64, 64, 128, 128],
        "out_conv": [32, 13],
        "str_conv_k": 4,
        "str_conv_s": 2,
        "str_conv_p": 1,
        "agg_mode": "att_group",
        "encoder_norm": "group",
        "n_head": 16,
        "d_model": 256,
        "d_k": 4,
        "pad_value": 0.0,
        "padding_mode": "reflect",
        "window_size": 40,
        "sentinel2_dropout": 0.0,
    },
    "loss": {
        "aux_weight": 1.0,
        "aerial_class_weights": [1.0] * 12 + [0.0],
        "sentinel2_class_weights": [1.0] * 11 + [0.0, 0.0],
    },
    "optim": {"lr": 0.001, "weight_decay": 0.0},
    "trainer": {
        "max_epochs": 100,
        "precision": "32-true",
        "accelerator": "auto",
        "devices": "auto",
        "strategy": "auto",
        "num_nodes": 1,
        "patience": 30,
        "log_every_n_steps": 10,
        "limit_train_batches": 1.0,
        "limit_val_batches": 1.0,
        "progress_bar": True,
        "deterministic": False,
        "threads": None,
    },
}

PRESETS = ("utt_baseline", "unet_aerial", "quick")


def deep_merge(base: dict, update: dict, path: str = "") -> dict:
    """A copy of `base` with `update`'s values; a key unknown to `base` raises ConfigError."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        name = f"{path}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"Unknown configuration key '{name}'", f"Known keys here: {known}.")
        if isinstance(base[key], dict) and name not in _FREE_KEYS:
            if not isinstance(value, dict):
                raise ConfigError(f"'{name}' must be a mapping, got {value!r}")
            merged[key] = deep_merge(base[key], value, f"{name}.")
        else:
            merged[key] = value
    return merged


def preset_path(name: str) -> Path:
    """The YAML file of a bundled preset (utt_baseline, unet_aerial, quick)."""
    return Path(str(resources.files("flair_training") / "configs" / f"{name}.yaml"))


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file() and path.suffix == "" and path.name in PRESETS:
        path = preset_path(path.name)
    if not path.is_file():
        raise ConfigError(
            f"No configuration file at {path}", f"Give a YAML file or a preset name: {', '.join(PRESETS)}."
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(loaded).__name__}")
    return loaded


def parse_override(text: str) -> dict:
    """`trainer.max_epochs=3` -> {"trainer": {"max_epochs": 3}} (the value is read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"Override '{text}' is not of the form key.sub=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Override '{text}': the value is not valid YAML: {exc}") from exc
    nested: dict = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """Defaults <- YAML file (itself optionally `base: <preset>`) <- overrides; validated."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        loaded = read_yaml(path)
        base = loaded.pop("base", None)
        if base is not None:
            config = deep_merge(config, read_yaml(base))
        config = deep_merge(config, loaded)
    for text in overrides or []:
        config = deep_merge(config, parse_override(text))
    validate(config)
    return config


def _check_type(config: dict, defaults: dict, path: str = "") -> None:
    for key, default in defaults.items():
        name = f"{path}{key}"
        value = config[key]
        if name in _FREE_KEYS or default is None:
            continue
        if isinstance(default, dict):
            _check_type(value, default, f"{name}.")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"'{name}' must be true or false, got {value!r}")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"'{name}' must be a number, got {value!r}")
            if isinstance(default, int) and not isinstance(value, int):
                raise ConfigError(f"'{name}' must be an integer, got {value!r}")
        elif isinstance(default, list):
            if not isinstance(value, list) or not value:
                raise ConfigError(f"'{name}' must be a non-empty list, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"'{name}' must be a string, got {value!r}")


def validate(config: dict) -> None:
    """Raise ConfigError naming the first setting that cannot work."""
    _check_type(config, DEFAULTS)
    model, data, loss = config["model"], config["data"], config["loss"]
    classes = len(FLAIR_13.classes)
    if model["architecture"] not in ARCHITECTURES:
        raise ConfigError(
            f"model.architecture must be one of {list(ARCHITECTURES)}, got '{model['architecture']}'"
        )
    if model["out_conv"][-1] != classes:
        raise ConfigError(f"model.out_conv must end with the {classes} classes, got {model['out_conv']}")
    for key in ("aerial_class_weights", "sentinel2_class_weights"):
        if len(loss[key]) != classes:
            raise ConfigError(f"loss.{key} needs {classes} values (one per class), got {len(loss[key])}")
    if data["tile_size"] % 32:
        raise ConfigError(
            f"data.tile_size must be a multiple of 32 (the U-Net's depth), got {data['tile_size']}"
        )
    steps = model["str_conv_s"] ** (len(model["encoder_widths"]) - 1)
    if model["window_size"] % steps:
        raise ConfigError(
            f"model.window_size must be a multiple of {steps} for these U-TAE widths, got {model['window_size']}"
        )
    for width in model["encoder_widths"]:
        if width % model["n_head"]:
            raise ConfigError(
                f"model.encoder_widths must be multiples of model.n_head={model['n_head']}, got {model['encoder_widths']}"
            )
    if model["d_model"] % model["n_head"]:
        raise ConfigError(f"model.d_model must be a multiple of model.n_head, got {model['d_model']}")
    if data["split_by"] not in SPLITS:
        raise ConfigError(f"data.split_by must be one of {list(SPLITS)}, got '{data['split_by']}'")
    data_roots(config)
    aerial_scaling(config)
    sentinel2_scaling(config)


def data_roots(config: dict) -> list[Path]:
    """The dataset roots of data.root: one folder or a list of folders (empty when not set)."""
    root = config["data"]["root"]
    if root is None or root == "":
        return []
    roots = root if isinstance(root, list) else [root]
    if not roots or not all(isinstance(r, (str, Path)) and str(r) for r in roots):
        raise ConfigError(
            f"data.root must be a folder or a list of folders, got {root!r}",
            "For example data.root=/data/flair2 or data.root=[/data/flair2,/data/corrections].",
        )
    return [Path(r) for r in roots]


def _band_values(value: Any, count: int, name: str) -> tuple[float, ...]:
    values = value if isinstance(value, list) else [value] * count
    if len(values) != count or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ConfigError(f"'{name}' must be a number or {count} numbers, got {value!r}")
    return tuple(float(v) for v in values)


def _scaling(section: dict, count: int, name: str) -> BandScaling:
    scaling = BandScaling(*(_band_values(section[k], count, f"{name}.{k}") for k in ("scale", "mean", "std")))
    if any(s <= 0 for s in scaling.std):
        raise ConfigError(f"'{name}.std' must be positive, got {scaling.std}")
    return scaling


def aerial_scaling(config: dict) -> BandScaling:
    return _scaling(config["data"]["aerial_scaling"], 5, "data.aerial_scaling")


def sentinel2_scaling(config: dict) -> BandScaling:
    return _scaling(config["data"]["sentinel2_scaling"], 10, "data.sentinel2_scaling")


def aerial_spec(config: dict) -> AerialInput:
    """The aerial input a model of this configuration takes (shared by the data and the bundle)."""
    return flair2_aerial_input(config["data"]["tile_size"], aerial_scaling(config))


def sentinel2_spec(config: dict) -> Sentinel2Input | None:
    """The Sentinel-2 input of a U-T&T configuration, None for the aerial-only U-Net."""
    if config["model"]["architecture"] != "utt":
        return None
    spec = flair2_sentinel2_input(config["model"]["window_size"], sentinel2_scaling(config))
    return Sentinel2Input(**{**spec.__dict__, "pad_value": float(config["model"]["pad_value"])})
