"""`make package` builds a zip that QGIS's plugin manager installs as it is, that the official plugin
repository accepts, and whose metadata carries the changelog of CHANGELOG.md."""

from __future__ import annotations

import configparser
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import package  # noqa: E402  (scripts/package.py)


def build(dist: Path) -> Path:
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "package.py"), "zip", "--dist", str(dist)],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(completed.stdout.strip())


def general(text: str) -> dict[str, str]:
    """The [general] section as QGIS and the plugin repository read it (keys keep their case)."""
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser.read_file(io.StringIO(text))
    return dict(parser.items("general"))


def test_plugin_zip(tmp_path: Path) -> None:
    # Leave some clutter in the package that must not ship.
    pycache = REPO / "flair_qgis" / "__pycache__"
    pycache.mkdir(exist_ok=True)
    stray = pycache / "stray.cpython-311.pyc"
    stray.write_bytes(b"\0")
    try:
        archive = build(tmp_path)
    finally:
        stray.unlink()
    version = general((REPO / "metadata.txt").read_text(encoding="utf-8"))["version"]
    assert archive == tmp_path / f"flair_qgis-{version}.zip"

    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert zipped.testzip() is None
        shipped_metadata = zipped.read("flair_qgis/metadata.txt").decode("utf-8")
    assert {name.split("/")[0] for name in names} == {"flair_qgis"}
    for required in (
        "__init__.py",
        "metadata.txt",
        "LICENSE",
        "resources/icon.svg",
        "plugin.py",
        "i18n/flair_qgis_fr.qm",
    ):
        assert f"flair_qgis/{required}" in names, required
    assert "flair_qgis/core/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("flair_qgis/training/", "flair_qgis/tests/"))]
    assert names.count("flair_qgis/metadata.txt") == 1
    # The repository's metadata, with the changelog written from CHANGELOG.md.
    repository = general((REPO / "flair_qgis" / "metadata.txt").read_text(encoding="utf-8"))
    shipped = general(shipped_metadata)
    assert {k: v for k, v in shipped.items() if k != "changelog"} == {
        k: v for k, v in repository.items() if k != "changelog"
    }
    assert not list(tmp_path.glob("*.part"))


def test_the_metadata_has_one_source_inside_the_plugin_folder() -> None:
    # flair_qgis/metadata.txt is where QGIS and qgis-plugin-ci read it; the top-level name links to it.
    assert (REPO / "flair_qgis" / "metadata.txt").is_file()
    assert not (REPO / "flair_qgis" / "metadata.txt").is_symlink()
    assert (REPO / "metadata.txt").is_symlink()
    assert (REPO / "metadata.txt").resolve() == (REPO / "flair_qgis" / "metadata.txt").resolve()


def test_the_zip_changelog_is_the_one_of_changelog_md(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path)) as zipped:
        shipped = general(zipped.read("flair_qgis/metadata.txt").decode("utf-8"))
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## (\d+\.\d+\.\d+)", changelog, re.M)
    assert shipped["version"] in releases
    lines = shipped["changelog"].strip().splitlines()
    assert [line for line in lines if not line.startswith("- ")] == releases
    first_change = re.search(rf"^## {re.escape(releases[0])}.*?^- (.+)$", changelog, re.M | re.S).group(1)
    assert lines[1] == f"- {first_change.strip()}"
    assert "Unreleased" not in shipped["changelog"]


def test_changelog_releases_read_sections_items_and_wrapped_lines() -> None:
    text = (
        "# Changelog\n\n## Unreleased\n\n- not shipped yet\n\n## 0.2.0 - 2027-01-15\n\n"
        "- Qt6\n- a change that goes\n  on over two lines\n\n## 0.1.0\n\n- first\n"
    )
    releases = package.changelog_releases(text)
    assert releases == [("0.2.0", ["Qt6", "a change that goes on over two lines"]), ("0.1.0", ["first"])]
    assert package.metadata_changelog(releases) == (
        "changelog=\n    0.2.0\n    - Qt6\n    - a change that goes on over two lines\n    0.1.0\n    - first\n"
    )


def test_packaging_refuses_a_version_without_its_changelog(tmp_path: Path, monkeypatch) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## 0.0.1\n\n- older\n", encoding="utf-8")
    monkeypatch.setattr(package, "CHANGELOG", changelog)
    version = package.plugin_version()
    with pytest.raises(SystemExit, match=re.escape(f"CHANGELOG.md has no '## {version}' section")):
        package.shipped_metadata()


#: The rules of the official plugin repository's validator (qgis/QGIS-Django, qgis-app/plugins/validator.py)
#: for a new plugin's zip; that validator is no package of its own (it is part of the site, on Django).
REQUIRED_METADATA = (
    "name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker", "repository",
)  # fmt: skip
MAX_UPLOAD_BYTES = 25_000_000


def repository_rule_breaks(archive: Path) -> list[str]:
    """What the plugin repository would refuse in `archive`, one sentence each."""
    problems = []
    if archive.stat().st_size > MAX_UPLOAD_BYTES:
        problems.append("larger than 25 MB")
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        if zipped.testzip() is not None:
            problems.append("a member fails its CRC check")
        for name in names:
            parts = name.split("/")
            if ".." in name or name.startswith("/"):
                problems.append(f"path information in {name}")
            if ".pyc" in name:
                problems.append(f"compiled Python file {name}")
            if {"__MACOSX", ".git", "__pycache__"} & set(parts):
                problems.append(f"forbidden folder in {name}")
        folders = {name.split("/")[0] for name in names}
        if len(folders) != 1:
            return [*problems, f"more than one top-level folder: {sorted(folders)}"]
        (folder,) = folders
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", folder):
            problems.append(f"top-level folder {folder!r} is not a lower-case Python name")
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{folder}/{required}" not in names:
                problems.append(f"no {required}")
        if f"{folder}/metadata.txt" not in names:
            return problems
        metadata = general(zipped.read(f"{folder}/metadata.txt").decode("utf-8"))
        problems += [
            f"metadata lacks {key}" for key in REQUIRED_METADATA if not metadata.get(key, "").strip()
        ]
        icon = metadata.get("icon", "").removeprefix("./")
        if not icon or f"{folder}/{icon}" not in names:
            problems.append(f"icon {icon!r} is not in the zip")
    for key, placeholder in (("tracker", "http://bugs"), ("repository", "http://repo"), ("homepage", None)):
        url = metadata.get(key)
        if url is None and key == "homepage":
            continue
        if url == placeholder or not re.match(r"^[a-z][a-z0-9+.-]*://[^/\s]+", url or ""):
            problems.append(f"{key} is not a valid URL: {url!r}")
    if "/" in metadata.get("author", ""):
        problems.append("author has a slash")
    for flag in ("experimental", "deprecated", "server"):
        if flag in metadata and metadata[flag].lower() not in ("true", "false", "1", "0"):
            problems.append(f"{flag} is not a boolean: {metadata[flag]!r}")
    return problems


def test_the_zip_follows_the_plugin_repository_rules(tmp_path: Path) -> None:
    assert repository_rule_breaks(build(tmp_path)) == []


def test_the_repository_rules_catch_a_bad_zip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zipped:
        zipped.writestr("Flair-QGIS/__init__.py", "")
        zipped.writestr("Flair-QGIS/__pycache__/x.cpython-311.pyc", b"")
        zipped.writestr(
            "Flair-QGIS/metadata.txt",
            "[general]\nname=x\nversion=1\nauthor=a/b\ntracker=http://bugs\nrepository=repo\nicon=i.png\n",
        )
    problems = repository_rule_breaks(bad)
    assert "top-level folder 'Flair-QGIS' is not a lower-case Python name" in problems
    assert "no LICENSE" in problems and "author has a slash" in problems
    assert {"metadata lacks about", "metadata lacks email", "metadata lacks description"} <= set(problems)
    assert "tracker is not a valid URL: 'http://bugs'" in problems
    assert "repository is not a valid URL: 'repo'" in problems
    assert "icon 'i.png' is not in the zip" in problems
    assert any(p.startswith("compiled Python file") for p in problems)
