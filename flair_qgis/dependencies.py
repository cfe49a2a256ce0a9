"""The plugin's Python dependencies inside QGIS: which are missing, and how pip installs them into a folder
of the plugin's own without touching the numpy and GDAL that QGIS was built against."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Name of the folder, under QGIS's profile `python/` folder, that receives the installed packages.
DEPS_FOLDER = "flair_qgis_deps"


#: The plugin's requirements file (shipped inside the plugin): version bounds of each dependency.
REQUIREMENTS_FILE = Path(__file__).resolve().parent / "requirements.txt"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")


def version_bounds(path: Path = REQUIREMENTS_FILE) -> dict[str, str]:
    """{package name: version specifier} from a requirements file, e.g. {"rasterio": ">=1.3,<1.5"}."""
    bounds: dict[str, str] = {}
    if not path.is_file():
        return bounds
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        match = _NAME.match(line)
        if match:
            bounds[match.group(1).lower()] = match.group(2).replace(" ", "")
    return bounds


@dataclass(frozen=True)
class Dependency:
    """One package the engine imports: its module name and the pip requirements that provide it."""

    module: str
    requirement: str
    gpu_requirement: str | None = None

    def pip_requirement(self, gpu: bool) -> str:
        """The requirement for pip, with the version bounds of the plugin's requirements file."""
        name = self.gpu_requirement if gpu and self.gpu_requirement else self.requirement
        return name + version_bounds().get(self.requirement.lower(), "")


DEPENDENCIES = (
    Dependency("onnxruntime", "onnxruntime", gpu_requirement="onnxruntime-gpu"),
    Dependency("rasterio", "rasterio"),
)

#: Packages QGIS already ships and which must never be replaced: pinned to the version QGIS runs.
PINNED_MODULES = ("numpy",)


def is_importable(module: str) -> bool:
    """Whether `module` can be imported by this interpreter (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_dependencies(dependencies: Sequence[Dependency] = DEPENDENCIES) -> list[Dependency]:
    """The dependencies this interpreter cannot import."""
    importlib.invalidate_caches()
    return [dep for dep in dependencies if not is_importable(dep.module)]


def has_nvidia_gpu() -> bool:
    """Whether an NVIDIA driver is present, so that the CUDA build of ONNX Runtime is worth installing."""
    if shutil.which("nvidia-smi"):
        return True
    if Path("/proc/driver/nvidia/version").exists():
        return True
    if sys.platform == "win32":
        system32 = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        return (system32 / "nvml.dll").exists() or (system32 / "nvcuda.dll").exists()
    return False


def requirements(missing: Sequence[Dependency], gpu: bool) -> list[str]:
    """The pip requirements that install `missing`, the GPU build of ONNX Runtime when `gpu`."""
    return [dep.pip_requirement(gpu) for dep in missing]


def installed_version(module: str) -> str | None:
    """The version of an importable distribution (e.g. "1.24.2" for numpy), None when absent."""
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def transitive_bounds() -> dict[str, str]:
    """Version bounds the requirements file puts on packages the plugin does not import itself but
    that its dependencies pull in (e.g. affine < 3 for rasterio)."""
    direct = {dep.requirement.lower() for dep in DEPENDENCIES}
    return {name: spec for name, spec in version_bounds().items() if name not in direct and spec}


def constraints(pinned: Sequence[str] = PINNED_MODULES, bounds: dict[str, str] | None = None) -> str:
    """The pip constraints file's text: every package QGIS already has, pinned to its version, so that
    pip resolves the new packages against it instead of upgrading it (e.g. numpy 1.x -> 2.x), and the
    requirements file's bounds on packages pulled in indirectly."""
    lines = []
    for module in pinned:
        version = installed_version(module)
        if version is not None:
            lines.append(f"{module}=={version}")
    lines += [f"{name}{spec}" for name, spec in (transitive_bounds() if bounds is None else bounds).items()]
    return "".join(line + "\n" for line in lines)


def python_interpreter() -> str | None:
    """The Python interpreter QGIS runs, as a program pip can be started with.

    Inside QGIS `sys.executable` may be the QGIS program itself (qgis.exe on Windows, the application
    bundle on macOS): look for the python beside the running standard library instead.
    """
    executable = Path(sys.executable) if sys.executable else None
    if executable and executable.name.lower().startswith("python") and executable.exists():
        return str(executable)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefixes = [Path(sys.exec_prefix), Path(sys.prefix), Path(sys.base_exec_prefix)]
    names = ["python.exe", "python3.exe"] if sys.platform == "win32" else [f"python{version}", "python3"]
    for prefix in prefixes:
        for folder in (prefix, prefix / "bin"):
            for name in names:
                candidate = folder / name
                if candidate.is_file():
                    return str(candidate)
    for name in (f"python{version}", "python3", "python"):
        found = shutil.which(name)
        if found:
            return found
    return None


def has_pip(python: str) -> bool:
    """Whether `python -m pip` works."""
    try:
        result = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def install_command(
    python: str,
    target: Path,
    packages: Sequence[str],
    constraints_file: Path,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The pip command line installing `packages` (with their dependencies) into `target`."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--upgrade",
        "--target",
        str(target),
        "--constraint",
        str(constraints_file),
        *extra_args,
        *packages,
    ]


def prune_shadowed(target: Path, modules: Sequence[str] = PINNED_MODULES) -> list[Path]:
    """Remove from `target` the copies pip made of packages QGIS already has (`pip --target` ignores
    installed packages, so it copies pinned numpy too); returns the paths removed."""
    removed = []
    for module in modules:
        if installed_version(module) is None:
            continue
        for path in sorted(target.glob(f"{module}*")):
            name = path.name.lower()
            if name == module or name.startswith((f"{module}-", f"{module}.libs")):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed


def activate(target: Path) -> bool:
    """Put the plugin's dependency folder first on `sys.path`; True when it was added now.

    First, because pip resolved the folder's packages as a set of their own (`--target` ignores what is
    installed): e.g. rasterio's affine 3 needs a newer attrs than Debian's, and finds it there. numpy,
    pinned to QGIS's version, was pruned from the folder, so QGIS's numpy is the one imported.
    """
    if not target.is_dir():
        return False
    entry = str(target)
    if entry in sys.path:
        return False
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    return True


def default_target() -> Path:
    """The plugin's dependency folder in the current QGIS profile: <profile>/python/flair_qgis_deps."""
    from qgis.core import QgsApplication

    return Path(QgsApplication.qgisSettingsDirPath()) / "python" / DEPS_FOLDER


def manual_steps(packages: Sequence[str], python: str | None, target: Path) -> str:
    """What to do by hand when pip cannot run from QGIS, as text shown to the user."""
    interpreter = python or "python3"
    names = " ".join(f'"{package}"' for package in packages)  # quoted: specifiers hold < and >
    numpy = installed_version("numpy")
    pin = f' "numpy=={numpy}"' if numpy else ""
    lines = [
        "Install the missing packages into the Python that QGIS runs, then restart QGIS:",
        "",
        f'  "{interpreter}" -m pip install --target "{target}" {names}{pin}',
        "",
        "On Windows, run it from the OSGeo4W Shell (Start menu, QGIS folder) with 'python' as the "
        "interpreter. On Linux, your distribution may package them (e.g. 'python3-rasterio').",
        "Keep numpy at the version QGIS already has and never install GDAL with pip: "
        "QGIS's own GDAL must stay in place.",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class InstallResult:
    """What pip did: success, the command run, its output, and the shadowing copies pruned after it."""

    ok: bool
    command: list[str]
    output: str
    pruned: tuple[Path, ...] = ()


def install(
    packages: Sequence[str],
    target: Path,
    python: str | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 1800,
) -> InstallResult:
    """Run pip (blocking) to install `packages` into `target` with numpy pinned; prune and activate."""
    python = python or python_interpreter()
    if python is None:
        return InstallResult(False, [], "No Python interpreter was found beside QGIS.")
    target.mkdir(parents=True, exist_ok=True)
    constraints_file = target / "constraints.txt"
    constraints_file.write_text(constraints(), encoding="utf-8")
    command = install_command(python, target, packages, constraints_file, extra_args)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return InstallResult(False, command, str(exc))
    output = result.stdout + result.stderr
    if result.returncode != 0:
        return InstallResult(False, command, output)
    pruned = prune_shadowed(target)
    activate(target)
    return InstallResult(True, command, output, tuple(pruned))
