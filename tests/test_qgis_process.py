"""The real `qgis_process` sees the plugin and its provider in a throw-away profile."""

from __future__ import annotations

import re
from pathlib import Path

from tests.qgis_profile import make_profile, run_qgis_process


def test_qgis_process_lists_the_plugin_and_its_provider(tmp_path: Path) -> None:
    profiles = make_profile(tmp_path / "qgis")

    plugins = run_qgis_process(profiles, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    # "*" marks loaded plugins that implement a Processing provider.
    assert re.search(r"^\*\s+flair_qgis\s*$", plugins.stdout, re.MULTILINE), plugins.stdout

    listing = run_qgis_process(profiles, "list")
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"^FLAIR land cover\s*$", listing.stdout, re.MULTILINE), listing.stdout


def test_a_disabled_plugin_is_not_loaded(tmp_path: Path) -> None:
    profiles = make_profile(tmp_path / "qgis", enabled=False)
    plugins = run_qgis_process(profiles, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    assert re.search(r"^\s+flair_qgis\s*$", plugins.stdout, re.MULTILINE), plugins.stdout
    assert "FLAIR land cover" not in run_qgis_process(profiles, "list").stdout
