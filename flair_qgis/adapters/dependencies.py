"""The plugin's Python dependencies inside QGIS: which are missing, and how pip installs them into a folder
of the plugin's own without replacing anything QGIS already has (numpy, GDAL, attrs, certifi...): pip runs
with QGIS's own Python, every distribution already there is pinned to its version, the copies pip makes
of them are removed, and the folder comes last on `sys.path`.

rasterio is never installed with pip here: PyPI's wheels bundle a GDAL of their own, and a second GDAL in
QGIS's process makes wrong maps (core/gdal_runtime.py, docs/gdal.md). It comes from the same source as
QGIS (the distribution's package), and the user is told how to get it."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import json
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
REQUIREMENTS_FILE = Path(__file__).resolve().parent.parent / "requirements.txt"
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
    """One package the engine imports: its module name and the pip requirements that provide it.
    `from_system`: linked to QGIS's own libraries, so it comes with QGIS's packages, never from pip."""

    module: str
    requirement: str
    gpu_requirement: str | None = None
    from_system: bool = False

    def pip_requirement(self, gpu: bool) -> str:
        """The requirement for pip, with the version bounds of the plugin's requirements file."""
        name = self.gpu_requirement if gpu and self.gpu_requirement else self.requirement
        return name + version_bounds().get(self.requirement.lower(), "")


DEPENDENCIES = (
    Dependency("onnxruntime", "onnxruntime", gpu_requirement="onnxruntime-gpu"),
    Dependency("rasterio", "rasterio", from_system=True),
)

#: A version pip takes in a constraint (PEP 440); distributions with another kind are left unpinned.
_PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9.]+)?$", re.IGNORECASE)


def canonical_name(name: str) -> str:
    """A distribution's name as pip compares it: "PyYAML" and "pyyaml", "ruamel_yaml" and "ruamel.yaml"."""
    return re.sub(r"[-_.]+", "-", name).lower()


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
    """The pip requirements that install what of `missing` pip may install, the GPU build of ONNX
    Runtime when `gpu`."""
    return [dep.pip_requirement(gpu) for dep in missing if not dep.from_system]


def from_system(missing: Sequence[Dependency]) -> list[Dependency]:
    """What of `missing` must come from the system's packages, not from pip."""
    return [dep for dep in missing if dep.from_system]


#: How to get a rasterio built on QGIS's own GDAL, wherever QGIS came from.
SYSTEM_RASTERIO = (
    "rasterio must be the one built on QGIS's own GDAL, from where QGIS came from (PyPI's rasterio carries "
    "a second GDAL, which makes wrong maps inside QGIS):",
    "  Debian, Ubuntu: sudo apt install python3-rasterio",
    "  Fedora: sudo dnf install python3-rasterio",
    "  conda (QGIS from conda-forge): conda install -c conda-forge rasterio",
    "  Windows (OSGeo4W): the OSGeo4W installer's python3-rasterio package, under Advanced Install, where "
    "your OSGeo4W offers it; otherwise run the engine outside QGIS (python -m flair_qgis predict, see the "
    "README).",
    "Then restart QGIS.",
)


def gdal_problem() -> str | None:
    """Why the plugin cannot run in this QGIS because of a second GDAL (rasterio from PyPI), with what to
    do; None when rasterio is absent (said by `missing_dependencies`) or on QGIS's GDAL."""
    if not is_importable("rasterio"):
        return None
    from ..core.gdal_runtime import SECOND_GDAL_HINT, gdal_runtime

    problem = gdal_runtime().second_gdal()
    return None if problem is None else f"{problem}\n{SECOND_GDAL_HINT}"


def present_distributions(outside: Path | None = None) -> dict[str, str]:
    """{canonical name: version} of every distribution this Python already has, except those in the
    folder `outside` (the plugin's own): the first one found on `sys.path` wins, as import does."""
    from importlib import metadata

    skipped = os.path.realpath(outside) if outside is not None else None
    paths = [entry for entry in sys.path if skipped is None or os.path.realpath(entry or ".") != skipped]
    present: dict[str, str] = {}
    for distribution in metadata.distributions(path=paths):
        name = distribution.metadata["Name"]
        if name:
            present.setdefault(canonical_name(name), distribution.version)
    return present


def transitive_bounds() -> dict[str, str]:
    """Version bounds the requirements file puts on packages the plugin does not import itself but
    that its dependencies pull in (e.g. affine < 3 for rasterio)."""
    direct = {dep.requirement.lower() for dep in DEPENDENCIES}
    return {name: spec for name, spec in version_bounds().items() if name not in direct and spec}


def constraints(present: dict[str, str] | None = None, bounds: dict[str, str] | None = None) -> str:
    """The pip constraints file's text: every distribution QGIS's Python already has, pinned to its
    version, so that pip resolves the new packages against them instead of upgrading them (numpy 1 to 2,
    Debian's attrs, certifi...), then the requirements file's bounds on packages pulled in indirectly
    that QGIS does not have."""
    present = present_distributions() if present is None else present
    pins = [f"{name}=={version}" for name, version in sorted(present.items()) if _PEP440.match(version)]
    bounds = transitive_bounds() if bounds is None else bounds
    pins += [f"{name}{spec}" for name, spec in bounds.items() if canonical_name(name) not in present]
    return "".join(line + "\n" for line in pins)


def write_constraints(target: Path) -> Path:
    """Write `constraints()` to `target`/constraints.txt (the folder is created) and return its path."""
    target.mkdir(parents=True, exist_ok=True)
    path = target / "constraints.txt"
    path.write_text(constraints(present_distributions(outside=target)), encoding="utf-8")
    return path


def python_interpreter() -> str | None:
    """The Python interpreter QGIS runs, as a program pip can be started with.

    Inside QGIS `sys.executable` may be the QGIS program itself (qgis.exe on Windows, the application
    bundle on macOS) or the first `python3` on the PATH (a pyenv shim, another installation): of the
    pythons beside the running standard library, then on the PATH, the first that is QGIS's own (same
    version and prefix, see `interpreter_mismatch`) is chosen; when none is, the first found (which the
    installer then refuses, saying why), None when there is none.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    names = ["python.exe", "python3.exe"] if sys.platform == "win32" else [f"python{version}", "python3"]
    candidates = []
    executable = Path(sys.executable) if sys.executable else None
    if executable and executable.name.lower().startswith("python") and executable.exists():
        candidates.append(str(executable))
    for prefix in (Path(sys.exec_prefix), Path(sys.prefix), Path(sys.base_exec_prefix)):
        for folder in (prefix, prefix / "bin"):
            candidates += [str(folder / name) for name in names if (folder / name).is_file()]
    candidates += [
        found for name in (f"python{version}", "python3", "python") if (found := shutil.which(name))
    ]
    candidates = list(dict.fromkeys(candidates))
    for candidate in candidates:
        if interpreter_mismatch(candidate) is None:
            return candidate
    return candidates[0] if candidates else None


def has_pip(python: str) -> bool:
    """Whether `python -m pip` works."""
    try:
        result = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


_PROBE = "import json, sys; print(json.dumps({'version': list(sys.version_info[:3]), 'prefix': sys.prefix}))"


def interpreter_mismatch(python: str) -> str | None:
    """Why `python` is not the Python QGIS runs (another version, or another installation of it), as a
    sentence for the user; None when it is the same."""
    try:
        result = subprocess.run(
            [python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
        )
        found = json.loads(result.stdout)
        version, prefix = tuple(found["version"]), str(found["prefix"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return f"{python} could not be started to check which Python it is."
    running = tuple(sys.version_info[:3])
    if version[:2] == running[:2] and os.path.realpath(prefix) == os.path.realpath(sys.prefix):
        return None
    return (
        f"pip would run with {python}, which is Python {'.'.join(map(str, version))} in {prefix}, "
        f"but QGIS runs Python {'.'.join(map(str, running))} in {sys.prefix}: what it installs would not "
        "load in QGIS. Install the packages by hand with the Python QGIS runs (below)."
    )


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


def prune_shadowed(target: Path) -> list[Path]:
    """Remove from `target` the copies pip made of distributions QGIS's Python already has (`pip --target`
    ignores what is installed, so it copies numpy, attrs, certifi... too, at the pinned versions), using
    each copy's RECORD; returns the top-level entries of `target` removed."""
    present = present_distributions(outside=target)
    root = target.resolve()
    removed: set[Path] = set()
    for dist_info in sorted(target.glob("*.dist-info")):
        name = _dist_info_name(dist_info)
        if name is None or canonical_name(name) not in present:
            continue
        record = dist_info / "RECORD"
        rows = csv.reader(record.read_text(encoding="utf-8").splitlines()) if record.is_file() else []
        for row in rows:
            path = (root / row[0]).resolve() if row else root
            if path != root and path.is_relative_to(root) and path.is_file():
                path.unlink()
                removed.add(target / path.relative_to(root).parts[0])
        shutil.rmtree(dist_info, ignore_errors=True)
        removed.add(dist_info)
    for top in removed:
        if top.is_dir():  # folders emptied by the removal, deepest first
            for folder, _, _ in sorted(os.walk(top), key=lambda walked: -len(walked[0])):
                if not os.listdir(folder):
                    os.rmdir(folder)
    return sorted(path for path in removed if not path.exists())


def _dist_info_name(dist_info: Path) -> str | None:
    metadata = dist_info / "METADATA"
    if not metadata.is_file():
        return None
    for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Name:"):
            return line.split(":", 1)[1].strip()
        if not line.strip():
            break
    return None


def activate(target: Path) -> bool:
    """Put the plugin's dependency folder last on `sys.path`; True when it was added now.

    Last, so that whatever QGIS's Python already has is imported from QGIS's own folders, never from
    this one: the folder adds packages, it replaces none.
    """
    if not target.is_dir():
        return False
    entry = str(target)
    if entry in sys.path:
        return False
    sys.path.append(entry)
    importlib.invalidate_caches()
    return True


def default_target() -> Path:
    """The plugin's dependency folder in the current QGIS profile: <profile>/python/flair_qgis_deps."""
    from qgis.core import QgsApplication

    return Path(QgsApplication.qgisSettingsDirPath()) / "python" / DEPS_FOLDER


def manual_steps(
    packages: Sequence[str], python: str | None, target: Path, system: Sequence[Dependency] = ()
) -> str:
    """What to do by hand, as text shown to the user: the pip command for `packages` (when pip cannot run
    from QGIS) and how to get `system`, the dependencies that come from the system's packages."""
    lines = list(SYSTEM_RASTERIO) + [""] if any(dep.requirement == "rasterio" for dep in system) else []
    if packages:
        lines += _pip_steps(packages, python, target)
    return "\n".join(lines).rstrip("\n")


def _pip_steps(packages: Sequence[str], python: str | None, target: Path) -> list[str]:
    interpreter = python or "python3"
    names = " ".join(f'"{package}"' for package in packages)  # quoted: specifiers hold < and >
    constraints_file = target / "constraints.txt"
    return [
        "Install the missing packages into the Python that QGIS runs, then restart QGIS:",
        "",
        f'  "{interpreter}" -m pip install --target "{target}" --constraint "{constraints_file}" {names}',
        "",
        "This installs into the plugin's own folder, which also works where the system's Python refuses "
        "pip (PEP 668: Debian 12 and later, Ubuntu 23.04 and later): do not add --user, which those "
        "systems refuse, nor --break-system-packages, which lets pip replace the system's own packages; "
        "a virtual environment does not help either, as QGIS does not see it. The constraints file keeps "
        "every package QGIS already has (numpy, attrs, certifi...) at its version.",
        "On Debian 13 and later the distribution has ONNX Runtime too: sudo apt install python3-onnxruntime. "
        "If that Python has no pip: sudo apt install python3-pip.",
        "On Windows, run the command from the OSGeo4W Shell (Start menu, QGIS folder) with 'python' as the "
        "interpreter.",
        "Never install GDAL, rasterio or another numpy with pip: QGIS's own must stay in place.",
    ]


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
    """Run pip (blocking) to install `packages` into `target` with QGIS's Python, every distribution it
    already has pinned; then remove pip's copies of those and activate the folder. Refuses to run pip
    with another Python than the one QGIS runs."""
    python = python or python_interpreter()
    if python is None:
        return InstallResult(False, [], "No Python interpreter was found beside QGIS.")
    mismatch = interpreter_mismatch(python)
    if mismatch is not None:
        return InstallResult(False, [], mismatch)
    constraints_file = write_constraints(target)
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
