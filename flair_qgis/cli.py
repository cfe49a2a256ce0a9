"""The command line: `python -m flair_qgis predict | info | devices | models | plan | run-plan | run-shard |
merge`, the engine without QGIS.

Failures print the FlairError's message and hint (no traceback) and exit with 1; Ctrl-C cancels
cleanly (nothing left at the output path) and exits with 130; SIGTERM (and SIGHUP) cancel the same way
and exit with 143 (129).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from .core.errors import Cancelled, FlairError, InputError
from .core.gdal_runtime import gdal_environment

_BANDS = re.compile(r"^\d+(,\d+)*$")
_AREA = re.compile(r"^\s*([^,@]+),([^,@]+),([^,@]+),([^,@]+?)\s*(?:@\s*(\S+))?\s*$")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flair_qgis",
        description="FLAIR #2 land-cover maps from aerial imagery (and Sentinel-2 time series) with a model bundle.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "predict",
        help="map an area with a model bundle",
        description="Map an area with a model bundle and write a styled class raster and its statistics.",
        epilog="Examples:\n"
        "  python -m flair_qgis predict --aerial ortho_rgbie.tif --model unet.onnx --out map.tif\n"
        "  python -m flair_qgis predict --aerial rgb.tif:1,2,3 --aerial irc.tif:1 --aerial dem.tif:1 \\\n"
        "      --sentinel2 S2/ --model utt.onnx --out map.tif --area 650000,6860000,651000,6861000@EPSG:2154",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--aerial",
        action="append",
        required=True,
        metavar="PATH[:BANDS]",
        help="aerial raster; repeat to compose the model's bands from several rasters, in the model's band "
        "order, with 1-based band numbers after a colon (e.g. rgb.tif:1,2,3). One raster without bands "
        "must hold the model's bands in order.",
    )
    run.add_argument("--model", required=True, metavar="BUNDLE", help="the model bundle (.onnx)")
    run.add_argument("--out", required=True, metavar="MAP.tif", help="the class raster to write")
    run.add_argument("--sentinel2", metavar="DIR", help="folder of Sentinel-2 acquisitions (U-T&T models)")
    area = run.add_mutually_exclusive_group()
    area.add_argument(
        "--area",
        metavar="XMIN,YMIN,XMAX,YMAX[@CRS]",
        help="bounding box to map, in the aerial image's CRS unless @CRS (e.g. @EPSG:2154) follows",
    )
    area.add_argument("--area-file", metavar="GEOJSON", help="polygon(s) to map, from a GeoJSON file")
    run.add_argument(
        "--device",
        default="auto",
        help="auto (default), gpu, cpu, cuda, tensorrt, directml, coreml or a provider",
    )
    run.add_argument(
        "--overlap", type=int, metavar="PX", help="overlap between tiles in pixels (default tile/8)"
    )
    run.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="tiles per inference batch (default 1 on the CPU, 4 on a GPU)",
    )
    run.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads for ONNX Runtime (default: all cores)"
    )
    add_output_flags(run)
    run.add_argument("--cog", action="store_true", help="write Cloud Optimized GeoTIFFs")
    run.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    run.add_argument("--lang", default="en", choices=("en", "fr"), help="language of the class names (en)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    info = commands.add_parser("info", help="describe a model bundle", description="Describe a model bundle.")
    info.add_argument("bundle", metavar="BUNDLE", help="the .onnx model bundle")
    commands.add_parser(
        "devices",
        help="list the ONNX Runtime providers",
        description="List the ONNX Runtime providers found.",
    )
    add_models_parser(commands)
    add_shards_parser(commands)
    return parser


def add_output_flags(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """A switch per optional output of the table (output_kinds) that has one, or of those `names`."""
    from .core.output_kinds import output_kinds

    for kind in output_kinds():
        if kind.cli_flag and (names is None or kind.name in names):
            parser.add_argument(
                kind.cli_flag, dest=f"output_{kind.name}", action="store_true", help=kind.cli_help
            )


def asked_outputs(args: argparse.Namespace) -> list[str]:
    """The optional outputs whose switch (add_output_flags) is on."""
    return [
        name.removeprefix("output_") for name, on in vars(args).items() if name.startswith("output_") and on
    ]


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit code (0 success, 1 failure, 2 usage, 130 cancelled)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        with gdal_environment():
            if args.command == "info":
                return _info(args, out)
            if args.command == "devices":
                return _devices(out)
            if args.command == "models":
                return run_models(args, out, err)
            if args.command in SHARD_COMMANDS:
                with _termination_cancels():
                    return run_shards_command(args, out, err)
            with _termination_cancels():
                return _predict(args, out, err)
    except Cancelled as exc:
        print(f"\n{exc}", file=err)
        return 130
    except KeyboardInterrupt:
        print("\nCancelled.", file=err)
        return 130
    except Terminated as exc:
        print(f"\nCancelled by signal {exc.name}; no output was written.", file=err)
        return 128 + exc.number
    except FlairError as exc:
        print(f"Error: {exc.message}", file=err)
        if exc.hint:
            print(f"Hint: {exc.hint}", file=err)
        return 1
    except BrokenPipeError:  # output piped into a command that stopped reading (e.g. head)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return 0


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds the run like Ctrl-C, so that nothing is left at the outputs."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number
        self.name = signal.Signals(number).name


@contextlib.contextmanager
def _termination_cancels() -> Iterator[None]:
    """While the block runs (on the main thread), SIGTERM and SIGHUP raise Terminated."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(number: int, frame: object) -> None:
        raise Terminated(number)

    numbers = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {number: signal.signal(number, terminate) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def parse_aerial(values: Sequence[str]) -> Any:
    """--aerial values -> the engine's aerial argument: one path, or (path, band) per model band."""
    items: list[tuple[str, int]] = []
    if len(values) == 1 and not _split_bands(values[0])[1]:
        return values[0]
    for value in values:
        path, bands = _split_bands(value)
        if not bands:
            raise InputError(
                f"--aerial {value}: give the bands to take from it (e.g. {value}:1,2,3) when composing "
                "the model's bands from several rasters"
            )
        items += [(path, band) for band in bands]
    return items


def area_argument(args: argparse.Namespace, aerial: Any) -> Any:
    """The area of --area (in the first aerial raster's CRS unless @CRS follows) or --area-file, None for
    the whole image: one reading for `predict` and `plan`."""
    from .core.area import AreaOfInterest
    from .core.rasters import RasterioSource

    if args.area:
        first = aerial if isinstance(aerial, str) else aerial[0][0]
        return parse_area(args.area, RasterioSource(first).crs)
    if args.area_file:
        return AreaOfInterest.from_geojson_file(args.area_file)
    return None


def parse_area(text: str, default_crs: str) -> Any:
    """'xmin,ymin,xmax,ymax[@CRS]' -> an AreaOfInterest (in `default_crs` when no CRS is given)."""
    from .core.area import AreaOfInterest

    match = _AREA.match(text)
    if not match:
        raise InputError(f"--area {text}: expected XMIN,YMIN,XMAX,YMAX or XMIN,YMIN,XMAX,YMAX@EPSG:CODE")
    try:
        bounds = [float(v) for v in match.groups()[:4]]
    except ValueError as exc:
        raise InputError(f"--area {text}: the bounds must be numbers") from exc
    return AreaOfInterest.from_bounds(bounds, match.group(5) or default_crs)


def _split_bands(value: str) -> tuple[str, list[int]]:
    path, sep, tail = value.rpartition(":")
    if sep and _BANDS.match(tail):
        return path, [int(b) for b in tail.split(",")]
    return value, []


def _info(args: argparse.Namespace, out: TextIO) -> int:
    from .core.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    print(bundle.describe(), file=out)
    spec = bundle.spec
    if spec.aerial_metadata is not None:
        print(f"Metadata encoding: {spec.aerial_metadata.encoding}", file=out)
    parity = spec.parity
    print(f"Parity     {parity.summary() if parity else 'not recorded'}", file=out)
    return 0


def _devices(out: TextIO) -> int:
    from .core.runtime import available_devices, choose_providers

    devices = available_devices()
    print("ONNX Runtime providers found:", file=out)
    for device in devices:
        print(f"  {device}", file=out)
    print(f"--device auto uses {choose_providers('auto', devices).providers[0]}", file=out)
    gpu = choose_providers("gpu", devices)
    if gpu.reason:
        print(f"--device gpu: {gpu.reason}", file=out)
    return 0


def _predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .core.predict import PredictionRequest, predict

    aerial = parse_aerial(args.aerial)
    area = area_argument(args, aerial)
    request = PredictionRequest(
        aerial=aerial,
        bundle=args.model,
        output=args.out,
        sentinel2=args.sentinel2,
        area=area,
        device=args.device,
        overlap=args.overlap,
        batch_size=args.batch_size,
        threads=args.threads,
        outputs=asked_outputs(args),
        cog=args.cog,
        overwrite=args.overwrite,
        language=args.lang,
    )
    bar = None if args.quiet else ProgressBar(err)
    try:
        result = predict(request, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    _print_result(result, out)
    return 0


def _print_result(result: Any, out: TextIO) -> None:
    from .core.output_kinds import output_kinds

    grid = result.grid
    print(
        f"Mapped {grid.width} x {grid.height} px ({grid.width * grid.height * grid.pixel_area_m2 / 1e6:.3f} km2) "
        f"in {result.tiles} tiles on {result.provider}, {result.seconds:.1f} s",
        file=out,
    )
    for warning in result.warnings:
        print(f"Warning: {warning}", file=out)
    print("Outputs:", file=out)
    for kind in output_kinds():
        if kind.listing and kind.name in result.files:
            print(f"  {kind.listing:<16}{result.files[kind.name]}", file=out)
    if result.statistics:
        from .core.statistics_table import statistics_text

        print(f"\n{statistics_text(result.statistics)}", file=out)


# ---------------------------------------------------------------------------------------------- models
# `models`: the catalogues' models, their verified download, and catalogue entries for teams.


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

    from .core.models.catalogue import entry_for_file, inputs_text, load_catalogues
    from .core.models.download import default_models_dir, download_model, is_installed

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


# ---------------------------------------------------------------------------------------------- shards
# `plan`, `run-plan`, `run-shard`, `merge`: an area split into shards run on Dask or a job array
# (docs/distributed.md).

SHARD_COMMANDS = ("plan", "run-plan", "run-shard", "merge")
#: The optional outputs a plan's shards write and its merge assembles (core/shards.PlanOptions).
SHARD_OUTPUTS = ("confidence", "probabilities")


def add_shards_parser(commands: Any) -> None:
    """The `plan`, `run-plan`, `run-shard` and `merge` commands."""
    plan = commands.add_parser(
        "plan",
        help="split an area into shards for several processes or machines",
        description="Check the inputs, split the area into shards aligned to the tile grid and write the plan "
        "(a JSON file every worker reads); the shards and the merged map go to the plan's folder.",
        epilog="Example:\n"
        "  python -m flair_qgis plan dept/plan.json --aerial ortho.vrt --sentinel2 S2/ --model utt.onnx \\\n"
        "      --area-file departement.geojson\n"
        "  python -m flair_qgis run-plan dept/plan.json --scheduler local:4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("plan", metavar="PLAN.json", help="the plan to write; its folder receives the results")
    plan.add_argument(
        "--aerial", action="append", required=True, metavar="PATH[:BANDS]", help="as for predict"
    )
    plan.add_argument("--model", required=True, metavar="BUNDLE", help="the model bundle (.onnx)")
    plan.add_argument("--sentinel2", metavar="DIR", help="folder of Sentinel-2 acquisitions (U-T&T models)")
    area = plan.add_mutually_exclusive_group()
    area.add_argument(
        "--area", metavar="XMIN,YMIN,XMAX,YMAX[@CRS]", help="bounding box to map (as for predict)"
    )
    area.add_argument("--area-file", metavar="GEOJSON", help="polygon(s) to map, from a GeoJSON file")
    plan.add_argument("--overlap", type=int, metavar="PX", help="overlap between tiles (default tile/8)")
    plan.add_argument("--shard-width", type=int, default=8192, metavar="PX", help="about this wide (8192 px)")
    plan.add_argument(
        "--shard-height", type=int, default=16384, metavar="PX", help="about this tall (16384 px)"
    )
    plan.add_argument("--chunk-width", type=int, default=4096, help=argparse.SUPPRESS)
    plan.add_argument("--region-height", type=int, default=16384, help=argparse.SUPPRESS)
    plan.add_argument("--device", default="auto", help="device of every worker (auto, gpu, cpu, ...)")
    plan.add_argument("--batch-size", type=int, metavar="N", help="tiles per inference batch")
    plan.add_argument("--threads", type=int, metavar="N", help="ONNX Runtime threads per worker")
    add_output_flags(plan, SHARD_OUTPUTS)
    plan.add_argument("--lang", default="en", choices=("en", "fr"), help="language of the class names (en)")
    plan.add_argument("--overwrite", action="store_true", help="replace an existing plan")
    run = commands.add_parser(
        "run-plan",
        help="compute a plan's shards on Dask, then merge them",
        description="Compute the shards of a plan not committed yet, one Dask task each, then merge them into "
        "PLAN_NAME.vrt (and with --cog PLAN_NAME.tif). Killed or interrupted, run it again: committed shards "
        "are checked and skipped.",
    )
    run.add_argument("plan", metavar="PLAN.json")
    run.add_argument(
        "--scheduler",
        default="local:2",
        metavar="local:N|tcp://HOST:PORT|slurm",
        help="N worker processes here (default local:2), a running Dask scheduler, or SLURM jobs",
    )
    slurm = run.add_argument_group("SLURM (--scheduler slurm)")
    slurm.add_argument("--queue", help="the partition")
    slurm.add_argument("--account", help="the account to charge")
    slurm.add_argument("--jobs", type=int, default=1, help="jobs, one worker each (1)")
    slurm.add_argument("--gpus-per-job", type=int, default=0, metavar="N", help="GPUs per job (0)")
    slurm.add_argument("--cores", type=int, default=8, help="CPU cores per job (8)")
    slurm.add_argument("--memory", default="32GB", help="memory per job (32GB)")
    slurm.add_argument("--walltime", default="02:00:00", metavar="HH:MM:SS", help="per job (02:00:00)")
    slurm.add_argument(
        "--print-job-script", action="store_true", help="print the job script of the workers; submit nothing"
    )
    run.add_argument("--restart", action="store_true", help="recompute shards of another bundle or options")
    run.add_argument("--verify", action="store_true", help="check every committed shard's SHA-256")
    run.add_argument("--no-merge", action="store_true", help="do not merge at the end")
    run.add_argument("--cog", action="store_true", help="also merge into one Cloud Optimized GeoTIFF")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    shard = commands.add_parser(
        "run-shard",
        help="compute one shard of a plan in this process (job arrays, Kubernetes)",
        description="Compute shard N of a plan here, without Dask (e.g. N = $SLURM_ARRAY_TASK_ID); a committed "
        "shard is checked and skipped.",
    )
    shard.add_argument("plan", metavar="PLAN.json")
    shard.add_argument("index", type=int, metavar="N", help="the shard's number, 0 to shards - 1")
    merge = commands.add_parser(
        "merge",
        help="merge a plan's shards into one map",
        description="Merge the committed shards of a plan into PLAN_NAME.vrt with its style and statistics "
        "(and with --cog PLAN_NAME.tif, with overviews).",
    )
    merge.add_argument("plan", metavar="PLAN.json")
    merge.add_argument("--cog", action="store_true", help="also write one Cloud Optimized GeoTIFF")


def run_shards_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run `plan`, `run-plan`, `run-shard` or `merge`."""
    from .core.shard_merge import merge_plan
    from .core.shard_run import run_shard
    from .core.shards import make_plan, read_plan

    if args.command == "plan":
        aerial = parse_aerial(args.aerial)
        area = area_argument(args, aerial)
        plan = make_plan(
            args.plan,
            aerial,
            args.model,
            sentinel2=args.sentinel2,
            area=area,
            overlap=args.overlap,
            shard_width=args.shard_width,
            shard_height=args.shard_height,
            chunk_width=args.chunk_width,
            region_height=args.region_height,
            **{kind: kind in asked_outputs(args) for kind in SHARD_OUTPUTS},
            language=args.lang,
            device=args.device,
            batch_size=args.batch_size,
            threads=args.threads,
            overwrite=args.overwrite,
        )
        km2 = plan.grid.width * plan.grid.height * plan.grid.pixel_area_m2 / 1e6
        print(f"Plan {plan.path}: {len(plan.shards)} shards over {km2:.3f} km2", file=out)
        print(f"Run it: python -m flair_qgis run-plan {plan.path} --scheduler local:N", file=out)
        return 0
    if args.command == "run-shard":
        plan = read_plan(args.plan)
        if not 0 <= args.index < len(plan.shards):
            raise InputError(f"The plan has shards 0 to {len(plan.shards) - 1}, not {args.index}.")
        outcome = run_shard(plan, args.index)
        done = "computed" if outcome.status == "computed" else "already committed (checked)"
        print(f"Shard {args.index} of {plan.path.name}: {done}", file=out)
        for warning in outcome.warnings:
            print(f"Warning: {warning}", file=out)
        return 0
    if args.command == "merge":
        _print_merged(merge_plan(read_plan(args.plan), cog=args.cog), out)
        return 0
    from .distributed import SlurmOptions, run_plan

    slurm = SlurmOptions(
        queue=args.queue,
        account=args.account,
        jobs=args.jobs,
        gpus_per_job=args.gpus_per_job,
        cores=args.cores,
        memory=args.memory,
        walltime=args.walltime,
    )
    if args.print_job_script:
        from .distributed import slurm_cluster

        read_plan(args.plan)
        with slurm_cluster(slurm, scheduler_options={"dashboard_address": ":0"}) as cluster:
            print(cluster.job_script(), file=out)
        return 0
    result = run_plan(
        args.plan,
        args.scheduler,
        slurm=slurm,
        restart=args.restart,
        verify=args.verify,
        merge=not args.no_merge,
        cog=args.cog,
        stream=err,
        quiet=args.quiet,
    )
    print(
        f"Shards: {len(result.computed)} computed, {len(result.skipped)} already committed (checked); "
        f"{result.seconds:.1f} s",
        file=out,
    )
    for warning in result.warnings:
        print(f"Warning: {warning}", file=out)
    if result.merged is not None:
        _print_merged(result.merged, out)
    return 0


def _print_merged(merged: Any, out: TextIO) -> None:
    print("Merged map:", file=out)
    print(f"  {'VRT':<16}{merged.vrt}", file=out)
    for kind, path in merged.rasters.items():
        if path != merged.vrt:
            print(f"  {kind:<16}{path}", file=out)
    print(f"  {'QGIS style':<16}{merged.qml}", file=out)
    print(f"  {'statistics':<16}{merged.statistics_json}", file=out)


# ---------------------------------------------------------------------------------------------- progress


class ProgressBar:
    """A one-line text progress bar (fraction and message) on a stream, redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last = 0.0
        self._shown = False

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and fraction < 1.0:
            return
        self._last = now
        filled = round(max(0.0, min(1.0, fraction)) * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {message[:60]:<60}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
