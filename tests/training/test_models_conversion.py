"""A FLAIR-INC checkpoint downloaded from a catalogue (real loopback server) is verified and converted
into a bundle by the training package's converter; runs where that converter exists."""

from __future__ import annotations

import hashlib

import pytest

checkpoints = pytest.importorskip("flair_training.checkpoints")
if not hasattr(checkpoints, "convert_flair_inc"):
    pytest.skip("this training package has no FLAIR-INC converter", allow_module_level=True)

from flair_qgis.core.bundle import load_bundle  # noqa: E402
from flair_qgis.core.models.download import download_model  # noqa: E402
from tests.core.test_models_download import entry_for  # noqa: E402
from tests.models_server import Route, Server  # noqa: E402


def test_downloaded_flair_inc_weights_become_a_bundle(tmp_path) -> None:
    writer = pytest.importorskip("tests.training.test_checkpoint_import").write_flair_inc_weights
    weights = writer(tmp_path / "FLAIR-INC_rgbie_15cl_resnet34-unet_weights.pth")
    body = weights.read_bytes()
    server = Server().start()
    try:
        server.routes["/w.pth"] = Route(body)
        entry = entry_for(
            server, "/w.pth", body, name="ign-inc", format="flair-inc-pth", licence="Etalab-2.0"
        )
        result = download_model(entry, tmp_path / "models", convert_options={"tile_size": 64})
    finally:
        server.stop()
    assert result.bundle == tmp_path / "models" / "ign-inc.onnx"
    provenance = load_bundle(result.bundle).spec.provenance
    assert provenance["licence"] == "Etalab-2.0"
    assert provenance["checkpoint_sha256"] == hashlib.sha256(body).hexdigest()
