"""`python -m bench.gpu` on a machine without an NVIDIA GPU: it says so and exits 2, without a traceback;
and its bundles are real U-T&T bundles that the engine opens."""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA GPU")
def test_without_a_gpu_it_says_so_and_exits_2(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--workdir", str(tmp_path / "work")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        "bench.gpu: cannot run: no NVIDIA GPU here" in done.stderr and "Nothing was measured" in done.stderr
    )
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "work").exists()  # nothing was written either


def test_its_bundles_are_u_t_and_t_bundles_in_fp32_and_fp16(tmp_path) -> None:
    from bench.gpu import BUNDLES
    from flair_qgis.core.bundle import load_bundle

    for precision, packed in BUNDLES.items():
        path = tmp_path / f"{precision}.onnx"
        path.write_bytes(lzma.decompress(packed.read_bytes()))
        bundle = load_bundle(path)
        assert bundle.spec.precision == precision and bundle.spec.architecture == "utt"
        assert bundle.spec.aerial.tile_size == 512 and bundle.spec.sentinel2.window_size == 40


def test_a_provider_that_cannot_start_is_named_with_what_it_needs() -> None:
    import onnxruntime as ort

    from bench.gpu import providers_that_start

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has the CUDA provider")
    started, why = providers_that_start()
    assert started == []
    assert set(why) == {"cuda", "tensorrt"}
    assert "no CUDAExecutionProvider" in why["cuda"] and "no TensorrtExecutionProvider" in why["tensorrt"]


def test_the_providers_probe_model_runs(tmp_path) -> None:
    import numpy as np
    import onnxruntime as ort

    from bench.gpu import tiny_model

    session = ort.InferenceSession(tiny_model(), providers=["CPUExecutionProvider"])
    x = np.array([[-1, 2, -3, 4, 0, 5, -6, 7]], np.float32)
    assert session.run(None, {"x": x})[0].tolist() == [[0, 2, 0, 4, 0, 5, 0, 7]]


def _offline(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = dict(
        os.environ,
        FLAIR_GPU_PARTS=str(tmp_path / "checkout_parts"),
        FLAIR_GPU_STORE=str(tmp_path / "store"),
        PYTHON=sys.executable,
        **env,
    )
    return subprocess.run(
        ["bash", str(REPO / "bench" / "gpu-offline.sh"), *args],
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_offline_packages_travel_in_parts_and_are_checked_and_unpacked_there(tmp_path) -> None:
    """The packing and unpacking of bench/gpu-offline.sh on a folder of packages (what `pack` gets from
    pip): parts of at most the size asked, moved out of the checkout as they arrive, checked against
    their SHA-256 sums, unpacked once; then bench.gpu runs on the unpacked packages' path (and, without a
    GPU, says so)."""
    site = tmp_path / "site"
    (site / "offline_probe").mkdir(parents=True)
    (site / "offline_probe" / "__init__.py").write_text("WHERE = 'unpacked'\n")
    (site / "offline_probe" / "noise.bin").write_bytes(os.urandom(3 * 1048576))  # incompressible
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    done = _offline(tmp_path, "pack-site", str(site), FLAIR_GPU_PART_MIB="1", FLAIR_GPU_PYTHON=here)
    assert done.returncode == 0, done.stderr
    parts = sorted((tmp_path / "checkout_parts").glob("part-*"))
    assert len(parts) >= 3 and all(p.stat().st_size <= 1048576 for p in parts)
    assert (tmp_path / "checkout_parts" / "SHA256SUMS").is_file()

    # the parts arrive one at a time: each is moved out of the checkout
    arriving = tmp_path / "arriving"
    (tmp_path / "checkout_parts").rename(arriving)
    (tmp_path / "checkout_parts").mkdir()
    for part in sorted(arriving.iterdir()):
        part.rename(tmp_path / "checkout_parts" / part.name)
        done = _offline(tmp_path, "receive")
        assert done.returncode == 0, done.stderr
        assert not list((tmp_path / "checkout_parts").iterdir())
    assert len(list((tmp_path / "store").glob("part-*"))) == len(parts)

    # packages for another Python are refused, saying how to pack them for this one
    version = tmp_path / "store" / "PYTHON_VERSION"
    version.write_text("2.7\n")
    done = _offline(tmp_path, "run", "--workdir", str(tmp_path / "work"))
    assert (
        done.returncode == 2
        and f"packages for Python 2.7 and {sys.executable} is Python {here}" in done.stderr
    )
    assert f"FLAIR_GPU_PYTHON={here}" in done.stderr and not (tmp_path / "store" / "site").exists()
    version.write_text(f"{here}\n")

    # a damaged part is refused before anything is unpacked
    first = tmp_path / "store" / "part-00"
    good = first.read_bytes()
    first.write_bytes(b"x" + good[1:])
    done = _offline(tmp_path, "run", "--workdir", str(tmp_path / "work"))
    assert done.returncode == 2 and "a part is missing or damaged" in done.stderr
    assert not (tmp_path / "store" / "site").exists()

    first.write_bytes(good)
    done = _offline(tmp_path, "run", "--workdir", str(tmp_path / "work"))
    unpacked = tmp_path / "store" / "site" / "offline_probe"
    assert (unpacked / "__init__.py").read_text() == "WHERE = 'unpacked'\n"
    assert (unpacked / "noise.bin").read_bytes() == (site / "offline_probe" / "noise.bin").read_bytes()
    if shutil.which("nvidia-smi") is None:
        assert done.returncode == 2 and "bench.gpu: cannot run: no NVIDIA GPU here" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.fixture
def without_nvidia_smi(monkeypatch):
    """bench.gpu with nvidia-smi's sampler and GPU name left out (this machine cannot run nvidia-smi)."""
    import bench.gpu as gpu

    class NoSampler(gpu.GpuSampler):
        def __enter__(self) -> NoSampler:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(gpu, "GpuSampler", NoSampler)
    monkeypatch.setattr(gpu, "gpu_name", lambda: "a stand-in for nvidia-smi")
    return gpu


def test_the_sharded_case_runs_the_products_run_plan_and_reads_what_each_worker_ran_on(
    tmp_path, without_nvidia_smi
) -> None:
    """The sharded case's plumbing on the CPU: `plan` and `run-plan --scheduler local:2` run for real
    (Dask, two worker processes, the merge) on a 0.04 km² scene; only nvidia-smi's sampler, which this
    machine cannot run, is left out. Asked for CUDA, the workers run on the CPU here, and the row says so."""
    gpu = without_nvidia_smi

    scene = gpu.write_scene(tmp_path, 0.04)
    assert scene["tiles"] == 9
    row = gpu.run_plan_case(scene, gpu.unpacked_bundle("fp32", tmp_path), 1, 2, tmp_path / "plan")
    assert row["provider"].startswith("CPUExecutionProvider, 2 workers, 1 shards (9 tiles run)")
    assert (tmp_path / "plan" / "plan.vrt").is_file()  # run-plan merged
    assert row["km2"] == pytest.approx(0.04) and 0 < row["start_up"] < row["seconds"]
    text = gpu.report([{"label": "sharded", "precision": "fp32", "batch": 1, **row}], [], {}, scene, 1.0)
    assert "| sharded | CPUExecutionProvider, 2 workers" in text and "| in the workers |" in text
    assert "limited by the CPU side of the workers" in text


def test_the_nvidia_library_folders_are_those_of_the_nvidia_packages_on_the_path() -> None:
    import importlib.util

    from bench.gpu import nvidia_library_folders

    folders = nvidia_library_folders()
    if importlib.util.find_spec("nvidia") is None:
        assert folders == []
        return
    assert folders, "an nvidia package is installed but none of its lib folders was found"
    for folder in folders:
        assert folder.name == "lib" and folder.parent.parent.name == "nvidia"
        assert any(folder.glob("*.so*")), folder


def test_the_cases_run_what_tells_most_first_with_batches_from_the_free_memory(tmp_path, monkeypatch) -> None:
    import bench.gpu as gpu

    monkeypatch.setattr(gpu, "free_memory_mib", lambda: 140_000.0)  # an H200's, as nvidia-smi would say
    monkeypatch.setattr(gpu, "dask_problem", lambda: None)
    labels = [label for label, _ in gpu.cases(["cuda"], {}, tmp_path, {})]
    assert labels == [
        "cuda fp16 batch 64",
        "cuda fp16 batch 16, run-plan local:8",  # 8 workers share the memory: 140 GB / 8 -> 16 tiles
        "cuda fp16 batch 16",
        "cuda fp32 batch 64",
        "cuda fp16 batch 32, run-plan local:4",
        "cuda fp32 batch 16",
    ]
    with_tensorrt = [label for label, _ in gpu.cases(["cuda", "tensorrt"], {}, tmp_path, {})]
    assert with_tensorrt[-3:] == ["tensorrt fp16 batch 64", "cuda fp32 batch 16", "tensorrt fp32 batch 64"]

    unavailable: dict[str, str] = {}
    monkeypatch.setattr(gpu, "dask_problem", lambda: "Dask is not installed (distributed)")
    labels = [label for label, _ in gpu.cases(["cuda"], {}, tmp_path, unavailable)]
    assert not any("run-plan" in label for label in labels)
    assert unavailable == {"run-plan": "Dask is not installed (distributed)"}


def test_the_probe_model_is_the_one_bench_gpu_writes(tmp_path, monkeypatch) -> None:
    """bench/data/probe_relu.onnx is shipped so that the GPU machine needs no onnx package to check its
    providers; --build-bundles writes the same bytes."""
    import bench.gpu as gpu

    shipped = gpu.PROBE_MODEL.read_bytes()
    monkeypatch.setattr(gpu, "PROBE_MODEL", tmp_path / "probe.onnx")
    gpu.write_probe_model()
    assert (tmp_path / "probe.onnx").read_bytes() == shipped


def test_one_call_runs_the_cases_within_the_budget_and_writes_the_report(
    tmp_path, monkeypatch, capsys, without_nvidia_smi
) -> None:
    """The whole call on a machine whose CUDA provider is taken as started (this one's runs then fall back
    to the CPU, which the report shows): the scene is written, the first case runs, the cases left when
    the budget is spent are listed, a provider that did not start is named, the report goes to --out."""
    gpu = without_nvidia_smi

    monkeypatch.setattr(gpu, "gpu_problem", lambda: None)
    monkeypatch.setattr(gpu, "providers_that_start", lambda: (["cuda"], {"tensorrt": "it needs TensorRT"}))
    monkeypatch.setattr(gpu, "free_memory_mib", lambda: 3_000.0)  # batches of 4 in fp16, 1 tile each worker
    out = tmp_path / "gpu.md"
    assert (
        gpu.main(["--km2", "0.04", "--budget", "0", "--workdir", str(tmp_path / "work"), "--out", str(out)])
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert text.strip() == capsys.readouterr().out.strip()
    assert "| cuda fp16 batch 4 | CPUExecutionProvider | 9 |" in text  # the first case always runs
    assert "- Not run (the " in text and "cuda fp16 batch 1, run-plan local:8" in text
    assert "- Not run on tensorrt: it needs TensorRT." in text
    assert "Fastest: cuda fp16 batch 4" in text and "misses the 100 km²/min goal" in text
