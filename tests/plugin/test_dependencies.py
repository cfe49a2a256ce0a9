"""The dependency installer: requirement and constraint computation, sys.path handling, the check of the
Python pip runs with, real pip installs of local wheels into a --target folder that leave every package
QGIS already has as it is, and manual steps that work where the system's Python refuses pip (PEP 668)."""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from flair_qgis.adapters import dependencies as deps

from .wheels import write_wheel


def test_requirements_pick_the_gpu_build_only_for_onnxruntime(repo):
    bounds = deps.version_bounds(repo / "flair_qgis" / "requirements.txt")
    assert set(bounds) == {"onnxruntime", "rasterio", "affine"} and all(bounds.values())
    missing = list(deps.DEPENDENCIES)
    # rasterio never comes from pip (PyPI's wheel carries a second GDAL): from the system's packages.
    assert deps.requirements(missing, gpu=False) == ["onnxruntime" + bounds["onnxruntime"]]
    assert deps.requirements(missing, gpu=True) == ["onnxruntime-gpu" + bounds["onnxruntime"]]
    assert [dep.module for dep in deps.from_system(missing)] == ["rasterio"]


def test_version_bounds_read_a_requirements_file(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# comment\nonnxruntime >=1.17, <2  # runtime\n\nRasterio\n", encoding="utf-8")
    assert deps.version_bounds(path) == {"onnxruntime": ">=1.17,<2", "rasterio": ""}
    assert deps.version_bounds(tmp_path / "absent.txt") == {}


def test_missing_dependencies_reports_only_what_cannot_be_imported():
    present = deps.Dependency("json", "json")
    absent = deps.Dependency("flair_no_such_module_xyz", "flair-no-such-module")
    assert deps.missing_dependencies([present, absent]) == [absent]
    # In the test environment both real dependencies are installed.
    assert deps.missing_dependencies() == []


def test_constraints_pin_every_distribution_qgis_python_has():
    import attr
    import numpy

    lines = deps.constraints().splitlines()
    # numpy, and the packages QGIS's own plugins rely on (Debian's attrs, certifi...), stay as they are.
    assert f"numpy=={numpy.__version__}" in lines
    assert f"attrs=={attr.__version__}" in lines
    assert len(lines) == len(set(lines)) > 20
    assert all("==" in line for line in lines)  # affine, bounded below 3, is installed here: pinned


def test_constraints_pin_present_versions_and_bound_only_what_is_absent():
    present = {"numpy": "1.24.2", "attrs": "22.2.0", "odd": "2.0-not-pep440"}
    assert deps.constraints(present, bounds={"affine": ">=2.4,<3"}) == (
        "attrs==22.2.0\nnumpy==1.24.2\naffine>=2.4,<3\n"
    )
    assert deps.constraints({"affine": "2.4.0"}, bounds={"affine": ">=2.4,<3"}) == "affine==2.4.0\n"
    assert deps.constraints({}, bounds={}) == ""


def test_install_command_uses_target_and_constraints(tmp_path):
    command = deps.install_command("/usr/bin/python3", tmp_path / "deps", ["rasterio"], tmp_path / "c.txt")
    assert command[:4] == ["/usr/bin/python3", "-m", "pip", "install"]
    assert command[command.index("--target") + 1] == str(tmp_path / "deps")
    assert command[command.index("--constraint") + 1] == str(tmp_path / "c.txt")
    assert "--no-deps" not in command
    assert command[-1] == "rasterio"


def test_python_interpreter_is_a_python_that_runs_pip():
    python = deps.python_interpreter()
    assert python is not None
    assert "python" in python.lower().rsplit("/", 1)[-1]
    assert deps.has_pip(python)


def test_manual_steps_name_the_interpreter_the_folder_and_the_constraints(tmp_path):
    text = deps.manual_steps(["onnxruntime>=1.17,<2", "rasterio"], "/opt/py/bin/python3", tmp_path)
    assert (
        f'"/opt/py/bin/python3" -m pip install --target "{tmp_path}" --constraint '
        f'"{tmp_path / "constraints.txt"}" "onnxruntime>=1.17,<2" "rasterio"' in text
    )
    assert "GDAL" in text and "numpy" in text


def test_activate_puts_the_folder_last_once(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert deps.activate(tmp_path / "absent") is False
    assert deps.activate(tmp_path) is True
    assert sys.path[-1] == str(tmp_path)
    assert deps.activate(tmp_path) is False
    assert sys.path.count(str(tmp_path)) == 1


def _wheels(folder: Path) -> Path:
    """A package needing a new helper and two distributions QGIS's Python already has (numpy, attrs),
    each of those also offered at a newer version that an unconstrained resolver would pick."""
    import attr
    import numpy

    folder.mkdir()
    write_wheel(folder, "flairdep_probe", "1.0", ["flairdep_helper>=1", "numpy>=1", "attrs>=1"])
    write_wheel(folder, "flairdep_helper", "1.3")
    for name, version in (("numpy", numpy.__version__), ("attrs", attr.__version__)):
        write_wheel(folder, name, version)
        write_wheel(folder, name, "99.0.0")
    return folder


def test_real_pip_install_adds_only_what_is_missing_and_shadows_nothing(tmp_path, monkeypatch):
    import attr
    import numpy

    wheels = _wheels(tmp_path / "wheels")
    target = tmp_path / "deps"
    monkeypatch.setattr(sys, "path", list(sys.path))

    result = deps.install(
        ["flairdep_probe"], target, extra_args=["--no-index", "--find-links", str(wheels)], timeout=300
    )

    assert result.ok, result.output
    constraints = (target / "constraints.txt").read_text().splitlines()
    assert f"numpy=={numpy.__version__}" in constraints and f"attrs=={attr.__version__}" in constraints
    # pip copied numpy and attrs at QGIS's versions (--target ignores what is installed): removed again.
    assert {path.name for path in result.pruned} == {
        "numpy",
        f"numpy-{numpy.__version__}.dist-info",
        "attrs",
        f"attrs-{attr.__version__}.dist-info",
    }
    assert sorted(path.name for path in target.iterdir()) == [
        "constraints.txt",
        "flairdep_helper",
        "flairdep_helper-1.3.dist-info",
        "flairdep_probe",
        "flairdep_probe-1.0.dist-info",
    ]
    assert (target / "flairdep_helper" / "__init__.py").read_text() == 'VERSION = "1.3"\n'
    assert sys.path[-1] == str(target)
    import flairdep_probe

    assert flairdep_probe.VERSION == "1.0"
    sys.modules.pop("flairdep_probe", None)
    # QGIS's own packages are still the ones imported.
    for module in ("numpy", "attrs"):
        origin = importlib.util.find_spec(module).origin
        assert not Path(origin).is_relative_to(target), origin


def test_pip_refuses_rather_than_replace_a_package_qgis_has(tmp_path, monkeypatch):
    import numpy

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "flairdep_greedy", "1.0", [f"numpy>{numpy.__version__}"])
    write_wheel(wheels, "numpy", "99.0.0")
    monkeypatch.setattr(sys, "path", list(sys.path))
    result = deps.install(
        ["flairdep_greedy"], tmp_path / "deps", extra_args=["--no-index", "--find-links", str(wheels)]
    )
    assert not result.ok
    assert "numpy" in result.output
    assert not (tmp_path / "deps" / "numpy").exists()


def test_failed_install_reports_pip_output(tmp_path):
    result = deps.install(
        ["flairdep_absent"], tmp_path / "deps", extra_args=["--no-index", "--find-links", str(tmp_path)]
    )
    assert not result.ok
    assert "flairdep_absent" in result.output


def test_has_nvidia_gpu_when_nvidia_smi_is_on_the_path(monkeypatch):
    monkeypatch.setattr(
        deps.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None
    )
    assert deps.has_nvidia_gpu() is True


def _other_python(folder: Path, version: str, prefix: str) -> Path:
    """An executable that answers as another Python would (pip present, another version or prefix)."""
    folder.mkdir(exist_ok=True)
    program = folder / "python3"
    major, minor, micro = version.split(".")
    program.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ]; then echo "pip 99 from elsewhere"; exit 0; fi\n'
        f'echo \'{{"version": [{major}, {minor}, {micro}], "prefix": "{prefix}"}}\'\n',
        encoding="utf-8",
    )
    program.chmod(0o755)
    return program


def test_the_python_pip_runs_with_must_be_the_one_qgis_runs(tmp_path):
    assert deps.interpreter_mismatch(sys.executable) is None
    other_version = _other_python(tmp_path / "a", "3.99.1", sys.prefix)
    message = deps.interpreter_mismatch(str(other_version))
    assert "Python 3.99.1" in message and f"{sys.version_info[0]}.{sys.version_info[1]}" in message
    other_prefix = _other_python(tmp_path / "b", ".".join(map(str, sys.version_info[:3])), "/opt/other")
    assert "/opt/other" in deps.interpreter_mismatch(str(other_prefix))
    assert "could not be started" in deps.interpreter_mismatch(str(tmp_path / "absent"))


def test_install_refuses_another_python_and_runs_no_pip(tmp_path):
    other = _other_python(tmp_path / "bin", "3.99.1", "/opt/other")
    result = deps.install(["flairdep_probe"], tmp_path / "deps", python=str(other))
    assert not result.ok and result.command == []
    assert "what it installs would not load in QGIS" in result.output
    assert not (tmp_path / "deps").exists()


SYSTEM_PYTHON = "/usr/bin/python3"


def _externally_managed(python: str) -> bool:
    stdlib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").is_file()


def test_the_manual_steps_work_where_the_system_python_refuses_pip(tmp_path):
    if not Path(SYSTEM_PYTHON).is_file() or not _externally_managed(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is not marked externally managed (PEP 668) on this system")
    wheels = _wheels(tmp_path / "wheels")
    target = tmp_path / "deps"
    deps.write_constraints(target)
    text = deps.manual_steps(["flairdep_probe"], SYSTEM_PYTHON, target, deps.from_system(deps.DEPENDENCIES))
    (command,) = [line.strip() for line in text.splitlines() if " -m pip install " in line]
    offline = ["--no-index", "--find-links", str(wheels)]
    environment = {**os.environ, "PYTHONUSERBASE": str(tmp_path / "user"), "PIP_CONFIG_FILE": os.devnull}
    done = subprocess.run(
        [*shlex.split(command), *offline], capture_output=True, text=True, env=environment, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "flairdep_probe" / "__init__.py").is_file()
    # What the advice warns against: --user is refused on such a system.
    user = subprocess.run(
        [SYSTEM_PYTHON, "-m", "pip", "install", "--user", "--dry-run", *offline, "flairdep_probe"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert user.returncode != 0 and "externally-managed-environment" in user.stdout + user.stderr
    assert "--user" in text and "--break-system-packages" in text and "python3-rasterio" in text


def test_dialog_offers_the_install_command_or_the_manual_steps(tmp_path, monkeypatch, qgis_app):
    from flair_qgis.gui.dependencies_dialog import DependenciesDialog

    absent = deps.Dependency("flair_no_such_module_xyz", "flair-no-such-package")
    checked = (absent, *deps.DEPENDENCIES)

    dialog = DependenciesDialog(target=tmp_path / "deps", dependencies=checked)
    assert dialog.packages == ["flair-no-such-package"]
    text = dialog.log.toPlainText()
    assert "--target" in text and str(tmp_path / "deps") in text and text.count("flair-no-such-package") >= 2
    assert dialog.install_button.isEnabled()

    monkeypatch.setattr(deps, "python_interpreter", lambda: None)
    manual = DependenciesDialog(target=tmp_path / "deps", dependencies=checked)
    assert not manual.install_button.isEnabled()
    assert manual.log.toPlainText().startswith("pip cannot be run from QGIS here.")
    # The manual command names a constraints file: it is there to be used.
    assert (tmp_path / "deps" / "constraints.txt").is_file()


def test_a_missing_rasterio_is_shown_with_the_system_package_and_never_pip(tmp_path, qgis_app):
    from flair_qgis.gui.dependencies_dialog import DependenciesDialog

    rasterio_missing = deps.Dependency("flair_no_such_module_xyz", "rasterio", from_system=True)
    dialog = DependenciesDialog(target=tmp_path / "deps", dependencies=[rasterio_missing])
    assert dialog.packages == [] and not dialog.install_button.isEnabled()
    text = dialog.log.toPlainText()
    assert "sudo apt install python3-rasterio" in text and "-m pip install" not in text
    assert "built on QGIS's own GDAL" in dialog.intro.text()
    # With ONNX Runtime missing too, pip installs ONNX Runtime only.
    both = DependenciesDialog(
        target=tmp_path / "deps",
        dependencies=[rasterio_missing, deps.Dependency("flair_no_such_module_abc", "onnxruntime")],
    )
    assert both.packages == ["onnxruntime" + deps.version_bounds()["onnxruntime"]]
    assert both.install_button.isEnabled() and "python3-rasterio" in both.log.toPlainText()


def test_a_rasterio_with_its_own_gdal_is_refused_with_what_to_install(tmp_path, monkeypatch, qgis_app):
    from flair_qgis.core.gdal_runtime import SECOND_GDAL_HINT, GdalRuntime
    from flair_qgis.gui.dependencies_dialog import DependenciesDialog

    wheel = "/profile/python/flair_qgis_deps/rasterio"
    mixed = GdalRuntime(
        "3.10.3", wheel, "3.6.2", ("/usr/lib/libgdal.so.32", f"{wheel}.libs/libgdal-7a.so.36")
    )
    monkeypatch.setattr(deps, "gdal_problem", lambda: f"{mixed.second_gdal()}\n{SECOND_GDAL_HINT}")
    dialog = DependenciesDialog(target=tmp_path / "deps", dependencies=deps.DEPENDENCIES)
    assert not dialog.install_button.isEnabled()
    assert "carries a GDAL of its own" in dialog.intro.text()
    text = dialog.log.toPlainText()
    assert wheel in text and "sudo apt install python3-rasterio" in text and "pip uninstall rasterio" in text


def test_dialog_shows_requirements_with_their_version_bounds(tmp_path, qgis_app):
    from qgis.PyQt.QtGui import QTextDocument

    from flair_qgis.gui.dependencies_dialog import DependenciesDialog

    # A missing module whose requirement carries bounds with < and > (onnxruntime's).
    missing = deps.Dependency("flair_no_such_module_xyz", "onnxruntime")
    dialog = DependenciesDialog(target=tmp_path / "a<b>", dependencies=[missing])
    shown = QTextDocument()
    shown.setHtml(dialog.intro.text())
    bounds = deps.version_bounds()["onnxruntime"]
    assert f"onnxruntime{bounds}" in shown.toPlainText()
    assert str(tmp_path / "a<b>") in shown.toPlainText()


def test_dialog_refuses_a_python_that_is_not_qgis_own(tmp_path, monkeypatch, qgis_app):
    from flair_qgis.gui.dependencies_dialog import DependenciesDialog

    other = _other_python(tmp_path / "bin", "3.99.1", "/opt/other")
    monkeypatch.setattr(deps, "python_interpreter", lambda: str(other))
    dialog = DependenciesDialog(
        target=tmp_path / "deps", dependencies=[deps.Dependency("flair_no_such_module_xyz", "flair-x")]
    )
    assert not dialog.install_button.isEnabled()
    text = dialog.log.toPlainText()
    assert text.startswith(f"pip would run with {other}, which is Python 3.99.1 in /opt/other")
    assert "--constraint" in text


DESKTOP_CHECK = """
import json
import sys
from importlib.machinery import PathFinder
from pathlib import Path

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QTimer

from flair_qgis.adapters import dependencies as deps

python = deps.python_interpreter()
result = {
    "python": python,
    "mismatch": deps.interpreter_mismatch(python) if python else "no interpreter",
    "pip": deps.has_pip(python) if python else False,
    "target": str(deps.default_target()),
    "last_on_path": sys.path[-1],
    # Where an import would find each name now, whatever was imported before.
    "origins": {name: PathFinder.find_spec(name).origin for name in ("attrs", "numpy", "flairdep_probe")},
}
# The installer as the dialog runs it, with the Python it found, offline on local wheels.
installed = deps.install(["flairdep_other"], Path(TARGET), extra_args=["--no-index", "--find-links", WHEELS])
result["install"] = {"ok": installed.ok, "command": installed.command, "output": installed.output[-2000:],
                     "pruned": sorted(path.name for path in installed.pruned)}
with open(RESULT, "w") as f:
    json.dump(result, f)
QTimer.singleShot(0, QgsApplication.instance().quit)
"""


def test_in_the_qgis_desktop_pip_runs_with_qgis_python_and_installs_without_shadowing(tmp_path):
    from tests.qgis_profile import make_profile, run_qgis_desktop

    profiles = make_profile(tmp_path / "qgis")
    # The plugin's folder as a run of the installer might leave it: a new package, and a copy of a
    # package QGIS's Python already has (what `pip --target` made before pruning existed).
    folder = profiles / "profiles" / "default" / "python" / deps.DEPS_FOLDER
    for name in ("flairdep_probe", "attrs", "numpy"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text('VERSION = "in the plugin folder"\n', encoding="utf-8")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    import attr

    write_wheel(wheels, "flairdep_other", "2.0", ["attrs>=1"])
    write_wheel(wheels, "attrs", attr.__version__)
    write_wheel(wheels, "attrs", "99.0.0")
    target = tmp_path / "installed"
    result_file = tmp_path / "result.json"
    script = f"RESULT = {str(result_file)!r}\nTARGET = {str(target)!r}\nWHEELS = {str(wheels)!r}\n"
    result = run_qgis_desktop(profiles, script + DESKTOP_CHECK, result_file)

    assert result["python"] and result["pip"], result
    assert result["mismatch"] is None, result
    assert Path(result["target"]) == folder
    assert result["last_on_path"] == str(folder)
    origins = {name: Path(origin) for name, origin in result["origins"].items()}
    assert origins["flairdep_probe"].is_relative_to(folder)
    assert not origins["attrs"].is_relative_to(folder) and not origins["numpy"].is_relative_to(folder)
    # pip ran with QGIS's own Python (a system one: PEP 668 does not stop --target), attrs kept as it is.
    install = result["install"]
    assert install["ok"], install["output"]
    assert install["command"][0] == result["python"]
    assert install["pruned"] == ["attrs", f"attrs-{attr.__version__}.dist-info"]
    assert (target / "flairdep_other" / "__init__.py").is_file()
