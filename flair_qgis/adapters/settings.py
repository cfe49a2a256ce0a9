"""The user's choices remembered between QGIS sessions (QgsSettings, keys under "flair_qgis/")."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsSettings

PREFIX = "flair_qgis/"


def value(key: str, default: Any = None, kind: type | None = None) -> Any:
    """The remembered value of `key`, `default` when there is none."""
    settings = QgsSettings()
    if kind is None:
        return settings.value(PREFIX + key, default)
    return settings.value(PREFIX + key, default, type=kind)


def set_value(key: str, data: Any) -> None:
    QgsSettings().setValue(PREFIX + key, data)


def bundle() -> str:
    """The model bundle used last."""
    return str(value("bundle", "") or "")
