"""The command line: `python -m flair_qgis predict | info | devices | models | plan | run-plan | run-shard |
merge`, the engine without QGIS. This module holds the entry point, `predict`, `info` and `devices`;
`models.py` the catalogues' commands, `shards.py` the sharded runs, `common.py` what they share (band and
area arguments, output switches, the progress bar).

Failures print the FlairError's message and hint (no traceback) and exit with 1; Ctrl-C cancels
cleanly (nothing left at the output path) and exits with 130; SIGTERM (and SIGHUP) cancel the same way
and exit with 143 (129).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..core.errors import Cancelled, FlairError
from ..core.gdal_runtime import gdal_environment
from ..core.termination import on_termination
from .common import ProgressBar, add_output_flags, area_argument, asked_outputs, parse_aerial, parse_area
from .models import add_models_parser, run_models
from .shards import SHARD_COMMANDS, add_shards_parser, run_shards_command

__all__ = ["area_argument", "asked_outputs", "build_parser", "main", "parse_aerial", "parse_area"]


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
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for ONNX Runtime (default: all cores; two batches run side by side, each on half)",
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


def _termination_cancels() -> contextlib.AbstractContextManager[None]:
    """While the block runs (on the main thread), SIGTERM and SIGHUP raise Terminated."""

    def terminate(number: int) -> None:
        raise Terminated(number)

    return on_termination(terminate)


def _info(args: argparse.Namespace, out: TextIO) -> int:
    from ..core.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    print(bundle.describe(), file=out)
    spec = bundle.spec
    if spec.aerial_metadata is not None:
        print(f"Metadata encoding: {spec.aerial_metadata.encoding}", file=out)
    parity = spec.parity
    print(f"Parity     {parity.summary() if parity else 'not recorded'}", file=out)
    return 0


def _devices(out: TextIO) -> int:
    from ..core.runtime import available_devices, choose_providers

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
    from ..core.predict import PredictionRequest, predict

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
    from ..core.output_kinds import output_kinds

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
        from ..core.statistics_table import statistics_text

        print(f"\n{statistics_text(result.statistics)}", file=out)
