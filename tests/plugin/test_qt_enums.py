"""Every enum value the plugin names is reached through its enum type (`Qt.AlignmentFlag.AlignLeft`,
`QgsTask.Flag.CanCancel`), the only spelling QGIS 4's PyQt6 knows, and that spelling exists in the
running QGIS. Checked against this QGIS's own classes, so QGIS's enums are covered as well as Qt's.
A line ending with `# Qt5 only` is the QGIS 3 branch of flair_qgis/adapters/compat.py, spelled as QGIS 3 wants."""

from __future__ import annotations

import ast
import enum
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The plugin, and the scripts that drive QGIS (screenshots, demo).
QT_CODE = (REPO / "flair_qgis", REPO / "scripts")


def _checked_files() -> list[Path]:
    return sorted(p for folder in QT_CODE for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _is_enum_type(obj: object) -> bool:
    # Python enums (QGIS >= 3.3x moved many there) and sip's enums (PyQt5).
    return isinstance(obj, type) and (issubclass(obj, enum.Enum) or type(obj).__name__ == "enumtype")


def _is_enum_value(obj: object) -> bool:
    return isinstance(obj, enum.Enum) or _is_enum_type(type(obj))


def _qt_and_qgis_names(tree: ast.Module) -> dict[str, object]:
    """{name: object} for every name the file imports from qgis.* (at any depth of the file)."""
    names: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("qgis."):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    names[alias.asname or alias.name] = getattr(module, alias.name)
    return names


def _chain(node: ast.Attribute) -> list[str] | None:
    """["Qt", "AlignmentFlag", "AlignLeft"] for `Qt.AlignmentFlag.AlignLeft`; None if not rooted at a name."""
    parts = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    return [current.id, *reversed(parts)]


def enum_findings(path: Path) -> list[str]:
    """'file:line: problem' for each enum value of Qt or QGIS named unscoped, or named as nothing."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    names = _qt_and_qgis_names(tree)
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or (chain := _chain(node)) is None or chain[0] not in names:
            continue
        if lines[node.lineno - 1].rstrip().endswith("# Qt5 only"):
            continue
        owner = names[chain[0]]
        for attr in chain[1:-1]:
            owner = getattr(owner, attr, None)
        if not isinstance(owner, type):
            continue  # an instance's or a module's attribute: not an enum spelling
        dotted = ".".join(chain)
        if not hasattr(owner, chain[-1]):
            findings.append(f"{where}:{node.lineno}: {dotted} does not exist in this QGIS")
        elif _is_enum_value(getattr(owner, chain[-1])) and not _is_enum_type(owner):
            findings.append(f"{where}:{node.lineno}: {dotted} is not reached through its enum type")
    return findings


def test_every_qt_and_qgis_enum_value_is_named_through_its_type(qgis_app) -> None:
    findings = [finding for path in _checked_files() for finding in enum_findings(path)]
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from qgis.PyQt.QtCore import Qt\nQt.AlignLeft\n",
            "Qt.AlignLeft is not reached through its enum type",
        ),
        ("from qgis.core import QgsTask\nQgsTask.CanCancel\n", "QgsTask.CanCancel is not reached through"),
        ("from qgis.core import Qgis\nQgis.MessageLevel.NoSuchLevel\n", "does not exist in this QGIS"),
        ("from qgis.PyQt.QtCore import Qt\nQt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop\n", None),
        ("from qgis.core import QgsProject\nQgsProject.instance().layerTreeRoot()\n", None),
    ],
)
def test_the_enum_check_tells_unscoped_from_scoped(tmp_path, source, expected, qgis_app) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    findings = enum_findings(path)
    if expected is None:
        assert findings == []
    else:
        assert len(findings) == 1 and expected in findings[0], findings
