"""Assemble the QGIS plugin from the repository: a `flair_qgis/` folder holding the Python package,
`metadata.txt`, `LICENSE` and `resources/`, installed into a plugins folder or zipped for users.

    python scripts/package.py zip [--dist dist]        -> dist/flair_qgis-<version>.zip
    python scripts/package.py install PLUGINS_DIR      -> PLUGINS_DIR/flair_qgis/
"""

from __future__ import annotations

import argparse
import configparser
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGIN = "flair_qgis"
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def plugin_version() -> str:
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    return metadata["general"]["version"]


def plugin_files() -> Iterator[tuple[Path, str]]:
    """(source file, path inside the plugin folder) for every file the plugin ships."""
    yield REPO / "metadata.txt", "metadata.txt"
    yield REPO / "LICENSE", "LICENSE"
    for root, arcroot in ((REPO / PLUGIN, ""), (REPO / "resources", "resources/")):
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_dir() or SKIPPED_DIRS & set(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
                continue
            yield path, arcroot + relative.as_posix()


def build_zip(dist: Path) -> Path:
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"{PLUGIN}-{plugin_version()}.zip"
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for source, name in plugin_files():
            archive.write(source, f"{PLUGIN}/{name}")
    partial.replace(target)
    return target


def install(plugins_dir: Path) -> Path:
    target = plugins_dir / PLUGIN
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    for source, name in plugin_files():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    zip_parser = commands.add_parser("zip", help="build dist/flair_qgis-<version>.zip")
    zip_parser.add_argument("--dist", type=Path, default=REPO / "dist")
    install_parser = commands.add_parser("install", help="copy the plugin into a QGIS plugins folder")
    install_parser.add_argument("plugins_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "zip":
        print(build_zip(args.dist))
    else:
        print(install(args.plugins_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
