"""Throw-away QGIS profiles with the plugin installed and enabled, and the real QGIS programs run on
them: `qgis_process.bin` and the QGIS desktop under Xvfb."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import package  # noqa: E402  (scripts/package.py: the plugin as it ships)

QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the Debian wrapper adds a flag that breaks it


def make_profile(root: Path, enabled: bool = True, locale: str | None = None) -> Path:
    """Install the plugin into `root/profiles/default` and enable it; return `root` (the profiles path).
    `locale` (e.g. "fr_FR") is the interface language QGIS runs in, as its Options dialog sets it."""
    profile = root / "profiles" / "default"
    package.install(profile / "python" / "plugins")
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    text = f"[PythonPlugins]\nflair_qgis={'true' if enabled else 'false'}\n"
    if locale:
        text += f"\n[locale]\noverrideFlag=true\nuserLocale={locale}\n"
    ini.write_text(text, encoding="utf-8")
    return root


def qgis_environment(profiles: Path) -> dict[str, str]:
    """Environment for a QGIS program: headless, on `profiles`, seeing this environment's packages
    (the plugin's dependencies) and the repository (the training package, test helpers)."""
    paths = [*site.getsitepackages(), str(REPO)]
    existing = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QGIS_CUSTOM_CONFIG_PATH": str(profiles),
        "PYTHONPATH": os.pathsep.join(paths + ([existing] if existing else [])),
        "XDG_RUNTIME_DIR": str(profiles / "runtime"),
    }


def run_qgis_process(profiles: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `qgis_process` on the profile; stdout and stderr captured as text."""
    (profiles / "runtime").mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [QGIS_PROCESS, *args],
        env=qgis_environment(profiles),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_qgis_desktop(profiles: Path, script: str, result: Path, timeout: float = 180) -> dict:
    """Start the real QGIS desktop under Xvfb on the profile, run `script` (Python, with `iface`) once
    QGIS is up, and return the JSON the script wrote to `result`. The script must quit QGIS."""
    code = profiles / "startup_script.py"
    code.write_text(script, encoding="utf-8")
    (profiles / "runtime").mkdir(mode=0o700, exist_ok=True)
    env = qgis_environment(profiles)
    env.pop("QT_QPA_PLATFORM")  # a real window, on Xvfb's screen
    command = [
        "xvfb-run", "-a", "-s", "-screen 0 1400x900x24",
        "qgis", "--profiles-path", str(profiles), "--nologo", "--noversioncheck", "--code", str(code),
    ]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if not result.exists():
        raise AssertionError(
            f"QGIS wrote no result (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    return json.loads(result.read_text(encoding="utf-8"))
