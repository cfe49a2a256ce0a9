"""`make package` builds a zip that QGIS's plugin manager installs as it is."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_plugin_zip(tmp_path: Path) -> None:
    # Leave some clutter in the package that must not ship.
    pycache = REPO / "flair_qgis" / "__pycache__"
    pycache.mkdir(exist_ok=True)
    stray = pycache / "stray.cpython-311.pyc"
    stray.write_bytes(b"\0")
    try:
        completed = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "package.py"), "zip", "--dist", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        stray.unlink()
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    version = metadata["general"]["version"]
    archive = tmp_path / f"flair_qgis-{version}.zip"
    assert completed.stdout.strip() == str(archive)

    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert zipped.testzip() is None
        shipped_metadata = zipped.read("flair_qgis/metadata.txt").decode("utf-8")
    assert {name.split("/")[0] for name in names} == {"flair_qgis"}
    for required in ("__init__.py", "metadata.txt", "LICENSE", "resources/icon.svg", "plugin.py"):
        assert f"flair_qgis/{required}" in names, required
    assert "flair_qgis/core/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("flair_qgis/training/", "flair_qgis/tests/"))]
    assert shipped_metadata == (REPO / "metadata.txt").read_text(encoding="utf-8")
    assert not list(tmp_path.glob("*.part"))
