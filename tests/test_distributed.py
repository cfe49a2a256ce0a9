"""A plan run on Dask: `plan`, `run-plan --scheduler local:2` and `merge` from the command line give the
single run's map; a worker killed with SIGKILL mid-shard loses only that shard; a changed bundle or stale
shards stop the run with a clear message; the SLURM job script carries the config. Real LocalClusters
(worker processes), real ONNX Runtime, real files."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from flair_qgis.cli import main
from flair_qgis.core.shards import read_plan
from flair_qgis.core.transaction import read_record
from tests.bundles import make_utt_bundle
from tests.shards_scene import (
    AREA,
    OVERLAP,
    SHARD,
    SIZES,
    TILE,
    WINDOW,
    plan_for,
    read,
    write_scene,
    write_single_run,
)

distributed = pytest.importorskip("distributed")

from flair_qgis.distributed import SlurmOptions, run_plan, slurm_cluster  # noqa: E402


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict[str, Path]:
    return write_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="module")
def single_run(scene, tmp_path_factory) -> Path:
    return write_single_run(scene, tmp_path_factory.mktemp("single") / "map.tif")


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def plan_command(scene: dict[str, Path], plan: Path, area: Path, *extra: str) -> tuple[int, str, str]:
    return cli(
        "plan",
        plan,
        "--aerial",
        scene["aerial"],
        "--model",
        scene["bundle"],
        "--sentinel2",
        scene["sentinel2"],
        "--area-file",
        area,
        "--overlap",
        OVERLAP,
        "--confidence",
        "--shard-width",
        SHARD["shard_width"],
        "--shard-height",
        SHARD["shard_height"],
        "--chunk-width",
        SIZES["chunk_width"],
        "--region-height",
        SIZES["region_height"],
        *extra,
    )


def write_area(path: Path) -> Path:
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": AREA.geometry,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
    }
    path.write_text(json.dumps(feature))
    return path


def test_cli_plan_run_on_2_local_workers_and_merge_give_the_single_run_map(
    scene, single_run, tmp_path: Path, monkeypatch
) -> None:
    # Two GPUs to share out (this machine has none: ONNX Runtime runs on the CPU, which ignores them).
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    plan = tmp_path / "dept" / "plan.json"
    plan.parent.mkdir()
    code, out, err = plan_command(scene, plan, write_area(tmp_path / "area.geojson"))
    assert code == 0, err
    assert "6 shards" in out
    code, out, err = cli("run-plan", plan, "--scheduler", "local:2", "--cog")
    assert code == 0, err
    assert "6 computed, 0 already committed" in out
    assert "Shards: 100%" in err and "6/6" in err and "km²/min" in err and "dashboard" in err
    expected = read(single_run)
    np.testing.assert_array_equal(read(plan.with_name("plan.vrt")), expected)
    np.testing.assert_array_equal(read(plan.with_name("plan.tif")), expected)
    np.testing.assert_array_equal(
        read(plan.with_name("plan.confidence.vrt")), read(single_run.with_name("map.confidence.tif"))
    )
    # Two workers shared the shards, each with one ONNX Runtime session.
    records = [json.loads(p.read_text()) for p in sorted((plan.parent / "shards").glob("*.done.json"))]
    assert len({r["worker"] for r in records}) == 2
    assert len({r["session"] for r in records}) == 2
    # One GPU per worker.
    assert {r["cuda_visible_devices"] for r in records} == {"3", "5"}
    assert len({(r["worker"], r["cuda_visible_devices"]) for r in records}) == 2
    # Run again: every shard is checked and skipped, no cluster work, the merge is the same.
    code, out, _ = cli("run-plan", plan, "--quiet", "--no-merge")
    assert code == 0 and "0 computed, 6 already committed" in out
    code, out, _ = cli("merge", plan)
    assert code == 0 and "plan.vrt" in out
    np.testing.assert_array_equal(read(plan.with_name("plan.vrt")), expected)
    # One shard by hand, as a job array's task would (`run-shard PLAN N`), after its result was lost.
    (plan.parent / "shards" / "shard_00003.done.json").unlink()
    code, out, _ = cli("run-shard", plan, 3)
    assert code == 0 and "Shard 3 of plan.json: computed" in out
    code, out, _ = cli("run-shard", plan, 3)
    assert "already committed" in out


@pytest.mark.slow
def test_a_worker_killed_mid_shard_loses_only_that_shard(scene, single_run, tmp_path: Path) -> None:
    plan = plan_for(scene, tmp_path / "run")
    shards = plan.shards_folder
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        outcome: dict = {}

        def run() -> None:
            try:
                outcome["run"] = run_plan(plan.path, cluster.scheduler_address, quiet=True)
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        # The worker writing a shard is named by the shard's lock file (pid), so the kill follows the
        # first partial file it sees at once, without asking the scheduler.
        worker_pids = set(client.run(os.getpid).values())
        killed, committed_before, kill_time = None, {}, 0.0
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and thread.is_alive():
            for partial in shards.glob(".shard_*.tif.partial-*") if shards.exists() else []:
                index = int(partial.name.split("_")[1].split(".")[0])
                pid = read_record(shards / f".shard_{index:05d}.tif.lock").get("pid")
                if pid in worker_pids:
                    committed_before = {p.name: p.read_text() for p in shards.glob("*.done.json")}
                    kill_time = time.time()
                    os.kill(pid, signal.SIGKILL)
                    killed = index
                    break
            time.sleep(0.002)
        thread.join(300)
        assert not thread.is_alive(), "run_plan did not finish"
    assert killed is not None, "no shard was caught mid-run"
    assert "error" not in outcome, outcome.get("error")
    np.testing.assert_array_equal(read(outcome["run"].merged.vrt), read(single_run))
    # The shards committed before the kill were kept as they were; the killed one was computed again
    # after the kill, by a live worker, and nothing of the killed attempt is left.
    assert f"shard_{killed:05d}.done.json" not in committed_before
    for name, text in committed_before.items():
        assert (shards / name).read_text() == text
    record = json.loads((shards / f"shard_{killed:05d}.done.json").read_text())
    assert record["started"] > kill_time
    assert not list(shards.glob(".*partial-*"))
    assert sorted(outcome["run"].computed + outcome["run"].skipped) == list(range(6))


def test_a_changed_bundle_or_stale_shards_stop_the_run_with_a_clear_message(scene, tmp_path: Path) -> None:
    bundle = tmp_path / "utt.onnx"
    shutil.copy(scene["bundle"], bundle)
    folder = tmp_path / "run"
    plan = plan_for({**scene, "bundle": bundle}, folder)
    assert cli("run-shard", plan.path, 0)[0] == 0
    plan_for({**scene, "bundle": bundle}, folder, overwrite=True, language="fr")
    code, _, err = cli("run-plan", plan.path, "--quiet")
    assert code == 1
    assert "1 of the 6 shards" in err and "another bundle or other options" in err and "--restart" in err
    make_utt_bundle(bundle, tile_size=TILE, sentinel2_window=WINDOW)
    code, _, err = cli("run-plan", plan.path)
    assert code == 1 and "has changed since the plan plan.json was written" in err and "Traceback" not in err
    code, _, err = cli("merge", plan.path)
    assert code == 1 and "has changed since the plan" in err
    assert read_plan(plan.path).options.language == "fr"


def test_the_slurm_job_script_carries_the_config(tmp_path: Path) -> None:
    options = SlurmOptions(
        queue="gpu", gpus_per_job=1, walltime="04:00:00", jobs=3, cores=8, memory="64GB", account="flair"
    )
    with slurm_cluster(options, scheduler_options={"dashboard_address": ":0"}) as cluster:
        script = cluster.job_script()
    for line in (
        "#SBATCH -p gpu",
        "#SBATCH -A flair",
        "#SBATCH --gres=gpu:1",
        "#SBATCH -t 04:00:00",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=60G",
    ):
        assert line in script, script
    # One worker per job, running one shard at a time, with this interpreter.
    assert "--resources flair_shard=1" in script and "--nworkers" not in script
    assert f"{sys.executable} -m distributed.cli.dask_worker" in script
    assert script.splitlines()[0].startswith("#!/")
    (tmp_path / "job.sh").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "job.sh")]).returncode == 0


def test_run_plan_prints_the_slurm_job_script_from_its_options(scene, tmp_path: Path) -> None:
    plan = plan_for(scene, tmp_path / "run")
    code, out, err = cli(
        "run-plan", plan.path, "--scheduler", "slurm", "--queue", "gpu", "--gpus-per-job", "1",
        "--walltime", "01:30:00", "--cores", "4", "--memory", "16GB", "--print-job-script",
    )  # fmt: skip
    assert code == 0, err
    for line in (
        "#SBATCH -p gpu",
        "#SBATCH --gres=gpu:1",
        "#SBATCH -t 01:30:00",
        "#SBATCH --cpus-per-task=4",
    ):
        assert line in out
    assert not plan.shards_folder.exists(), "nothing was computed"


@pytest.mark.slow
def test_a_run_shard_process_killed_mid_shard_is_redone_by_the_next_run(
    scene, single_run, tmp_path: Path
) -> None:
    """Without Dask (a job array's task): the process is killed with SIGKILL while it writes; the next
    run takes over its lock, removes its partial files and computes the shard again."""
    plan = plan_for(scene, tmp_path / "run")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    process = subprocess.Popen(
        [sys.executable, "-m", "flair_qgis", "run-shard", str(plan.path), "4"],
        env=env,
        stdout=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(plan.shards_folder.glob(".shard_00004.tif.partial-*")) and time.monotonic() < deadline:
        assert process.poll() is None, "the shard finished before it could be killed"
        time.sleep(0.005)
    process.kill()
    process.wait()
    assert list(plan.shards_folder.glob(".shard_00004.*partial-*")), (
        "killed mid-shard: its partial files stay"
    )
    code, out, _ = cli("run-plan", plan.path, "--scheduler", "local:1", "--quiet")
    assert code == 0 and "6 computed" in out
    assert not list(plan.shards_folder.glob(".*partial-*"))
    np.testing.assert_array_equal(read(plan.folder / "plan.vrt"), read(single_run))
