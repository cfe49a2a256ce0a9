"""The command line, run for real (`python -m flair_qgis` in a child process) and in-process."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from flair_qgis.cli import main, parse_aerial, parse_area
from flair_qgis.core.errors import InputError
from tests.bundles import make_aerial_bundle, make_utt_bundle
from tests.core.test_predict import expected_classes
from tests.rasters import ORIGIN, write_raster

REPO = Path(__file__).resolve().parents[2]


def python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "flair_qgis", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def call(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, np.ndarray, Path]:
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    make_aerial_bundle(tmp_path / "unet.onnx", tile_size=32)
    return write_raster(tmp_path / "ortho.tif", data), data, tmp_path / "unet.onnx"


def test_predict_end_to_end_in_a_child_process(tmp_path: Path, scene) -> None:
    path, data, bundle = scene
    done = python_m(
        "predict", "--aerial", str(path), "--model", str(bundle), "--out", "map.tif", "--confidence",
        "--overlap", "8", "--threads", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with rasterio.open(tmp_path / "map.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected_classes(data))
    assert "map.confidence.tif" in done.stdout and "map.stats.csv" in done.stdout
    assert "building" in done.stdout and "hectares" in done.stdout
    assert "100.0%" in done.stderr  # the progress bar reached its end


def test_failure_exits_1_with_message_and_hint_without_traceback(tmp_path: Path, scene) -> None:
    path, _, bundle = scene
    (tmp_path / "map.tif").write_bytes(b"keep me")
    done = python_m(
        "predict", "--aerial", str(path), "--model", str(bundle), "--out", "map.tif", cwd=tmp_path
    )
    assert done.returncode == 1
    assert "Error: The output" in done.stderr and "already exists" in done.stderr
    assert "Hint:" in done.stderr and "--overwrite" in done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "map.tif").read_bytes() == b"keep me"


def test_band_composition_and_area_options(tmp_path: Path, scene) -> None:
    _, data, bundle = scene
    rgb = write_raster(tmp_path / "rgb.tif", data[:3])
    nir = write_raster(tmp_path / "nir.tif", data[3])
    dem = write_raster(tmp_path / "dem.tif", data[4])
    x0, y0 = ORIGIN
    code, out, err = call(
        "predict", "--aerial", f"{rgb}:1,2,3", "--aerial", f"{nir}:1", "--aerial", f"{dem}:1",
        "--model", str(bundle), "--out", str(tmp_path / "part.tif"), "--quiet", "--lang", "fr",
        "--area", f"{x0 + 2},{y0 - 6},{x0 + 10},{y0 - 2}@EPSG:2154",
    )  # fmt: skip
    assert code == 0, err
    with rasterio.open(tmp_path / "part.tif") as src:
        assert (src.width, src.height) == (40, 20)
        np.testing.assert_array_equal(src.read(1), expected_classes(data[:, 10:30, 10:50]))
    assert "bâtiment" in out
    assert err == ""


def test_area_file(tmp_path: Path, scene) -> None:
    path, _, bundle = scene
    x0, y0 = ORIGIN
    ring = [[x0 + 1, y0 - 1], [x0 + 9, y0 - 1], [x0 + 9, y0 - 9], [x0 + 1, y0 - 9], [x0 + 1, y0 - 1]]
    (tmp_path / "area.geojson").write_text(
        '{"type": "Feature", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},'
        f' "geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}'
    )
    code, _, err = call(
        "predict", "--aerial", str(path), "--model", str(bundle), "--out", str(tmp_path / "a.tif"), "--quiet",
        "--area-file", str(tmp_path / "area.geojson"),
    )  # fmt: skip
    assert code == 0, err
    with rasterio.open(tmp_path / "a.tif") as src:
        assert (src.width, src.height) == (40, 40)


def test_bad_input_messages(tmp_path: Path, scene) -> None:
    path, _, bundle = scene
    code, _, err = call(
        "predict", "--aerial", f"{path}:1,2,3", "--model", str(bundle), "--out", str(tmp_path / "x.tif")
    )
    assert code == 1 and "3 aerial bands were given; the model needs 5" in err
    out = str(tmp_path / "x.tif")
    code, _, err = call("predict", "--aerial", str(path), "--model", str(tmp_path / "no.onnx"), "--out", out)
    assert code == 1 and "does not exist" in err
    code, _, err = call(
        "predict", "--aerial", str(path), "--model", str(bundle), "--out", out, "--area", "1,2,3"
    )
    assert code == 1 and "XMIN,YMIN,XMAX,YMAX" in err
    assert not (tmp_path / "x.tif").exists()


@pytest.mark.parametrize(
    "bounds", ["650000,6859990,inf,6860000", "nan,6859990,650010,6860000", "1e999,0,1,1"]
)
def test_non_finite_area_is_a_clear_error_in_a_child_process(tmp_path: Path, scene, bounds: str) -> None:
    path, _, bundle = scene
    done = python_m(
        "predict", "--aerial", str(path), "--model", str(bundle), "--out", "x.tif", "--area", bounds,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "finite numbers" in done.stderr and "Hint:" in done.stderr
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    assert not (tmp_path / "x.tif").exists()


def test_bundle_with_an_impossible_reference_date_is_refused_naming_the_field(tmp_path: Path, scene) -> None:
    path, _, _ = scene
    spec = make_utt_bundle(tmp_path / "probe.onnx")
    data = spec.to_dict()
    data["inputs"]["sentinel2"]["reference_date"] = "02-30"
    make_utt_bundle(tmp_path / "bad.onnx", metadata=json.dumps(data))
    (tmp_path / "s2").mkdir()
    for args in (("info", str(tmp_path / "bad.onnx")), (
        "predict", "--aerial", str(path), "--sentinel2", "s2", "--model", "bad.onnx", "--out", "x.tif"
    )):  # fmt: skip
        done = python_m(*args, cwd=tmp_path)
        assert done.returncode == 1, done.stdout
        assert "inputs.sentinel2.reference_date" in done.stderr and "02-30" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.tif").exists()


def test_info_and_devices(tmp_path: Path, scene) -> None:
    _, _, bundle = scene
    code, out, _ = call("info", str(bundle))
    assert code == 0
    assert "known-answer test model" in out and "tiles 32 x 32 px" in out and "#db0e9a" in out
    code, out, _ = call("devices")
    assert code == 0 and "CPUExecutionProvider" in out and "--device auto uses" in out
    code, _, err = call("info", str(tmp_path / "missing.onnx"))
    assert code == 1 and "does not exist" in err


def test_help_lists_every_option(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["predict", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--aerial",
        "--sentinel2",
        "--model",
        "--out",
        "--area",
        "--area-file",
        "--device",
        "--overlap",
        "--batch-size",
        "--threads",
        "--confidence",
        "--probabilities",
        "--cog",
        "--overwrite",
        "--lang",
    ):
        assert option in text


def test_parsers() -> None:
    assert parse_aerial(["ortho.tif"]) == "ortho.tif"
    assert parse_aerial(["C:/data/rgb.tif:1,2,3", "irc.tif:1"]) == [
        ("C:/data/rgb.tif", 1), ("C:/data/rgb.tif", 2), ("C:/data/rgb.tif", 3), ("irc.tif", 1)
    ]  # fmt: skip
    with pytest.raises(InputError, match="give the bands"):
        parse_aerial(["rgb.tif:1,2,3", "irc.tif"])
    area = parse_area("650000,6860000,650010,6860010 @ EPSG:2154", "EPSG:3857")
    assert area.crs == "EPSG:2154" and area.bounds_in("EPSG:2154") == (650000, 6860000, 650010, 6860010)
    assert parse_area("1,2,3,4", "EPSG:3857").crs == "EPSG:3857"


def test_main_module_does_not_import_qgis() -> None:
    code = (
        "import sys, flair_qgis.__main__, flair_qgis.cli, flair_qgis.core.predict;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6', 'torch')];"
        "sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- concurrent runs, signals, killed runs (real processes, real signals) ------------------------------


def start_predict(tmp_path: Path, scene, out: str, *extra: str) -> subprocess.Popen:
    path, _, bundle = scene
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-m", "flair_qgis", "predict", "--aerial", str(path), "--model", str(bundle),
         "--out", out, "--threads", "1", "--quiet", *extra],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_file(folder: Path, pattern: str, process: subprocess.Popen, timeout: float = 60) -> Path:
    """The first file matching `pattern` in `folder` once `process` has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    raise AssertionError(f"no {pattern} in {folder}")


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_second_run_on_the_same_output_is_refused_at_once(tmp_path: Path, scene) -> None:
    first = start_predict(tmp_path, scene, "map.tif")
    wait_for_file(tmp_path, ".map.tif.partial-*", first)
    first.send_signal(signal.SIGSTOP)  # holds its lock, frozen mid-run
    try:
        for extra in ((), ("--overwrite",)):
            second = python_m("predict", "--aerial", str(scene[0]), "--model", str(scene[2]), "--out",
                              "map.tif", *extra, cwd=tmp_path)  # fmt: skip
            assert second.returncode == 1, second.stderr
            assert f"Error: Another run is writing map.tif (process {first.pid} on" in second.stderr
            assert "Hint: Wait for it to finish" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    with rasterio.open(tmp_path / "map.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected_classes(scene[1]))
    assert hidden(tmp_path) == []


def test_sigterm_cancels_like_ctrl_c_and_leaves_nothing(tmp_path: Path, scene) -> None:
    (tmp_path / "map.tif").write_bytes(b"previous map")
    run = start_predict(tmp_path, scene, "map.tif", "--overwrite", "--confidence")
    wait_for_file(tmp_path, ".map.confidence.tif.partial-*", run)
    run.send_signal(signal.SIGSTOP)
    run.send_signal(signal.SIGTERM)
    run.send_signal(signal.SIGCONT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143, err
    assert "Cancelled by signal SIGTERM" in err and "Traceback" not in err
    assert hidden(tmp_path) == []
    assert (tmp_path / "map.tif").read_bytes() == b"previous map"


def test_the_next_run_cleans_what_a_killed_run_left_but_not_a_live_runs_files(tmp_path: Path, scene) -> None:
    live = start_predict(tmp_path, scene, "live.tif")
    live_partial = wait_for_file(tmp_path, ".live.tif.partial-*", live)
    live.send_signal(signal.SIGSTOP)  # a live run, frozen with its partial file and its lock
    killed = start_predict(tmp_path, scene, "map.tif", "--confidence")
    wait_for_file(tmp_path, ".map.confidence.tif.partial-*", killed)
    killed.kill()
    killed.communicate(timeout=60)
    # Look-alikes no dead run of this program named: another program's, or one whose lock is gone.
    (tmp_path / ".notes.txt.partial-0123456789abcdef").write_text("not ours to remove")
    (tmp_path / ".map.tif.partial-fedcba9876543210").write_text("no lock names it")
    left = [name for name in hidden(tmp_path) if "0123456789abcdef" not in name and "fedcba98" not in name]
    assert ".map.tif.lock" in left and sum(".partial-" in name for name in left) == 3
    try:
        # Another run in the same folder, on another output: it cleans the killed run's files only.
        done = python_m("predict", "--aerial", str(scene[0]), "--model", str(scene[2]), "--out", "other.tif",
                        cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (
            f"2 partial file(s) left by an interrupted run (process {killed.pid}) were removed" in done.stdout
        )
        assert hidden(tmp_path) == sorted([
            ".live.tif.lock", live_partial.name, ".map.tif.partial-fedcba9876543210",
            ".notes.txt.partial-0123456789abcdef"])  # fmt: skip
    finally:
        live.send_signal(signal.SIGCONT)
    assert live.wait(timeout=120) == 0
    assert hidden(tmp_path) == [".map.tif.partial-fedcba9876543210", ".notes.txt.partial-0123456789abcdef"]
    assert not (tmp_path / "map.tif").exists()


def test_output_mistakes_are_one_clear_line_with_a_hint(tmp_path: Path, scene) -> None:
    path, _, bundle = scene
    (tmp_path / "map.stats.json").mkdir()
    (tmp_path / "elsewhere.txt").write_text("keep")
    (tmp_path / "link.tif").symlink_to(tmp_path / "elsewhere.txt")
    cases = {
        ("--out", str(tmp_path / "map.tif"), "--overwrite"): "map.stats.json is a folder",
        ("--out", str(path), "--overwrite"): "is also an input of the run",
        ("--out", str(tmp_path / "link.tif"), "--overwrite"): "is a symbolic link",
        ("--out", str(tmp_path / "ortho.qml")): "must be a GeoTIFF",
    }
    for extra, message in cases.items():
        code, _, err = call("predict", "--aerial", str(path), "--model", str(bundle), *extra)
        assert code == 1 and message in err, err
        lines = err.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), err
    assert (tmp_path / "elsewhere.txt").read_text() == "keep"
    assert hidden(tmp_path) == []
