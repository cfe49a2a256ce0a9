"""The command line: `python -m flair_qgis predict | info | devices`, the engine without QGIS.

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
    run.add_argument("--confidence", action="store_true", help="also write the confidence raster")
    run.add_argument("--probabilities", action="store_true", help="also write the per-class probabilities")
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
    return parser


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit code (0 success, 1 failure, 2 usage, 130 cancelled)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "info":
            return _info(args, out)
        if args.command == "devices":
            return _devices(out)
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


def parse_area(text: str, default_crs: str) -> Any:
    """'xmin,ymin,xmax,ymax[@CRS]' -> an AreaOfInterest (in `default_crs` when no CRS is given)."""
    from .core.aerial import AreaOfInterest

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
    from .core.aerial import AreaOfInterest, RasterioSource
    from .core.predict import PredictionRequest, predict

    aerial = parse_aerial(args.aerial)
    area = None
    if args.area:
        first = aerial if isinstance(aerial, str) else aerial[0][0]
        area = parse_area(args.area, RasterioSource(first).crs)
    elif args.area_file:
        area = AreaOfInterest.from_geojson_file(args.area_file)
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
        confidence=args.confidence,
        probabilities=args.probabilities,
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
    grid = result.grid
    print(
        f"Mapped {grid.width} x {grid.height} px ({grid.width * grid.height * grid.pixel_area_m2 / 1e6:.3f} km2) "
        f"in {result.tiles} tiles on {result.provider}, {result.seconds:.1f} s",
        file=out,
    )
    for warning in result.warnings:
        print(f"Warning: {warning}", file=out)
    print("Outputs:", file=out)
    for label, path in (
        ("class raster", result.class_raster),
        ("QGIS style", result.qml),
        ("confidence", result.confidence),
        ("probabilities", result.probabilities),
        ("statistics JSON", result.statistics_json),
        ("statistics CSV", result.statistics_csv),
    ):
        if path is not None:
            print(f"  {label:<16}{path}", file=out)
    if result.statistics:
        print(f"\n{'code':>4}  {'class':<26}{'hectares':>12}{'%':>8}", file=out)
        for row in result.statistics:
            print(f"{row.code:>4}  {row.name:<26}{row.hectares:>12.4f}{row.percent:>8.2f}", file=out)


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
