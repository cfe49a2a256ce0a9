"""The repository keeps its shape, and the plugin's tree shows its architecture: the engine
(`flair_qgis.core`) free of Qt, QGIS and torch; the QGIS side (adapters, gui, processing, review, plugin.py)
the only code that imports Qt or QGIS; the command line (cli/, distributed.py) on the engine alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "flair_qgis"
CORE = PLUGIN / "core"
QT = ("qgis", "PyQt5", "PyQt6", "PySide2", "PySide6", "sip")
FORBIDDEN = (*QT, "torch", "torchvision", "lightning")
#: The QGIS side of the plugin: the only packages (and the one module) that may import Qt or QGIS.
QGIS_SIDE = ("adapters", "gui", "processing", "review", "plugin.py")
#: The command line: Qt-free, it runs the engine alone.
COMMAND_LINE = ("__main__.py", "cli", "distributed.py")


@pytest.mark.parametrize(
    "path",
    [
        "flair_qgis/__init__.py",
        "flair_qgis/core/__init__.py",
        "metadata.txt",
        "resources/icon.svg",
        "training/pyproject.toml",
        "Makefile",
        "README.md",
        "LICENSE",
        ".ci/run",
    ],
)
def test_product_layout(path: str) -> None:
    assert (REPO / path).is_file(), path


def test_licence_is_gpl() -> None:
    assert "GNU GENERAL PUBLIC LICENSE" in (REPO / "LICENSE").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == [
        "make test"
    ]


def _imported_modules(path: Path, relative: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in `path`, inside functions too; relative imports are resolved to
    absolute names when `relative` (else left out). `from . import x` yields the package and package.x."""
    module = path.relative_to(REPO).with_suffix("").parts
    return _imports_in(path.read_text(encoding="utf-8"), module[:-1], relative)


def _imports_in(source: str, package: tuple[str, ...], relative: bool) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and relative:
            base = ".".join(
                package[: len(package) - node.level + 1] + ((node.module,) if node.module else ())
            )
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _side(module: str) -> str | None:
    """Which part of the plugin a flair_qgis module belongs to: "engine", "qgis", "command line"."""
    parts = module.split(".")
    if parts[0] != "flair_qgis" or len(parts) < 2:
        return None
    if parts[1] == "core":
        return "engine"
    if parts[1] in QGIS_SIDE or f"{parts[1]}.py" in QGIS_SIDE:
        return "qgis"
    if parts[1] in COMMAND_LINE or f"{parts[1]}.py" in COMMAND_LINE:
        return "command line"
    return None


def _plugin_modules() -> list[Path]:
    return sorted(p for p in PLUGIN.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_top_level_shows_engine_qgis_side_and_command_line() -> None:
    packages = sorted(p.name for p in PLUGIN.iterdir() if p.is_dir() and p.name != "__pycache__")
    modules = sorted(p.name for p in PLUGIN.glob("*.py"))
    assert packages == ["adapters", "cli", "core", "gui", "i18n", "processing", "review"]
    assert modules == sorted(["__init__.py", "plugin.py", *(m for m in COMMAND_LINE if m.endswith(".py"))])


def test_only_the_qgis_side_imports_qt_or_qgis() -> None:
    offences = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _plugin_modules()
        if path.relative_to(PLUGIN).parts[0] not in QGIS_SIDE
        for line, module in _imported_modules(path)
        if module.split(".")[0] in QT
    ]
    assert not offences, "\n".join(offences)


def test_engine_and_command_line_import_nothing_of_the_qgis_side() -> None:
    offences = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _plugin_modules()
        if _side(".".join(path.relative_to(REPO).with_suffix("").parts)) in ("engine", "command line")
        for line, module in _imported_modules(path, relative=True)
        if _side(module) == "qgis"
        or (_side(module) == "command line" and path.relative_to(PLUGIN).parts[0] == "core")
    ]
    assert not offences, "\n".join(offences)


def test_every_relative_import_names_a_module_of_the_plugin() -> None:
    """After a module moves, a relative import it kept (`from .core...` in adapters/) is named here, not
    only when the code path that runs it is tested."""
    offences = []
    for path in _plugin_modules():
        package = path.relative_to(REPO).with_suffix("").parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1] + tuple(
                    (node.module or "").split(".") if node.module else ()
                )
                target = REPO.joinpath(*base)
                if not (target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()):
                    offences.append(f"{path.relative_to(REPO)}:{node.lineno} imports {'.'.join(base)}")
    assert not offences, "\n".join(offences)


def test_the_layout_rules_catch_an_offence() -> None:
    """The checks above resolve relative imports, inside functions too: an engine module importing an
    adapter or the dialog's package is caught."""
    source = "def f():\n    from ..adapters import styling\n    from .. import gui\n"
    modules = [module for _, module in _imports_in(source, ("flair_qgis", "core"), relative=True)]
    caught = [module for module in modules if _side(module) == "qgis"]
    assert caught == ["flair_qgis.adapters", "flair_qgis.adapters.styling", "flair_qgis.gui"]


def test_core_imports_neither_qt_qgis_nor_torch() -> None:
    offences = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in sorted(CORE.rglob("*.py"))
        for line, module in _imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    ]
    assert not offences, "\n".join(offences)


def test_importing_all_of_core_loads_no_qt_qgis_or_torch() -> None:
    modules = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in CORE.rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
