"""Build the demo model bundle (`make demo-bundle`): the training package trains its quick U-T&T preset on
a synthetic FLAIR #2 dataset, exports it (`flair-train export`, checked against torch) and records how.

    python scripts/build_demo_bundle.py [--out PATH] [--overwrite] [--print-path]

The bundle (about 60 MB, too large for the repository) is cached as
~/.cache/flair_qgis/demo-bundle-<hash>/flair_utt_demo.onnx, the hash taken over what makes it (the recipe
below, the quick preset, the synthetic data generator, the model and export code), so it is built once
(about 5 minutes on 2 idle cores) and rebuilt only when one of those changes. `make demo` runs it and
needs no training; `make demo-train` runs the same chain as this script before its Processing run. The
bundle's metadata (`provenance`) says what made it: the synthetic training data and its seed, the preset,
the epochs, the date and the commands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "training")]

DEMO_NAME = "flair-utt-demo (synthetic data)"
#: The code whose change makes a different demo bundle (besides the Recipe).
MAKERS = (
    "training/flair_training/configs/quick.yaml",
    "training/flair_training/config.py",
    "training/flair_training/synth.py",
    "training/flair_training/data",
    "training/flair_training/models",
    "training/flair_training/lightning_module.py",
    "training/flair_training/train.py",
    "training/flair_training/export.py",
)


@dataclass(frozen=True)
class Recipe:
    """What makes the demo bundle: the synthetic dataset and the training run on it."""

    seed: int = 7
    patches: int = 320
    patch_size: int = 64
    window: int = 16
    epochs: int = 30
    preset: str = "quick"

    def synth_args(self, dataset: Path) -> list[str]:
        return ["synth", str(dataset), "--patches", str(self.patches), "--size", str(self.patch_size),
                "--window", str(self.window), "--seed", str(self.seed)]  # fmt: skip

    def fit_args(self, dataset: Path, run_dir: Path) -> list[str]:
        return ["fit", "--config", self.preset, f"data.root={dataset}", f"output_dir={run_dir}",
                f"trainer.max_epochs={self.epochs}", f"seed={self.seed}"]  # fmt: skip


def recipe_hash(recipe: Recipe) -> str:
    """A short hash of the recipe and of the code that turns it into a bundle."""
    digest = hashlib.sha256(repr(recipe).encode())
    for maker in MAKERS:
        root = REPO / maker
        for path in sorted([root] if root.is_file() else root.rglob("*.py")):
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cached_bundle(recipe: Recipe | None = None) -> Path:
    """Where the demo bundle of `recipe` (default: the demo's) is cached."""
    recipe = recipe or Recipe()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flair_qgis"
    return cache / f"demo-bundle-{recipe_hash(recipe)}" / "flair_utt_demo.onnx"


def flair_train(*args: str) -> list[str]:
    """The `flair-train` command of this checkout, run with this interpreter."""
    return [sys.executable, "-m", "flair_training.cli", *args]


def run(command: list[str]) -> None:
    """Run a command, its output shown as it comes; stop with its status if it fails."""
    print("    $ " + shlex.join(command), flush=True)
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"the step failed (exit {completed.returncode}): {shlex.join(command)}")


def best_checkpoint(run_dir: Path) -> Path:
    """The checkpoint with the best validation mIoU (its name carries it), else the last one."""
    scored = []
    for path in run_dir.rglob("*val_miou=*.ckpt"):
        match = re.search(r"val_miou=([0-9.]+?)(?:-v\d+)?\.ckpt$", path.name)
        if match:
            scored.append((float(match.group(1)), path))
    if scored:
        return max(scored)[1]
    last = sorted(run_dir.rglob("last.ckpt"))
    if not last:
        raise SystemExit(f"training wrote no checkpoint under {run_dir}")
    return last[0]


def record_provenance(bundle: Path, extra: dict) -> None:
    """Add `extra` to the provenance in the bundle's metadata, rewriting the file atomically; the graph
    and its weights are untouched, so the export's parity check still holds."""
    import onnx

    from flair_qgis.core.bundle import load_bundle
    from flair_qgis.core.bundle_spec import METADATA_KEY, BundleSpec

    proto = onnx.load(str(bundle))
    (entry,) = [p for p in proto.metadata_props if p.key == METADATA_KEY]
    spec = json.loads(entry.value)
    spec["provenance"] = {**spec.get("provenance", {}), **extra}
    entry.value = json.dumps(spec)
    BundleSpec.from_json(entry.value)
    temporary = bundle.with_name(bundle.name + ".part")
    onnx.save(proto, str(temporary))
    try:
        load_bundle(temporary)  # the engine reads it: metadata valid, graph matching
        os.replace(temporary, bundle)
    finally:
        temporary.unlink(missing_ok=True)


def build_bundle(output: Path, recipe: Recipe, steps=None) -> Path:
    """Train and export the bundle in a temporary folder, then move it to `output` (never half-written)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.stem + ".building.onnx")
    try:
        with tempfile.TemporaryDirectory(prefix="flair_demo_bundle_") as work:
            train_and_export(Path(work), temporary, recipe, steps)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    return output


def train_and_export(work: Path, output: Path, recipe: Recipe, steps=None) -> Path:
    """Synthetic dataset, quick training and export under `work`, the bundle written at `output`.

    `steps(title)` is called before each of the three steps and returns a callable ending it (the demo's
    timed steps); by default each step's title is printed.
    """
    steps = steps or _printed_steps
    dataset, run_dir = work / "flair2_synthetic", work / "training_run"
    synth_args, fit_args = recipe.synth_args(dataset), recipe.fit_args(dataset, run_dir)

    done = steps("Synthetic FLAIR #2 dataset (exact layout: aerial, labels, Sentinel-2 super-areas)")
    run(flair_train(*synth_args))
    done()
    done = steps(f"Training the {recipe.preset} U-T&T preset ({recipe.epochs} epochs)")
    started = time.perf_counter()
    run(flair_train(*fit_args))
    training_minutes = (time.perf_counter() - started) / 60
    checkpoint = best_checkpoint(run_dir)
    done(f"checkpoint {checkpoint}")
    done = steps("Exporting the model bundle (ONNX, checked against torch)")
    output.parent.mkdir(parents=True, exist_ok=True)
    export_args = ["export", str(checkpoint), str(output), "--name", DEMO_NAME, "--overwrite"]
    run(flair_train(*export_args))
    miou = re.search(r"val_miou=([0-9.]+?)(?:-v\d+)?\.ckpt$", checkpoint.name)
    record_provenance(
        output,
        {
            "training_data": "synthetic: `flair-train synth` (drawn land-cover scenes, not FLAIR #2 imagery)",
            "seed": recipe.seed,
            "preset": recipe.preset,
            "patches": recipe.patches,
            "epochs": recipe.epochs,
            "best_val_miou_synthetic": float(miou.group(1)) if miou else None,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "training_minutes": round(training_minutes, 1),
            "commands": [
                "flair-train " + shlex.join(synth_args).replace(str(work) + "/", ""),
                "flair-train " + shlex.join(fit_args).replace(str(work) + "/", ""),
                "flair-train export <best checkpoint> flair_utt_demo.onnx --name " + shlex.quote(DEMO_NAME),
            ],
            "rebuild": "make demo-bundle (scripts/build_demo_bundle.py)",
        },
    )
    done(f"bundle {output} ({output.stat().st_size / 1e6:.1f} MB)")
    return output


def _printed_steps(title: str):
    print(f"\n==> {title}", flush=True)
    start = time.perf_counter()
    return lambda message="": print(f"    done in {time.perf_counter() - start:.0f} s {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=None, help="bundle to write (default: the cache)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    parser.add_argument(
        "--print-path", action="store_true", help="print the cached bundle's path, build nothing"
    )
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    args = parser.parse_args(argv)
    recipe = Recipe(seed=args.seed, epochs=args.epochs)
    out = (args.out or cached_bundle(recipe)).resolve()
    if args.print_path:
        print(out)
        return 0
    if out.exists() and not args.overwrite:
        print(f"demo bundle: {out} is built (pass --overwrite to build it again)")
        return 0
    build_bundle(out, recipe)
    print(f"\ndemo bundle: {out} (inspect: python -m flair_qgis info {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
