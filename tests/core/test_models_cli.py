"""`python -m flair_qgis models` and `models download` in a child process, against a loopback server,
and `info`'s provenance lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.bundles import make_aerial_bundle
from tests.core.test_models_download import catalogue_text, entry_dict
from tests.models_server import Route, Server

REPO = Path(__file__).resolve().parents[2]
_WITHOUT_TRAINING = (
    "import sys; sys.modules['flair_training'] = None; from flair_qgis.cli import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def python_m(*args: str, cwd: Path, training: bool = True) -> subprocess.CompletedProcess:
    paths = [str(REPO)] + ([str(REPO / "training")] if training else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), FLAIR_QGIS_CATALOGUE="")
    # without the training package: flair_training made unimportable in the child (it may be installed)
    command = ["-m", "flair_qgis"] if training else ["-c", _WITHOUT_TRAINING, "models"]
    return subprocess.run(
        [sys.executable, *command, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_models_list_and_download_through_the_cli(tmp_path) -> None:
    bundle = tmp_path / "src.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    body = bundle.read_bytes()
    server = Server().start()
    try:
        server.routes["/m.onnx"] = Route(body)
        server.routes["/catalogue.json"] = Route(catalogue_text(entry_dict("m.onnx", body)).encode())
        url = server.url("/catalogue.json")
        dest = tmp_path / "models"
        listed = python_m("models", "--catalogue", url, "--dest", str(dest), cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        row = next(line for line in listed.stdout.splitlines() if line.startswith("test-unet"))
        assert "aerial" in row and "13" in row and "CC-BY-4.0" in row and row.rstrip().endswith("no")
        got = python_m(
            "models", "download", "test-unet", "--catalogue", url, "--dest", str(dest), cwd=tmp_path
        )
        assert got.returncode == 0, got.stderr
        assert "SHA-256 verified" in got.stdout and (dest / "test-unet.onnx").read_bytes() == body
        listed = python_m("models", "--catalogue", url, "--dest", str(dest), cwd=tmp_path)
        assert (
            next(line for line in listed.stdout.splitlines() if line.startswith("test-unet"))
            .rstrip()
            .endswith("yes")
        )
        missing = python_m(
            "models", "download", "nope", "--catalogue", url, "--dest", str(dest), cwd=tmp_path
        )
        assert missing.returncode == 1 and "No model called 'nope'" in missing.stderr
        assert "Traceback" not in missing.stderr
    finally:
        server.stop()


def test_checkpoint_download_without_the_training_package_says_what_to_run(tmp_path) -> None:
    body = b"checkpoint bytes" * 500
    server = Server().start()
    try:
        server.routes["/w.pth"] = Route(body)
        catalogue = tmp_path / "team.json"
        catalogue.write_text(
            catalogue_text(entry_dict(server.url("/w.pth"), body, name="inc", format="flair-inc-pth"))
        )
        dest = tmp_path / "models"
        got = python_m("download", "inc", "--catalogue", str(catalogue), "--dest", str(dest),
                       cwd=tmp_path, training=False)  # fmt: skip
    finally:
        server.stop()
    assert got.returncode == 1
    assert "flair-train import-checkpoint" in got.stdout and "downloaded and verified" in got.stdout
    assert (dest / "checkpoints" / "w.pth").read_bytes() == body and not (dest / "inc.onnx").exists()


def test_bad_catalogue_field_is_named_on_the_cli(tmp_path) -> None:
    bad = entry_dict("https://example.org/m.onnx", b"x", size="big")
    catalogue = tmp_path / "bad.json"
    catalogue.write_text(json.dumps({"format": "flair-qgis-catalogue", "version": 1, "models": [bad]}))
    got = python_m("models", "--catalogue", str(catalogue), cwd=tmp_path)
    assert got.returncode == 1 and "models[0].size" in got.stderr and "Traceback" not in got.stderr


def test_entry_prints_the_true_size_and_checksum(tmp_path) -> None:
    bundle = tmp_path / "utt.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    got = python_m("models", "entry", str(bundle), "--name", "team-unet", "--url", "https://example.org/u.onnx",
                   "--licence", "CC-BY-4.0", cwd=tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stderr
    entry = json.loads(got.stdout)
    import hashlib

    assert entry["sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert entry["size"] == bundle.stat().st_size and entry["classes"] == 13 and entry["inputs"] == ["aerial"]
    assert entry["precision"] == "fp32"  # from the bundle's own metadata


def test_info_shows_provenance_key_by_key(tmp_path) -> None:
    bundle = tmp_path / "b.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    got = python_m("info", str(bundle), cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "Provenance" in got.stdout and "Generated by: tests/bundles.py" in got.stdout
    assert "(unet, fp32)" in got.stdout  # the precision, on the Model line
