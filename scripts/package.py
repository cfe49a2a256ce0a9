"""Assemble the QGIS plugin from the repository: a `flair_qgis/` folder holding the Python package,
`metadata.txt`, `LICENSE` and `resources/`, installed into a plugins folder or zipped for users.

    python scripts/package.py zip [--dist dist]        -> dist/flair_qgis-<version>.zip
    python scripts/package.py install PLUGINS_DIR      -> PLUGINS_DIR/flair_qgis/

The plugin's metadata lives in flair_qgis/metadata.txt (where qgis-plugin-ci and QGIS look for it; the
top-level metadata.txt is a link to it). Its `changelog` is written from CHANGELOG.md into the plugin
as it ships, so the plugin manager shows the changelog the repository keeps.
"""

from __future__ import annotations

import argparse
import configparser
import re
import shutil
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGIN = "flair_qgis"
METADATA = REPO / PLUGIN / "metadata.txt"
CHANGELOG = REPO / "CHANGELOG.md"
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def plugin_version() -> str:
    metadata = configparser.ConfigParser()
    metadata.read(METADATA, encoding="utf-8")
    return metadata["general"]["version"]


_RELEASE = re.compile(r"^## (\d+\.\d+\.\d+)\b(.*)$")


def changelog_releases(text: str) -> list[tuple[str, list[str]]]:
    """[(version, [change, ...]), ...] of CHANGELOG.md, newest first: each `## X.Y.Z ...` section and its
    `- ` items (an item may go on over indented lines). Sections that are not releases (Unreleased) are
    left out: they are not in any zip yet."""
    releases: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            match = _RELEASE.match(line)
            current = [] if match else None
            if match:
                releases.append((match.group(1), current))
        elif current is not None and line.startswith("- "):
            current.append(line[2:].strip())
        elif current is not None and current and line.startswith("  ") and line.strip():
            current[-1] += " " + line.strip()
    return releases


def metadata_changelog(releases: list[tuple[str, list[str]]]) -> str:
    """The `changelog=` entry of metadata.txt: one indented line per release and per change."""
    lines = ["changelog="]
    for version, changes in releases:
        lines.append(f"    {version}")
        lines += [f"    - {change}" for change in changes]
    return "\n".join(lines) + "\n"


def shipped_metadata() -> str:
    """flair_qgis/metadata.txt as it ships: its `changelog` entry replaced by CHANGELOG.md's releases.
    Fails when the plugin's version has no section in CHANGELOG.md."""
    releases = changelog_releases(CHANGELOG.read_text(encoding="utf-8"))
    version = plugin_version()
    if version not in [release for release, _ in releases]:
        raise SystemExit(f"CHANGELOG.md has no '## {version}' section: write the changes of {version} first.")
    kept, skipping = [], False
    for line in METADATA.read_text(encoding="utf-8").splitlines(keepends=True):
        if skipping and line[:1] in (" ", "\t") and line.strip():
            continue  # a continuation line of the old changelog
        skipping = line.startswith("changelog=")
        if not skipping:
            kept.append(line)
    return "".join(kept).rstrip("\n") + "\n" + metadata_changelog(releases)


def plugin_files() -> Iterator[tuple[Path | bytes, str]]:
    """(source file or content, path inside the plugin folder) for every file the plugin ships."""
    yield shipped_metadata().encode("utf-8"), "metadata.txt"
    yield REPO / "LICENSE", "LICENSE"
    for root, arcroot in ((REPO / PLUGIN, ""), (REPO / "resources", "resources/")):
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_dir() or SKIPPED_DIRS & set(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
                continue
            if path == METADATA:
                continue  # shipped with its changelog, above
            yield path, arcroot + relative.as_posix()


def build_zip(dist: Path) -> Path:
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"{PLUGIN}-{plugin_version()}.zip"
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for source, name in plugin_files():
            if isinstance(source, bytes):
                member = zipfile.ZipInfo(f"{PLUGIN}/{name}", date_time=time.localtime()[:6])
                member.external_attr = 0o644 << 16
                archive.writestr(member, source, zipfile.ZIP_DEFLATED)
            else:
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
        if isinstance(source, bytes):
            destination.write_bytes(source)
        else:
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
