"""`python -m flair_qgis plan | run-plan | run-shard | merge`: an area split into shards run by several
processes, on Dask or a job array (docs/distributed.md)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ..core.errors import InputError
from .common import add_output_flags, area_argument, asked_outputs, parse_aerial

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
    from ..core.shard_merge import merge_plan
    from ..core.shard_run import run_shard
    from ..core.shards import make_plan, read_plan

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
    from ..distributed import SlurmOptions, run_plan

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
        from ..distributed import slurm_cluster

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
