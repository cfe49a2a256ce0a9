"""metadata.txt satisfies the rules of the official QGIS plugin repository."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email")
REQUIRED_BY_REPOSITORY = ("tracker", "repository")


def _general() -> configparser.SectionProxy:
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    return metadata["general"]


def test_required_fields_are_present() -> None:
    general = _general()
    missing = [key for key in REQUIRED + REQUIRED_BY_REPOSITORY if not general.get(key, "").strip()]
    assert not missing


def test_versions() -> None:
    general = _general()
    assert general["qgisMinimumVersion"] == "3.22"
    assert re.fullmatch(r"\d+\.\d+\.\d+", general["version"])
    training = (REPO / "training" / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{general["version"]}"' in training


def test_about_names_the_external_dependencies_and_how_to_get_them() -> None:
    about = _general()["about"]
    assert "onnxruntime" in about and "rasterio" in about
    assert "pip install" in about


def test_processing_provider_icon_and_classification() -> None:
    general = _general()
    assert general["hasProcessingProvider"] == "yes"
    assert (REPO / "resources" / Path(general["icon"]).relative_to("resources")).is_file()
    assert general["category"] == "Raster"
    assert len([tag for tag in general["tags"].split(",") if tag.strip()]) >= 3
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", general["email"])
    assert general["tracker"].startswith("https://") and general["repository"].startswith("https://")
