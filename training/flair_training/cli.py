"""`flair-train`: fit, evaluate, export, import-checkpoint, export-patches and synth from the command line.

Errors the user can fix (bad configuration, missing data, unreadable checkpoint, existing output) are
printed with their hint and end the command with status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flair_qgis.core.errors import FlairError

from .threads import prepare_openmp

prepare_openmp()  # before torch loads OpenMP (the next import loads torch)

from .checkpoints import KINDS  # noqa: E402


def _fit(args: argparse.Namespace) -> None:
    from .config import load_config
    from .train import fit

    config = load_config(args.config, args.overrides)
    result = fit(
        config,
        resume=args.resume,
        init=args.init,
        warn=lambda text: print(f"warning: {text}", file=sys.stderr),
    )
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"best validation mIoU: {result.best_val_miou}")
    print(f"logs: {result.output_dir} (tensorboard/, csv/)")


def _evaluate(args: argparse.Namespace) -> None:
    from .evaluate import evaluate
    from .metrics import OTHER_INDEX

    result = evaluate(
        args.checkpoint,
        args.data,
        args.out,
        split=args.split,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        prediction_format=args.format,
    )
    from flair_qgis.core.nomenclature import FLAIR_13

    for index, cls in enumerate(FLAIR_13.classes):
        if index != OTHER_INDEX:
            print(f"{cls.name:>24}: {result.ious[index]:.4f}")
    print(f"{'mIoU':>24}: {result.miou:.4f}")
    print(f"predictions, metrics.json, confusion_matrix.csv/.png in {result.output_dir}")


def _export(args: argparse.Namespace) -> None:
    from .config import aerial_spec, sentinel2_spec
    from .data.flair2 import METADATA_SIZE
    from .evaluate import load_trained
    from .export import bundle_spec, export_bundle, export_provenance

    model, config, checkpoint = load_trained(args.checkpoint)
    provenance = export_provenance(args.checkpoint, checkpoint, config)
    spec = bundle_spec(
        aerial_spec(config),
        sentinel2_spec(config),
        metadata_size=METADATA_SIZE if config["data"]["aerial_metadata"] else None,
        name=args.name or f"flair2-{config['model']['architecture']}",
        version=args.version,
        provenance=provenance,
    )
    int8 = None
    if args.int8:
        from .config import data_roots
        from .quantize import training_tiles

        roots = args.calibration_data or data_roots(config)
        if not roots:
            raise FlairError(
                "An int8 bundle is calibrated on FLAIR #2 tiles: the checkpoint records no training data",
                "Give the dataset with --calibration-data ROOT.",
            )
        int8 = training_tiles(roots, spec, args.calibration_tiles, args.held_out_tiles)
    report = export_bundle(
        model, spec, args.output, fp16=args.fp16, overwrite=args.overwrite, tolerance=args.tolerance,
        int8=int8, int8_min_agreement=args.min_agreement,
    )  # fmt: skip
    _print_report(report)


def _import(args: argparse.Namespace) -> None:
    from .checkpoints import import_checkpoint

    report = import_checkpoint(
        args.checkpoint,
        args.output,
        args.kind,
        classes=args.classes,
        tile_size=args.tile_size,
        window_size=args.window_size,
        name=args.name,
        fp16=args.fp16,
        overwrite=args.overwrite,
        tolerance=args.tolerance,
        licence=args.licence,
    )
    _print_report(report)


def _synth(args: argparse.Namespace) -> None:
    from .synth import write_dataset

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise FlairError(f"{out} is not empty", "Choose an empty folder or pass --overwrite.")
    counts = write_dataset(
        out, patches=args.patches, size=args.size, window=args.window, dates=args.dates, seed=args.seed
    )
    print(f"wrote {counts['train']} train and {counts['test']} test patches of {args.size} px under {out}")


def _export_patches(args: argparse.Namespace) -> None:
    from flair_qgis.cli import parse_aerial
    from flair_qgis.review.training_patches import PatchExport, export_training_patches

    summary = export_training_patches(
        PatchExport(
            classes=Path(args.map),
            corrections=Path(args.corrections),
            aerial=parse_aerial(args.aerial),
            bundle=Path(args.model),
            out=Path(args.out),
            sentinel2=Path(args.sentinel2) if args.sentinel2 else None,
            confidence=Path(args.confidence) if args.confidence else None,
            confident=args.confident,
            author=args.author,
            aerial_date=args.aerial_date,
        )
    )
    for warning in summary.warnings:
        print(f"warning: {warning}")
    corrected = sum(summary.corrected_pixels.values())
    predicted = sum(summary.predicted_pixels.values())
    print(
        f"wrote {summary.patches} patches in {summary.zones} zone(s) under {summary.out}: "
        f"{corrected} corrected pixels, {predicted} from confident predictions (manifest.json lists them)"
    )


def _print_report(report) -> None:
    print(f"bundle written: {report.path}")
    print(f"parity: {report.parity.summary()}")
    if getattr(report, "quantization", None) is not None:
        print(f"int8: {report.quantization.summary()}")


def _tolerance_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="largest accepted |logit difference| between ONNX Runtime and torch, as a fraction of the "
        "largest |logit| (default 1e-4 fp32, 1e-2 fp16); change it only if you know why they differ",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flair-train", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="train a model")
    fit.add_argument("--config", default=None, help="YAML file or preset: utt_baseline, unet_aerial, quick")
    fit.add_argument("--resume", default=None, help="checkpoint of an earlier run to continue from")
    fit.add_argument(
        "--init", default=None, metavar="CHECKPOINT",
        help="start from these weights (fresh optimizer, epoch 0): a checkpoint of fit, a FLAIR #2 reference "
        "or FLAIR-INC checkpoint, or a bundle (.onnx) exported from one",
    )  # fmt: skip
    fit.add_argument(
        "overrides", nargs="*", help="settings as key.sub=value, e.g. data.root=/data trainer.max_epochs=5"
    )
    fit.set_defaults(run=_fit)

    evaluate = commands.add_parser("evaluate", help="IoU, mIoU, confusion matrix and predictions on a split")
    evaluate.add_argument("checkpoint", help="checkpoint of `fit`, or a bundle (.onnx) run with ONNX Runtime")
    evaluate.add_argument("--data", required=True, help="FLAIR #2 root folder")
    evaluate.add_argument("--out", required=True, help="folder for predictions and metrics")
    evaluate.add_argument("--split", default="test", choices=["train", "test"])
    evaluate.add_argument("--batch-size", type=int, default=4)
    evaluate.add_argument("--overwrite", action="store_true")
    evaluate.add_argument(
        "--format",
        default="codes",
        choices=["codes", "ign"],
        help="predictions as class codes 1..13 (maps for QGIS) or as indices 0..12 (IGN's FLAIR #2 scorer)",
    )
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser("export", help="write a checkpoint of `fit` as an ONNX model bundle")
    export.add_argument("checkpoint")
    export.add_argument("output", help="bundle path (.onnx)")
    export.add_argument("--fp16", action="store_true", help="half-precision weights (for GPUs)")
    export.add_argument(
        "--int8",
        action="store_true",
        help="int8 weights and activations (static QDQ, faster on CPUs), calibrated on training tiles and "
        "written only if its classes agree with the fp32 bundle's on held-out tiles (--min-agreement)",
    )
    export.add_argument(
        "--calibration-data",
        nargs="+",
        metavar="ROOT",
        help="FLAIR #2 dataset root(s) for --int8 (default: the checkpoint's training data)",
    )
    export.add_argument("--calibration-tiles", type=int, default=16, help="tiles to calibrate on (16)")
    export.add_argument("--held-out-tiles", type=int, default=16, help="tiles to check agreement on (16)")
    export.add_argument(
        "--min-agreement",
        type=float,
        default=0.99,
        help="least share of held-out pixels whose class the int8 bundle must give as fp32 does (0.99)",
    )
    export.add_argument("--name", default=None)
    export.add_argument("--version", default="1")
    export.add_argument("--overwrite", action="store_true")
    _tolerance_option(export)
    export.set_defaults(run=_export)

    imp = commands.add_parser(
        "import-checkpoint",
        help="turn a FLAIR #2 reference checkpoint or IGN's FLAIR-INC weights into a bundle",
    )
    imp.add_argument("checkpoint")
    imp.add_argument("output", help="bundle path (.onnx)")
    imp.add_argument("--kind", default="auto", choices=list(KINDS))
    imp.add_argument(
        "--classes", default="flair13", help="FLAIR-INC: 'flair13' or FLAIR-19 codes to keep, e.g. 1,2,3"
    )
    imp.add_argument(
        "--tile-size",
        type=int,
        default=None,
        help="aerial tile size in px (default 512, or the metadata MLP's)",
    )
    imp.add_argument("--window-size", type=int, default=40)
    imp.add_argument("--fp16", action="store_true")
    imp.add_argument("--name", default=None)
    imp.add_argument("--overwrite", action="store_true")
    imp.add_argument("--licence", default=None, help="the weights' licence, recorded in the bundle")
    _tolerance_option(imp)
    imp.set_defaults(run=_import)

    patches = commands.add_parser(
        "export-patches", help="FLAIR #2 training patches from a reviewer's corrections of a map"
    )
    patches.add_argument("map", help="the FLAIR class raster the corrections correct (map.tif)")
    patches.add_argument("corrections", help="the corrections (map.corrections.gpkg, polygons with a 'code')")
    patches.add_argument("out", help="new or empty folder for the dataset")
    patches.add_argument(
        "--aerial", action="append", required=True, metavar="PATH[:BANDS]",
        help="the aerial raster(s) the map was made from, as for `python -m flair_qgis predict`",
    )  # fmt: skip
    patches.add_argument("--model", required=True, help="the bundle the map was made with (.onnx)")
    patches.add_argument("--sentinel2", default=None, help="the Sentinel-2 folder the map was made with")
    patches.add_argument(
        "--confidence", default=None, help="the map's confidence raster (map.confidence.tif)"
    )
    patches.add_argument(
        "--confident", type=float, default=None,
        help="also label the map's predictions at least this confident (0..1); default: corrections only",
    )  # fmt: skip
    patches.add_argument("--aerial-date", default="", help="date of the aerial image, YYYY-MM-DD")
    patches.add_argument("--author", default="", help="who made the corrections (recorded in the manifest)")
    patches.set_defaults(run=_export_patches)

    synth = commands.add_parser("synth", help="write a small synthetic dataset in the FLAIR #2 layout")
    synth.add_argument("out")
    synth.add_argument("--patches", type=int, default=48)
    synth.add_argument("--size", type=int, default=512, help="patch size in pixels (multiple of 32)")
    synth.add_argument("--window", type=int, default=40, help="Sentinel-2 window the super-areas must fit")
    synth.add_argument("--dates", type=int, default=20, help="Sentinel-2 acquisitions in the year")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--overwrite", action="store_true")
    synth.set_defaults(run=_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except FlairError as exc:
        print(f"flair-train {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
