"""`python -m flair_qgis models`: the catalogues' models, their verified download, and catalogue entries
for teams."""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from .common import ProgressBar


def add_models_parser(commands: Any) -> None:
    """The `models` command and its `download` and `entry` subcommands."""
    models = commands.add_parser(
        "models",
        help="list and download models from the catalogues",
        description="List the models of the shipped catalogue, of $FLAIR_QGIS_CATALOGUE and of every "
        "--catalogue; download one (verified by SHA-256) with `models download NAME`. Only a catalogue "
        "given as a URL is fetched from the network.",
        epilog="Examples:\n"
        "  python -m flair_qgis models --catalogue https://models.example.org/catalogue.json\n"
        "  python -m flair_qgis models download ign-flair-inc-rgbie --catalogue team.json\n"
        "  python -m flair_qgis models entry utt.onnx --name team-utt --url https://example.org/utt.onnx "
        "--licence CC-BY-4.0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _models_options(models)
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    download = actions.add_parser(
        "download",
        help="download a model, verify it and install its bundle",
        description="Download a catalogue model into the models folder, verify its SHA-256 and install "
        "its bundle (checkpoints are converted when the training package is installed). An interrupted "
        "download resumes when run again.",
    )
    download.add_argument("name", metavar="NAME", help="the model's name in the catalogue")
    _models_options(download)
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    entry = actions.add_parser(
        "entry",
        help="print the catalogue entry of a file you publish (its true size and SHA-256)",
        description="Print a catalogue entry (JSON) for a model file a team publishes: size and SHA-256 "
        "are computed from the file; a bundle's inputs, classes and description are read from it.",
    )
    entry.add_argument("file", metavar="FILE", help="the model file (.onnx bundle or checkpoint)")
    entry.add_argument("--name", required=True, help="the model's name in the catalogue")
    entry.add_argument("--url", required=True, help="the https URL the file is published at")
    entry.add_argument("--format", default="onnx", help="onnx (default), flair-inc-pth or reference-ckpt")
    entry.add_argument("--licence", help="the model's licence, e.g. Etalab-2.0")
    entry.add_argument("--task", help="e.g. 'land-cover segmentation'")
    entry.add_argument("--inputs", help="comma-separated: aerial, sentinel2, aerial_metadata")
    entry.add_argument("--classes", type=int, help="number of classes the model predicts")
    entry.add_argument("--description", help="one line on the model")
    entry.add_argument("--training-data", help="the data the model was trained on")


def _models_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalogue",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="a catalogue file or https URL to read as well (repeatable)",
    )
    parser.add_argument(
        "--dest", metavar="DIR", help="the models folder (default ~/.cache/flair_qgis/models)"
    )


def run_models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `models`, `models download` or `models entry`."""
    import json
    from pathlib import Path

    from ..core.models.catalogue import entry_for_file, inputs_text, load_catalogues
    from ..core.models.download import default_models_dir, download_model, is_installed

    if getattr(args, "models_command", None) == "entry":
        fields = {
            "licence": args.licence,
            "task": args.task,
            "classes": args.classes,
            "description": args.description,
            "training_data": args.training_data,
            "inputs": args.inputs.split(",") if args.inputs else None,
        }
        entry = entry_for_file(args.file, args.name, args.url, args.format, **fields)
        print(json.dumps(entry, indent=2), file=out)
        return 0
    dest = Path(args.dest) if args.dest else default_models_dir()
    sources = [s for s in os.environ.get("FLAIR_QGIS_CATALOGUE", "").split() if s] + args.catalogue
    catalogue = load_catalogues(sources)
    if getattr(args, "models_command", None) == "download":
        entry = catalogue.find(args.name)
        bar = None if args.quiet else DownloadProgress(err)
        try:
            result = download_model(entry, dest, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        if result.conversion_message:
            print(result.conversion_message, file=out)
        if result.bundle is None:
            return 1
        print(f"Installed {entry.name}: {result.bundle} (SHA-256 verified)", file=out)
        return 0
    print(f"Catalogues: {', '.join(catalogue.sources)}", file=out)
    print(f"Models folder: {dest}", file=out)
    if not catalogue.entries:
        print("No downloadable model is listed. Add a catalogue with --catalogue PATH_OR_URL.", file=out)
        return 0
    header = (
        f"{'name':<28} {'task':<26} {'inputs':<26} {'classes':>7} {'size':>10}  {'licence':<14} installed"
    )
    print(header, file=out)
    for entry in catalogue.entries:
        print(
            f"{entry.name:<28} {entry.task:<26} {inputs_text(entry.inputs):<26} {entry.classes:>7} "
            f"{_megabytes(entry.size):>10}  {entry.licence:<14} {'yes' if is_installed(entry, dest) else 'no'}",
            file=out,
        )
    return 0


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


class DownloadProgress:
    """Download progress on the terminal: tqdm's bar when tqdm is installed, else a ProgressBar line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._bar: Any = None
        self._line: ProgressBar | None = None

    def __call__(self, done: int, total: int, message: str) -> None:
        if self._bar is None and self._line is None:
            try:
                from tqdm import tqdm
            except ImportError:
                self._line = ProgressBar(self.stream)
            else:
                self._bar = tqdm(
                    total=total, initial=done, unit="B", unit_scale=True, desc=message, file=self.stream
                )
                return
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
        elif self._line is not None:
            self._line(done / total if total else 1.0, f"{message} {_megabytes(done)}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._line is not None:
            self._line.close()
