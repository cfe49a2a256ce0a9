"""Where the plugin's resources are, in the packaged plugin and in a checkout of the repository."""

from __future__ import annotations

from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """The `resources/` folder: inside the plugin once packaged, beside it in the repository."""
    for candidate in (PLUGIN_DIR / "resources", PLUGIN_DIR.parent / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the plugin's resources folder is missing beside {PLUGIN_DIR}")


def resource(name: str) -> Path:
    """The path of one resource file, e.g. `resource("icon.svg")`."""
    return resources_dir() / name
