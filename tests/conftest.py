"""Shared fixtures. QGIS itself is started once per session by pytest-qgis (offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository's root folder."""
    return REPO
