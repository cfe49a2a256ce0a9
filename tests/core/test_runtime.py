"""Provider choice and batched runs on the real ONNX Runtime."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnxruntime as ort
import pytest

from flair_qgis.core import runtime
from flair_qgis.core.errors import FlairError
from flair_qgis.core.runtime import (
    CPU,
    OPTIMISED_GRAPHS_KEPT,
    available_devices,
    choose_providers,
    create_runner,
    is_out_of_memory,
    optimised_graph_path,
    run_split,
)
from tests.bundles import aerial_logits, default_weights, make_aerial_bundle


def test_available_devices_lists_the_cpu_in_preference_order() -> None:
    devices = available_devices()
    assert CPU in devices
    gpus = [d for d in devices if d in ("TensorrtExecutionProvider", "CUDAExecutionProvider")]
    assert devices.index(CPU) > max((devices.index(g) for g in gpus), default=-1)


def test_auto_prefers_tensorrt_then_cuda_then_cpu() -> None:
    available = [CPU, "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    choice = choose_providers("auto", available)
    assert choice.providers == ("TensorrtExecutionProvider", "CUDAExecutionProvider", CPU)
    assert choice.reason is None
    assert choose_providers("auto", [CPU, "DmlExecutionProvider"]).providers == ("DmlExecutionProvider", CPU)


def test_gpu_falls_back_to_cpu_with_a_reason() -> None:
    choice = choose_providers("gpu", [CPU])
    assert choice.providers == (CPU,)
    assert "no GPU provider" in choice.reason
    assert choose_providers("gpu", [CPU, "CUDAExecutionProvider"]).providers == ("CUDAExecutionProvider", CPU)


def test_named_provider_and_aliases() -> None:
    assert choose_providers("cuda", [CPU, "CUDAExecutionProvider"]).providers == (
        "CUDAExecutionProvider",
        CPU,
    )
    choice = choose_providers("CoreMLExecutionProvider", [CPU])
    assert choice.providers == (CPU,)
    assert "CoreMLExecutionProvider is not available" in choice.reason
    assert choose_providers("cpu", [CPU, "CUDAExecutionProvider"]).providers == (CPU,)
    trt = [CPU, "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert choose_providers("tensorrt", trt).providers == (
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        CPU,
    )
    assert choose_providers("gpu", trt).providers == (
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        CPU,
    )
    with pytest.raises(FlairError, match="Unknown device 'quantum'"):
        choose_providers("quantum", [CPU])


def test_runner_reports_the_provider_that_ran_and_computes_the_model(tmp_path: Path) -> None:
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=16)
    runner = create_runner(tmp_path / "m.onnx", device="gpu", threads=1)
    if "CUDAExecutionProvider" not in available_devices():
        assert runner.provider == CPU
        assert "no GPU provider" in runner.fallback_reason
    batch = np.random.default_rng(0).normal(size=(3, 5, 16, 16)).astype(np.float32)
    logits = runner.run("logits", {"aerial": batch})
    weights, bias = default_weights(13, 5)
    for i in range(3):
        np.testing.assert_allclose(logits[i], aerial_logits(batch[i], weights, bias), atol=1e-5)


def test_out_of_memory_splits_the_batch_in_halves(tmp_path: Path) -> None:
    """A run that fails like a GPU out of memory for batches above 2 is retried in halves, and the
    concatenated answer equals the full batch's (the real session computes every piece)."""
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    runner = create_runner(tmp_path / "m.onnx", device="cpu")
    batch = np.random.default_rng(1).normal(size=(7, 5, 8, 8)).astype(np.float32)
    sizes: list[int] = []

    def run(feeds):
        sizes.append(len(feeds["aerial"]))
        if len(feeds["aerial"]) > 2:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : CUDA failure 2: out of memory")
        return runner.session.run(["logits"], dict(feeds))[0]

    splits = []
    result = run_split(run, {"aerial": batch}, lambda: splits.append(1))
    np.testing.assert_allclose(result, runner.run("logits", {"aerial": batch}), atol=1e-6)
    assert sizes == [7, 3, 1, 2, 4, 2, 2]
    assert len(splits) == 3  # 7 -> 3 + 4, 3 -> 1 + 2, 4 -> 2 + 2


def test_out_of_memory_on_one_tile_fails_clearly() -> None:
    def run(feeds):
        raise RuntimeError("Failed to allocate memory for requested buffer of size 123")

    with pytest.raises(FlairError, match="ran out of memory even for a batch of one tile") as info:
        run_split(run, {"x": np.zeros((4, 2), np.float32)})
    assert "device cpu" in info.value.hint


def test_a_failing_run_is_a_clear_error(tmp_path: Path) -> None:
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    runner = create_runner(tmp_path / "m.onnx", device="cpu")
    with pytest.raises(FlairError, match="ONNX Runtime failed to run the model on CPUExecutionProvider"):
        runner.run("logits", {"aerial": np.zeros((1, 4, 8, 8), np.float32)})  # 4 bands instead of 5


def test_other_errors_are_not_taken_for_memory() -> None:
    assert not is_out_of_memory(RuntimeError("Invalid rank for input: aerial"))

    def run(feeds):
        raise RuntimeError("Invalid rank for input: aerial")

    with pytest.raises(RuntimeError, match="Invalid rank"):
        run_split(run, {"x": np.zeros((4, 2), np.float32)})


def test_tensorrt_keeps_its_engines_in_the_users_cache_with_one_profile_per_run(
    tmp_path, monkeypatch
) -> None:
    from flair_qgis.core.predict import input_shapes
    from flair_qgis.core.runtime import tensorrt_options
    from tests.bundles import make_spec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = make_spec(tile_size=64, sentinel2_window=8)
    options = tensorrt_options(fp16=True, shapes=input_shapes(spec, 6))
    assert options["trt_engine_cache_path"] == str(tmp_path / "flair_qgis" / "tensorrt")
    assert (tmp_path / "flair_qgis" / "tensorrt").is_dir() and options["trt_fp16_enable"] == "True"
    assert options["trt_profile_min_shapes"] == "aerial:1x5x64x64,sentinel2:1x1x10x8x8,sentinel2_dates:1x1"
    # a monthly average has at most 12 frames
    assert options["trt_profile_max_shapes"] == "aerial:6x5x64x64,sentinel2:6x12x10x8x8,sentinel2_dates:6x12"


class SessionSpy(ort.InferenceSession):
    """The real ONNX Runtime session, remembering which file each one was made from."""

    files: ClassVar[list[str]] = []

    def __init__(self, path, *args, **kwargs) -> None:
        SessionSpy.files.append(str(path))
        super().__init__(path, *args, **kwargs)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "OPTIMISED_GRAPH_MIN_BYTES", 0)  # the test bundles are a few kB
    monkeypatch.setattr(ort, "InferenceSession", SessionSpy)
    SessionSpy.files = []
    return tmp_path / "cache" / "flair_qgis" / "onnxruntime"


def test_a_cpu_session_is_made_from_the_cached_optimised_graph_the_second_time(tmp_path: Path, cache) -> None:
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=16, blur=True)
    batch = np.random.default_rng(2).normal(size=(2, 5, 16, 16)).astype(np.float32)
    first = create_runner(tmp_path / "m.onnx", device="cpu")
    cached = optimised_graph_path(tmp_path / "m.onnx")
    assert cached is not None and cached.parent == cache
    assert [p.name for p in cache.iterdir()] == [cached.name]  # written, no partial file left
    second = create_runner(tmp_path / "m.onnx", device="cpu", threads=1)
    assert SessionSpy.files == [str(tmp_path / "m.onnx"), str(cached)]
    np.testing.assert_array_equal(
        second.run("logits", {"aerial": batch}), first.run("logits", {"aerial": batch})
    )


def test_a_changed_model_is_optimised_again_not_read_stale(tmp_path: Path, cache) -> None:
    batch = np.random.default_rng(3).normal(size=(1, 5, 8, 8)).astype(np.float32)
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    create_runner(tmp_path / "m.onnx", device="cpu")
    weights, bias = default_weights(13, 5)
    weights = weights[::-1].copy()  # another model at the same path
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8, weights=weights, bias=bias)
    runner = create_runner(tmp_path / "m.onnx", device="cpu")
    assert SessionSpy.files == [str(tmp_path / "m.onnx")] * 2
    np.testing.assert_allclose(
        runner.run("logits", {"aerial": batch})[0], aerial_logits(batch[0], weights, bias), atol=1e-5
    )


def test_a_damaged_cache_entry_is_replaced(tmp_path: Path, cache) -> None:
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    create_runner(tmp_path / "m.onnx", device="cpu")
    cached = optimised_graph_path(tmp_path / "m.onnx")
    cached.write_bytes(b"half a graph")
    runner = create_runner(tmp_path / "m.onnx", device="cpu")
    assert runner.run("logits", {"aerial": np.zeros((1, 5, 8, 8), np.float32)}).shape == (1, 13, 8, 8)
    assert SessionSpy.files[-1] == str(tmp_path / "m.onnx") and cached.stat().st_size > 100


def test_the_cache_keeps_the_most_recently_used_graphs(tmp_path: Path, cache) -> None:
    for i in range(OPTIMISED_GRAPHS_KEPT + 2):
        make_aerial_bundle(tmp_path / f"m{i}.onnx", tile_size=8)
        create_runner(tmp_path / f"m{i}.onnx", device="cpu")
        time.sleep(0.01)
    kept = {p.name for p in cache.iterdir()}
    assert kept == {
        optimised_graph_path(tmp_path / f"m{i}.onnx").name for i in range(2, OPTIMISED_GRAPHS_KEPT + 2)
    }


def test_a_small_model_is_not_cached(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    create_runner(tmp_path / "m.onnx", device="cpu")
    assert optimised_graph_path(tmp_path / "m.onnx") is None
    assert not (tmp_path / "cache" / "flair_qgis" / "onnxruntime").exists()


def test_the_cpu_shares_its_threads_between_two_lanes_and_a_gpu_runs_one() -> None:
    assert runtime.lane_plan(CPU, 1) == (1, 1)
    assert runtime.lane_plan(CPU, 2) == (2, 1)
    assert runtime.lane_plan(CPU, 5) == (2, 2)
    assert runtime.lane_plan(CPU, 8) == (2, 4)
    assert runtime.lane_plan("CUDAExecutionProvider", 8) == (1, 8)
    assert runtime.lane_plan("TensorrtExecutionProvider", None) == (1, None)
    cores = runtime.physical_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert runtime.lane_plan(CPU, None) == ((2, cores // 2) if cores >= 2 else (1, None))
    # a short run does not pay for a second session
    assert runtime.lane_plan(CPU, 8, batches=runtime.LANES_FROM_BATCHES - 1) == (1, 8)
    assert runtime.lane_plan(CPU, 8, batches=runtime.LANES_FROM_BATCHES) == (2, 4)


def test_lanes_give_each_batch_its_own_answer_and_go_on_when_a_session_cannot_start(tmp_path: Path) -> None:
    """Batches submitted to two lanes come back each with its own output (real sessions); when the
    second session cannot start, every batch runs on the first and the run says why it ran alone."""
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    first = create_runner(tmp_path / "m.onnx", device="cpu", threads=1)
    batches = [np.random.default_rng(i).normal(size=(1, 5, 8, 8)).astype(np.float32) for i in range(6)]
    expected = [first.run("logits", {"aerial": b}) for b in batches]
    made: list[int] = []

    def another():
        made.append(1)
        return create_runner(tmp_path / "m.onnx", device="cpu", threads=1)

    lanes = runtime.Lanes(first, another, 2)
    jobs = [lanes.submit("logits", {"aerial": b}) for b in batches]
    for job, answer in zip(jobs, expected, strict=True):
        np.testing.assert_array_equal(job.result(), answer)
    lanes.close()
    assert len(made) <= 1 and lanes.note is None

    def no_memory():
        raise FlairError("The model could not be loaded: not enough memory")

    lanes = runtime.Lanes(first, no_memory, 2)
    jobs = [lanes.submit("logits", {"aerial": b}) for b in batches]
    for job, answer in zip(jobs, expected, strict=True):
        np.testing.assert_array_equal(job.result(), answer)
    lanes.close()
    assert "another session could not start (The model could not be loaded" in lanes.note


def test_a_lane_ahead_runs_the_next_batch_and_its_follow_up_in_its_own_thread(tmp_path: Path) -> None:
    """On a GPU (`ahead`) even one lane runs in a thread of its own, two batches kept submitted, so that
    the next batch runs while the caller blends the last; the follow-up (`then`: the softmax) runs in
    the lane after the batch. One lane on the CPU runs everything in the calling thread."""
    make_aerial_bundle(tmp_path / "m.onnx", tile_size=8)
    first = create_runner(tmp_path / "m.onnx", device="cpu", threads=1)
    batch = np.random.default_rng(0).normal(size=(2, 5, 8, 8)).astype(np.float32)
    expected = first.run("logits", {"aerial": batch})

    def then(output: np.ndarray) -> tuple[np.ndarray, str]:
        return output * 2, threading.current_thread().name

    ahead = runtime.Lanes(first, ahead=True)
    assert ahead.count == 1 and ahead.depth == 2
    doubled, where = ahead.submit("logits", {"aerial": batch}, then).result()
    ahead.close()
    np.testing.assert_array_equal(doubled, expected * 2)
    assert where.startswith("flair-inference")

    inline = runtime.Lanes(first)
    assert inline.count == 1 and inline.depth == 1
    doubled, where = inline.submit("logits", {"aerial": batch}, then).result()
    np.testing.assert_array_equal(doubled, expected * 2)
    assert where == threading.current_thread().name
    two = runtime.Lanes(first, lambda: first, 2)
    assert two.depth == 3
    two.close()
