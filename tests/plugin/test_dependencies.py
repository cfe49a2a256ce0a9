"""The dependency installer: requirement and constraint computation, sys.path handling, and a real pip
install of local wheels into a --target folder with numpy pinned."""

from __future__ import annotations

import sys

from flair_qgis import dependencies as deps

from .wheels import write_wheel


def test_requirements_pick_the_gpu_build_only_for_onnxruntime(repo):
    bounds = deps.version_bounds(repo / "flair_qgis" / "requirements.txt")
    assert set(bounds) == {"onnxruntime", "rasterio", "affine"} and all(bounds.values())
    missing = list(deps.DEPENDENCIES)
    assert deps.requirements(missing, gpu=False) == [
        "onnxruntime" + bounds["onnxruntime"],
        "rasterio" + bounds["rasterio"],
    ]
    assert deps.requirements(missing, gpu=True) == [
        "onnxruntime-gpu" + bounds["onnxruntime"],
        "rasterio" + bounds["rasterio"],
    ]


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


def test_constraints_pin_numpy_to_the_running_version():
    import numpy

    text = deps.constraints()
    # numpy pinned to QGIS's own; affine kept below 3 (it breaks with the attrs QGIS ships).
    assert text.splitlines() == [f"numpy=={numpy.__version__}", "affine>=2.4,<3"]
    assert deps.constraints(["flair_no_such_module_xyz"], bounds={}) == ""


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


def test_manual_steps_name_the_interpreter_the_folder_and_the_numpy_pin(tmp_path):
    import numpy

    text = deps.manual_steps(["onnxruntime>=1.17,<2", "rasterio"], "/opt/py/bin/python3", tmp_path)
    assert (
        f'"/opt/py/bin/python3" -m pip install --target "{tmp_path}" "onnxruntime>=1.17,<2" "rasterio"'
        in text
    )
    assert f"numpy=={numpy.__version__}" in text
    assert "GDAL" in text


def test_activate_puts_the_folder_first_once(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert deps.activate(tmp_path / "absent") is False
    assert deps.activate(tmp_path) is True
    assert sys.path[0] == str(tmp_path)
    assert deps.activate(tmp_path) is False
    assert sys.path.count(str(tmp_path)) == 1


def test_real_pip_install_resolves_dependencies_keeps_numpy_pinned_and_prunes_it(tmp_path, monkeypatch):
    import numpy

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "flairdep_probe", "1.0", ["flairdep_helper>=1", "numpy>=1"])
    write_wheel(wheels, "flairdep_helper", "1.3")
    write_wheel(wheels, "numpy", numpy.__version__)
    write_wheel(wheels, "numpy", "99.0.0")  # what an unconstrained resolver would pick
    target = tmp_path / "deps"
    monkeypatch.setattr(sys, "path", list(sys.path))

    result = deps.install(
        ["flairdep_probe"], target, extra_args=["--no-index", "--find-links", str(wheels)], timeout=300
    )

    assert result.ok, result.output
    assert (target / "constraints.txt").read_text() == f"numpy=={numpy.__version__}\naffine>=2.4,<3\n"
    assert (target / "flairdep_probe" / "__init__.py").is_file()
    assert (target / "flairdep_helper" / "__init__.py").read_text() == 'VERSION = "1.3"\n'
    pruned = {path.name for path in result.pruned}
    assert pruned == {"numpy", f"numpy-{numpy.__version__}.dist-info"}
    assert not list(target.glob("numpy*"))
    assert sys.path[0] == str(target)
    import flairdep_probe

    assert flairdep_probe.VERSION == "1.0"
    sys.modules.pop("flairdep_probe", None)


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
