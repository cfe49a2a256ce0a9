"""Ready for QGIS 4 (Qt6): QGIS's own PyQt5-to-PyQt6 migration tool finds nothing to change in the plugin,
and the plugin's Qt modules import and name only what exists on PyPI's PyQt6 (tests/qt6_standin.py).
Both run in processes of their own, away from QGIS 3's PyQt5."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The folders of Qt code the checks cover: the plugin, and the scripts that drive QGIS (screenshots).
QT_CODE = ("flair_qgis", "scripts")
#: What pyqt5to6 prints when it runs without QGIS's classes (QGIS 4's are not on PyPI): Qt's enums are
#: still all known to it, QGIS's are checked by tests/plugin/test_qt_enums.py in the real QGIS.
PARTIAL_RUN = "QGIS classes not available for introspection, only a partial upgrade will be performed"
# Run the tool without any `qgis` (the real one is QGIS 3's, on PyQt5).
PYQT5TO6 = (
    "import sys; sys.modules['qgis'] = None; from pyqt5to6.pyqt5to6 import main; sys.exit(main(sys.argv[1:]))"
)


def run_pyqt5to6(folder: Path) -> tuple[list[str], dict[str, str]]:
    """(findings, {file: its text after the tool}) of the migration tool run on a copy of `folder`."""
    copy = folder.parent / (folder.name + "-pyqt5to6")
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
    completed = subprocess.run(
        [sys.executable, "-c", PYQT5TO6, str(copy)], capture_output=True, text=True, timeout=300, check=False
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    findings = [
        line for line in completed.stdout.splitlines() + completed.stderr.splitlines() if line.strip()
    ]
    findings = [line for line in findings if line.strip() != PARTIAL_RUN]
    changed = {}
    for path in sorted(copy.rglob("*.py")):
        original = folder / path.relative_to(copy)
        if path.read_text(encoding="utf-8") != original.read_text(encoding="utf-8"):
            changed[str(original.relative_to(folder))] = path.read_text(encoding="utf-8")
    if completed.returncode not in (0, 1):
        findings.append(f"pyqt5to6 exited with {completed.returncode}")
    return findings, changed


def test_pyqt5_to_pyqt6_finds_nothing_to_migrate(tmp_path) -> None:
    for name in QT_CODE:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        findings, changed = run_pyqt5to6(tmp_path / name)
        assert not findings, "\n".join(findings)
        assert not changed, "pyqt5to6 would rewrite:\n" + "\n".join(changed)


def test_pyqt5_to_pyqt6_check_catches_qt5_only_code(tmp_path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "dialog.py").write_text(
        "from qgis.PyQt.QtCore import Qt\nfrom qgis.PyQt.QtWidgets import QDialog, QLabel\n\n"
        "def show(label: QLabel, dialog: QDialog) -> None:\n"
        "    label.setAlignment(Qt.AlignLeft)\n    dialog.exec_()\n",
        encoding="utf-8",
    )
    _, changed = run_pyqt5to6(plugin)
    assert list(changed) == ["dialog.py"]
    assert "Qt.AlignmentFlag.AlignLeft" in changed["dialog.py"] and "dialog.exec()" in changed["dialog.py"]


def run_standin(plugin: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "tests" / "qt6_standin.py"), str(plugin)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )


def test_the_plugin_qt_modules_import_on_pyqt6(repo) -> None:
    completed = run_standin(repo / "flair_qgis")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    checked = int(completed.stdout.split()[1])
    assert checked >= 20, completed.stdout  # plugin, dialogs, task, Processing, styling, review...


def test_the_pyqt6_import_check_catches_qt5_only_code(tmp_path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "__init__.py").write_text("", encoding="utf-8")
    (plugin / "action.py").write_text("from qgis.PyQt.QtWidgets import QAction\n", encoding="utf-8")
    (plugin / "label.py").write_text(
        "from qgis.core import QgsTask\nfrom qgis.PyQt.QtCore import Qt\n\n"
        "FLAGS = QgsTask.Flag.CanCancel\nSCOPED = Qt.AlignmentFlag.AlignLeft\n\n\n"
        "def align() -> object:\n    return Qt.AlignLeft\n",
        encoding="utf-8",
    )
    completed = run_standin(plugin)
    assert completed.returncode == 1
    findings = completed.stdout.splitlines()[1:]
    assert findings == [
        "plugin/action.py: import fails on PyQt6: ImportError: cannot import name 'QAction' from "
        "'qgis.PyQt.QtWidgets' (unknown location)",
        "plugin/label.py:9: Qt.AlignLeft does not exist in PyQt6",
    ], completed.stdout


def test_metadata_declares_qt6_support() -> None:
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    assert metadata["general"]["supportsQt6"] == "True"
