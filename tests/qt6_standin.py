"""Imports the plugin's Qt modules against PyPI's PyQt6 with a stand-in for nothing but the `qgis`
package, then looks up in PyQt6 every Qt name they spell (`Qt.AlignmentFlag.AlignLeft`, `QDialog.exec`).

The stand-in: `qgis.PyQt.<module>` forwards to `PyQt6.<module>`; every other `qgis.*` module (core, gui,
utils, processing...) offers a placeholder class for any name, whose attributes are placeholders too.
Run it as a script in a process of its own, so that PyQt5 (QGIS 3's) and PyQt6 never meet:

    python tests/qt6_standin.py PLUGIN_DIR    one 'file:line: finding' per line; exit status 1 if any

A line ending with `# Qt5 only` is the Qt5 branch of a compatibility shim and is not looked up.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import sys
import traceback
import types
from pathlib import Path

QT5_ONLY = "# Qt5 only"


class _PlaceholderType(type):
    """Any attribute of a placeholder class is another placeholder class (QgsTask.Flag.CanCancel)."""

    def __getattr__(cls, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        return placeholder(f"{cls.__name__}.{name}")

    def __or__(cls, other: object) -> type:
        return cls


def placeholder(name: str) -> type:
    return _PlaceholderType(name, (), {})


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return placeholder(name)


class QgisStandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers every import of `qgis` and `qgis.*` before the real QGIS can be found."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith("qgis.PyQt.") and fullname.count(".") > 2:
            return None  # `from qgis.PyQt.QtWidgets import QAction` asks for a submodule when it is missing
        if fullname == "qgis" or fullname.startswith("qgis."):
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        if spec.name.startswith("qgis.PyQt."):
            module = types.ModuleType(spec.name)
            qt6 = importlib.import_module("PyQt6." + spec.name.removeprefix("qgis.PyQt."))
            module.__dict__.update({k: v for k, v in vars(qt6).items() if not k.startswith("__")})
            return module
        if spec.name in ("qgis", "qgis.PyQt"):
            return types.ModuleType(spec.name)
        return _PlaceholderModule(spec.name)

    def exec_module(self, module) -> None:
        module.__path__ = []


def _chain(node: ast.Attribute) -> list[str] | None:
    parts = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    return [current.id, *reversed(parts)] if isinstance(current, ast.Name) else None


def _in_import_error_fallback(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside `except ImportError:` blocks (the other branch of a compat import)."""
    inside = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ExceptHandler)
            and isinstance(node.type, ast.Name)
            and node.type.id in ("ImportError", "ModuleNotFoundError")
        ):
            inside |= {id(child) for statement in node.body for child in ast.walk(statement)}
    return inside


def qt_findings(path: Path, root: Path) -> list[str]:
    """Names imported from qgis.PyQt, and attribute chains on them, that PyQt6 does not have."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    fallback = _in_import_error_fallback(tree)
    where = path.relative_to(root)
    findings, names = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qgis.PyQt"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    names[alias.asname or alias.name] = getattr(module, alias.name)
                elif id(node) not in fallback:
                    findings.append(f"{where}:{node.lineno}: {node.module} has no {alias.name} in PyQt6")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or (chain := _chain(node)) is None or chain[0] not in names:
            continue
        if lines[node.lineno - 1].rstrip().endswith(QT5_ONLY):
            continue
        owner = names[chain[0]]
        for attr in chain[1:]:
            if not isinstance(owner, (type, types.ModuleType)):
                break  # a value's attribute, known only at run time
            if not hasattr(owner, attr):
                findings.append(f"{where}:{node.lineno}: {'.'.join(chain)} does not exist in PyQt6")
                break
            owner = getattr(owner, attr)
    return sorted(set(findings))


def _uses_qgis(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("qgis"):
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "qgis" for a in node.names):
            return True
    return False


def main(plugin_dir: Path) -> int:
    sys.meta_path.insert(0, QgisStandIn())
    root = plugin_dir.parent
    sys.path.insert(0, str(root))
    findings = []
    files = sorted(p for p in plugin_dir.rglob("*.py") if "__pycache__" not in p.parts)
    checked = [p for p in files if _uses_qgis(p)]
    for path in checked:
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        try:
            importlib.import_module(module)
        except Exception:  # each failure is a finding, reported whole
            last = traceback.format_exc().strip().splitlines()[-1]
            findings.append(f"{path.relative_to(root)}: import fails on PyQt6: {last}")
            continue
        findings += qt_findings(path, root)
    if "PyQt5" in sys.modules:
        findings.append("PyQt5 was imported")
    print(f"checked {len(checked)} modules on PyQt6")
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
