"""Catalogue reading and verified downloads, against a real HTTP server on the loopback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from flair_qgis.core.bundle import load_bundle
from flair_qgis.core.errors import Cancelled, FlairError
from flair_qgis.core.models.catalogue import (
    CatalogueError,
    load_catalogues,
    parse_catalogue,
    read_catalogue_file,
    shipped_catalogue_path,
)
from flair_qgis.core.models.download import (
    DownloadError,
    download_model,
    fetch_catalogue,
    partial_path,
)
from tests.bundles import make_aerial_bundle
from tests.models_server import Route, Server


@pytest.fixture(scope="module")
def bundle_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("bundle") / "aerial.onnx"
    make_aerial_bundle(path, tile_size=64)
    return path.read_bytes()


@pytest.fixture
def server():
    started = Server().start()
    yield started
    started.stop()


def entry_dict(url: str, body: bytes, name: str = "test-unet", **changes) -> dict:
    data = {
        "name": name,
        "task": "land-cover segmentation",
        "inputs": ["aerial"],
        "classes": 13,
        "licence": "CC-BY-4.0",
        "url": url,
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "format": "onnx",
        "description": "a 1x1 convolution test bundle",
    }
    data.update(changes)
    return data


def catalogue_text(*entries: dict) -> str:
    return json.dumps({"format": "flair-qgis-catalogue", "version": 1, "models": list(entries)})


def entry_for(server: Server, path: str, body: bytes, **changes):
    return parse_catalogue(catalogue_text(entry_dict(server.url(path), body, **changes))).entries[0]


def leftovers(dest: Path) -> list[str]:
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


def test_download_verifies_and_installs_a_bundle_that_loads(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(bundle_bytes)
    entry = entry_for(server, "/m.onnx", bundle_bytes)
    seen: list[tuple[int, int]] = []
    result = download_model(entry, tmp_path, progress=lambda done, total, _: seen.append((done, total)))
    assert result.bundle == tmp_path / "test-unet.onnx"
    assert result.bundle.read_bytes() == bundle_bytes
    assert load_bundle(result.bundle).spec.aerial.tile_size == 64
    assert seen[-1] == (len(bundle_bytes), len(bundle_bytes)) and seen[0][0] == 0
    assert leftovers(tmp_path) == ["test-unet.onnx"]
    # installed: a second call makes no request
    count = len(server.requests)
    assert download_model(entry, tmp_path).bundle == result.bundle
    assert len(server.requests) == count


def test_wrong_checksum_is_refused_and_nothing_is_left(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(bundle_bytes)
    entry = entry_for(server, "/m.onnx", bundle_bytes, sha256="0" * 64)
    with pytest.raises(DownloadError, match="does not match the catalogue") as caught:
        download_model(entry, tmp_path)
    assert "not installed" in caught.value.message
    assert leftovers(tmp_path) == []


def test_truncated_transfer_keeps_the_part_and_resumes_with_range(server, bundle_bytes, tmp_path) -> None:
    half = len(bundle_bytes) // 2
    server.routes["/m.onnx"] = Route(bundle_bytes, cut_at=half)
    entry = entry_for(server, "/m.onnx", bundle_bytes)
    with pytest.raises(DownloadError, match="resumes where it stopped"):
        download_model(entry, tmp_path, attempts=1)
    assert not (tmp_path / "test-unet.onnx").exists()
    assert partial_path(entry, tmp_path).stat().st_size == half
    result = download_model(entry, tmp_path)
    assert result.resumed_from == half and result.bundle.read_bytes() == bundle_bytes
    assert server.requests[-1] == ("/m.onnx", f"bytes={half}-")
    assert leftovers(tmp_path) == ["test-unet.onnx"]


def test_automatic_resume_within_one_download(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(bundle_bytes, cut_at=1000, faults=2)
    entry = entry_for(server, "/m.onnx", bundle_bytes)
    result = download_model(entry, tmp_path, attempts=3)
    assert result.bundle.read_bytes() == bundle_bytes
    assert [r for _, r in server.requests] == [None, "bytes=1000-", "bytes=2000-"]


def test_server_gone_midway_then_resume(bundle_bytes, tmp_path) -> None:
    half = len(bundle_bytes) // 2
    first = Server().start()
    first.routes["/m.onnx"] = Route(bundle_bytes, cut_at=half, faults=99)
    entry = entry_for(first, "/m.onnx", bundle_bytes)
    original = first.routes["/m.onnx"]

    def stop_after_first_block(done: int, total: int, message: str) -> None:
        if done >= half:
            first.stop()

    with pytest.raises(DownloadError, match=f"{half} of"):
        download_model(entry, tmp_path, progress=stop_after_first_block)
    assert not (tmp_path / "test-unet.onnx").exists()
    again = Server(port=first.port).start()  # the server is back, at the same address
    try:
        again.routes["/m.onnx"] = Route(original.body)
        result = download_model(entry, tmp_path)
    finally:
        again.stop()
    assert result.resumed_from == half and result.bundle.read_bytes() == bundle_bytes
    assert again.requests == [("/m.onnx", f"bytes={half}-")]


def test_server_ignoring_range_restarts_cleanly(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(bundle_bytes, cut_at=2000, honour_range=False)
    entry = entry_for(server, "/m.onnx", bundle_bytes)
    result = download_model(entry, tmp_path)
    assert result.bundle.read_bytes() == bundle_bytes


def test_redirect_is_followed(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(bundle_bytes)
    server.routes["/latest"] = Route(status=302, location="/m.onnx")
    result = download_model(entry_for(server, "/latest", bundle_bytes), tmp_path)
    assert result.bundle.read_bytes() == bundle_bytes
    assert [p for p, _ in server.requests] == ["/latest", "/m.onnx"]


def test_redirect_to_plain_http_elsewhere_is_refused(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(status=302, location="http://example.org/m.onnx")
    with pytest.raises(DownloadError, match="plain http"):
        download_model(entry_for(server, "/m.onnx", bundle_bytes), tmp_path)
    assert leftovers(tmp_path) == []


def test_redirect_loop_is_bounded(server, bundle_bytes, tmp_path) -> None:
    server.routes["/a"] = Route(status=302, location="/b")
    server.routes["/b"] = Route(status=302, location="/a")
    with pytest.raises(DownloadError):
        download_model(entry_for(server, "/a", bundle_bytes), tmp_path)
    assert len(server.requests) <= 12


def test_404_is_a_clear_error(server, bundle_bytes, tmp_path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        download_model(entry_for(server, "/missing.onnx", bundle_bytes), tmp_path)
    assert "moved or been withdrawn" in caught.value.hint
    assert leftovers(tmp_path) == []


def test_cancel_keeps_only_the_part(server, bundle_bytes, tmp_path) -> None:
    server.routes["/m.onnx"] = Route(bundle_bytes)
    entry = entry_for(server, "/m.onnx", bundle_bytes)
    with pytest.raises(Cancelled):
        download_model(entry, tmp_path, cancelled=lambda: True)
    assert not (tmp_path / "test-unet.onnx").exists()


def test_catalogue_fields_are_validated_by_name(bundle_bytes) -> None:
    good = entry_dict("https://example.org/m.onnx", bundle_bytes)
    for change, field in (
        ({"sha256": "abc"}, "models[0].sha256"),
        ({"size": -1}, "models[0].size"),
        ({"format": "zip"}, "models[0].format"),
        ({"inputs": ["radar"]}, "models[0].inputs"),
        ({"url": "http://example.org/m.onnx"}, "models[0].url"),
        ({"licence": ""}, "models[0].licence"),
    ):
        with pytest.raises(CatalogueError) as caught:
            parse_catalogue(catalogue_text({**good, **change}))
        assert caught.value.field == field and f"'{field}'" in caught.value.message
    missing = dict(good)
    del missing["sha256"]
    with pytest.raises(CatalogueError, match=r"models\[0\]\.sha256"):
        parse_catalogue(catalogue_text(missing))
    with pytest.raises(CatalogueError, match="'version'"):
        parse_catalogue(json.dumps({"format": "flair-qgis-catalogue", "version": 9, "models": []}))


def test_catalogue_from_a_loopback_url_resolves_relative_urls(server, bundle_bytes, tmp_path) -> None:
    server.routes["/team/m.onnx"] = Route(bundle_bytes)
    text = catalogue_text(entry_dict("m.onnx", bundle_bytes))
    server.routes["/team/catalogue.json"] = Route(text.encode())
    catalogue = fetch_catalogue(server.url("/team/catalogue.json"))
    assert catalogue.entries[0].url == server.url("/team/m.onnx")
    merged = load_catalogues([server.url("/team/catalogue.json")])
    assert merged.sources[-1] == server.url("/team/catalogue.json")
    result = download_model(merged.find("test-unet"), tmp_path)
    assert result.bundle.read_bytes() == bundle_bytes


def test_catalogue_url_must_be_https_off_the_loopback() -> None:
    with pytest.raises(FlairError, match="plain http"):
        fetch_catalogue("http://example.org/catalogue.json")


def test_shipped_catalogue_is_valid_and_states_every_field() -> None:
    catalogue = read_catalogue_file(shipped_catalogue_path())
    assert "SHA-256" in catalogue.descriptions[0]
    for entry in catalogue.entries:
        assert entry.url.startswith("https://") and len(entry.sha256) == 64 and entry.size > 0


def test_checkpoint_without_the_training_converter_stays_verified_not_installed(
    server, tmp_path, monkeypatch
) -> None:
    body = b"not really a checkpoint, but its checksum is right" * 100
    server.routes["/w.pth"] = Route(body)
    entry = entry_for(server, "/w.pth", body, format="flair-inc-pth", name="ign-inc")
    result = download_model(entry, tmp_path, convert=False)
    assert result.bundle is None and result.downloaded == tmp_path / "checkpoints" / "w.pth"
    assert result.downloaded.read_bytes() == body
    assert "flair-train import-checkpoint" in result.conversion_message
    assert not (tmp_path / "ign-inc.onnx").exists()
