#!/usr/bin/env bash
# Builds, or reuses, the development environment that `make test`, `make demo` and `make bench` run in:
# the system QGIS (Debian packages) and a virtual environment that sees it, with the plugin's, the
# training package's and the test tools' dependencies. Prints the environment's path on its last line.
#
# The environment lives outside the checkout (torch with its CUDA libraries is several GB) and its name
# carries a hash of every requirement file, so a change of requirements builds a new one instead of
# reusing a stale one; older environments of this project are removed when a new one is complete.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FLAIR_ENV_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/flair_qgis}"
torch_pins="torch==2.13.0 torchvision==0.28.0"

say() { printf '[setup] %s\n' "$*" >&2; }
# pip warns about every package missing from the machine's local index folders; keep real messages.
pip_quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# 1. System QGIS, for the system interpreter, and the rasterio built on its GDAL (one GDAL per process:
# docs/gdal.md; PyPI's rasterio wheels bundle a GDAL of their own).
system_packages=(qgis python3-qgis qgis-providers python3-rasterio xvfb python3-venv)
if ! /usr/bin/python3 -c 'import qgis.core, rasterio' >/dev/null 2>&1 || ! command -v xvfb-run >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        say "QGIS or its rasterio is missing; run as root, or install: ${system_packages[*]}"
        exit 1
    fi
    say "installing QGIS and rasterio from Debian's packages (a minute or two)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${system_packages[@]}" >/dev/null
fi

# 2. A virtual environment that sees QGIS's packages, named after the requirements it holds.
# The root pyproject.toml counts by its [project] table only (its tool settings change more often).
hash="$( (echo "$torch_pins"; cat "$0" "$repo/flair_qgis/requirements.txt" "$repo/tests/requirements.txt" \
    "$repo/training/pyproject.toml" 2>/dev/null; sed -n '/^\[project\]/,/^\[tool\./p' "$repo/pyproject.toml") \
    | sha256sum | cut -c1-12)"
venv="$cache/venv-$hash"
if [ ! -f "$venv/.complete" ]; then
    say "building the environment $venv (torch and its CUDA libraries: several GB, a few minutes)"
    rm -rf "$venv"
    mkdir -p "$cache"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    pip=(pip_quiet "$venv/bin/python" -m pip install -q --no-input)
    # numpy stays < 2: Debian's GDAL and QGIS bindings are built against numpy 1.x.
    echo "numpy<2" > "$venv/constraints.txt"
    # The registry's torch/torchvision pair; --isolated keeps pip off the local CPU-only torch wheel,
    # with which torchvision's compiled operators do not load.
    "${pip[@]}" --isolated -c "$venv/constraints.txt" $torch_pins
    "${pip[@]}" -c "$venv/constraints.txt" -r "$repo/flair_qgis/requirements.txt" -r "$repo/tests/requirements.txt"
    if [ -f "$repo/training/pyproject.toml" ]; then
        # Editable, the engine (root pyproject.toml, which the training package depends on) with it:
        # the tests and `flair-train` use the checkout's code (the Makefile also puts the checkout
        # first on PYTHONPATH, so another checkout sharing this environment tests its own).
        "${pip[@]}" -c "$venv/constraints.txt" -e "$repo" -e "$repo/training"
    fi
    # rasterio stays Debian's (pip takes the system's as satisfying the requirements): check it.
    "$venv/bin/python" - <<'CHECK' || { say "the environment's rasterio is not Debian's"; exit 1; }
import sys

import rasterio
from osgeo import gdal

if rasterio.__gdal_version__ != gdal.__version__ or not rasterio.__file__.startswith("/usr/lib/python3/"):
    sys.exit(f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}, {rasterio.__file__}) "
             f"is not the system's, on GDAL {gdal.__version__}")
CHECK
    # PyPI's rasterio wheel (its own GDAL), apart: the tests run it alone to compare GDAL versions, and
    # beside QGIS's GDAL to check the engine refuses a second GDAL. Never on the environment's path.
    "${pip[@]}" --no-deps --target "$venv/pypi-rasterio" "rasterio>=1.4,<1.5"
    touch "$venv/.complete"
    for old in "$cache"/venv-*; do
        [ "$old" = "$venv" ] || { say "removing the outdated environment $old"; rm -rf "$old"; }
    done
fi

echo "$venv"
