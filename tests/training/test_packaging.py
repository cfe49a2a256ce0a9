"""The engine (root pyproject.toml) and the training package install like any Python packages and run
without the checkout, make or PYTHONPATH."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]


def _copy_sources(target: Path) -> Path:
    """The repository's tracked files (git ls-files), so that the build writes nothing into the checkout."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_engine_version_is_the_plugins() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    plugin = re.search(r"^version=(\S+)$", (REPO / "metadata.txt").read_text(), re.M).group(1)
    assert project["version"] == plugin
    training = tomllib.loads((REPO / "training" / "pyproject.toml").read_text())["project"]
    assert f"flair-qgis=={project['version']}" in training["dependencies"]


@pytest.mark.slow
def test_pip_install_in_a_fresh_venv_gives_working_commands(tmp_path) -> None:
    """`pip install . ./training` into a new virtual environment, then `flair-train` and
    `python -m flair_qgis` run from elsewhere with no PYTHONPATH.

    The third-party packages (torch, onnxruntime, rasterio, numpy: gigabytes) are not downloaded again:
    the new environment is created without system site packages and reads the development
    environment's site directories through a `.pth` file; pip runs with --no-index (nothing can come
    from the network), --no-build-isolation (setuptools from there too) and --no-deps (pip's resolver
    refuses the registry's CUDA torch build as installed there), and the test then checks every declared
    dependency, flair-training's on flair-qgis included, against the installed versions. Those directories
    are appended to sys.path after the new environment's own site-packages, and the `.pth` files they
    contain (the development environment's editable installs of the checkout) are not processed, so
    the test then checks that flair_qgis and flair_training are imported from the new environment's
    site-packages, from a copy of the sources that is deleted before they run, and that the engine's
    command line imports no Qt or QGIS module.
    """
    sources = _copy_sources(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    dev_sites = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "dev-environment.pth").write_text("\n".join(dev_sites) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", "--no-deps", ".", "./training"],
        cwd=sources, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    shutil.rmtree(sources)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*command: str | Path) -> str:
        done = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = run(
        python,
        "-c",
        "import flair_qgis, flair_training; print(flair_qgis.__file__); print(flair_training.__file__)",
    )
    assert all(line.startswith(purelib) for line in where.split()), where
    check = (
        "from importlib.metadata import requires, version; from packaging.requirements import Requirement\n"
        "for name in ('flair-qgis', 'flair-training'):\n"
        "    for r in map(Requirement, requires(name)):\n"
        "        if r.marker is not None and not r.marker.evaluate({'extra': ''}):\n"
        "            continue  # an optional extra (e.g. [distributed]), not installed by default\n"
        "        assert version(r.name) in r.specifier, (name, str(r), version(r.name))\n"
        "print(Requirement(requires('flair-training')[0]))"
    )
    assert run(python, "-c", check).strip() == "flair-qgis==0.1.0"
    assert "usage: flair-train" in run(venv / "bin" / "flair-train", "--help")
    out = run(
        venv / "bin" / "flair-train", "synth", "data", "--patches", "8", "--size", "32", "--window", "16"
    )
    assert "wrote" in out and (elsewhere / "data" / "flair_aerial_train").is_dir()
    assert "predict" in run(python, "-m", "flair_qgis", "--help")
    no_qt = (
        "import sys; from flair_qgis.cli import main; code = main(['devices']); "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6')]; "
        "print(code, loaded)"
    )
    assert run(python, "-c", no_qt).split("\n")[-2] == "0 []"
