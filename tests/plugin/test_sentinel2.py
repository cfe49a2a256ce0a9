"""U-T&T bundles in the plugin: the dialog asks for and summarises the Sentinel-2 folder, and the
Sentinel-2 series reaches the model through Processing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis.core import QgsApplication

from flair_qgis.gui.dialog import FlairDialog
from tests.bundles import make_utt_bundle
from tests.data.sentinel2.generate import write_geotiff_date

from .conftest import SIZE, wait_for_scan
from .test_run import wait_for

VINEYARD = 9


def write_sentinel2(folder, dates=("2021-03-10", "2021-05-20", "2021-07-05")):
    """Per-date 10 m GeoTIFFs covering the scene with a margin, every band 500, no cloud."""
    folder.mkdir()
    bounds = (650800.0, 6861800.0, 651200.0, 6862200.0)
    for day in dates:
        data = np.full((10, 40, 40), 500, np.float32)
        write_geotiff_date(
            folder / f"S2_{day}.tif", "EPSG:2154", bounds, data, np.zeros((2, 40, 40), np.uint8)
        )
    return folder


@pytest.fixture
def utt_bundle(scene):
    """A U-T&T-shaped bundle whose vineyard logit is -10 + 0.03 x the window's max B2 (+5 here, above the
    aerial classes): the map is all vineyard exactly when the Sentinel-2 series reaches the model."""
    weights = np.zeros(13, np.float32)
    weights[VINEYARD - 1] = 0.03
    path = scene.folder / "utt.onnx"
    make_utt_bundle(path, tile_size=64, sentinel2_window=8, sentinel2_weights=weights)
    return path


def test_dialog_asks_for_and_summarises_the_sentinel2_folder(scene, utt_bundle, qgis_iface):
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(utt_bundle))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    assert not dialog.sentinel2.isHidden()
    assert dialog.check() == ["Choose the Sentinel-2 folder."]

    empty = scene.folder / "empty"
    empty.mkdir()
    dialog.sentinel2.folder_widget.setFilePath(str(empty))
    assert dialog.check() == ["Reading the Sentinel-2 folder…"]
    wait_for_scan(dialog)
    problems = dialog.check()
    assert len(problems) == 1 and problems[0].startswith("Sentinel-2:")

    dialog.sentinel2.folder_widget.setFilePath(str(write_sentinel2(scene.folder / "s2")))
    wait_for_scan(dialog)
    assert dialog.check() == []
    assert "3" in dialog.sentinel2.summary.text()
    assert dialog.request().sentinel2.folder == scene.folder / "s2"  # the catalog of the scan shown
    dialog.deleteLater()


def test_a_dialog_run_opens_the_bundle_and_scans_the_sentinel2_folder_once(
    scene, utt_bundle, qgis_iface, monkeypatch
):
    """Choosing the bundle reads its description and choosing the folder scans it; the run is handed
    both and reads neither again (the ONNX Runtime session that runs the model is the only other open)."""
    from flair_qgis.core import bundle as bundle_module
    from flair_qgis.core.sentinel2 import catalog as catalog_module

    opened, scanned = [], []
    open_session, scanner = bundle_module._open_session, catalog_module._Scanner.__init__
    monkeypatch.setattr(
        bundle_module, "_open_session", lambda path: opened.append(path) or open_session(path)
    )
    monkeypatch.setattr(
        catalog_module._Scanner, "__init__", lambda self, root: scanned.append(root) or scanner(self, root)
    )
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(utt_bundle))
    dialog.sentinel2.folder_widget.setFilePath(str(write_sentinel2(scene.folder / "s2")))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
    wait_for_scan(dialog)
    assert dialog.check() == []
    dialog.run()
    wait_for(dialog.task)
    assert dialog.last_task.error is None, str(dialog.last_task.error)
    with rasterio.open(scene.folder / "landcover.tif") as written:  # the series reached the model
        np.testing.assert_array_equal(written.read(1), np.full((SIZE, SIZE), VINEYARD, np.uint8))
    assert [Path(p) for p in opened] == [utt_bundle]
    assert [Path(p) for p in scanned] == [scene.folder / "s2"]
    dialog.deleteLater()


def test_processing_feeds_the_sentinel2_series_to_the_model(scene, utt_bundle, flair_provider):
    import processing

    output = scene.folder / "utt.tif"
    processing.run(
        "flair:landcover",
        {
            "AERIAL": scene.rgb,
            "NIR_LAYER": scene.irc,
            "ELEVATION_LAYER": scene.elevation,
            "SENTINEL2": str(write_sentinel2(scene.folder / "s2")),
            "BUNDLE": str(utt_bundle),
            "DEVICE": 2,
            "OUTPUT": str(output),
        },
    )
    with rasterio.open(output) as written:
        np.testing.assert_array_equal(written.read(1), np.full((SIZE, SIZE), VINEYARD, np.uint8))


def test_cloud_cover_over_the_area_is_shown_per_date(scene, utt_bundle, qgis_iface):
    folder = write_sentinel2(scene.folder / "s2", dates=("2021-04-02", "2021-06-11"))
    cloudy = np.full((10, 40, 40), 500, np.float32)
    masks = np.zeros((2, 40, 40), np.uint8)
    masks[1, :, :30] = 80  # cloud over the western three quarters of the tile, i.e. the whole scene
    write_geotiff_date(folder / "S2_2021-08-20.tif", "EPSG:2154", (650800.0, 6861800.0, 651200.0, 6862200.0),
                       cloudy, masks)  # fmt: skip
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(utt_bundle))
    dialog.sentinel2.folder_widget.setFilePath(str(folder))
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
    wait_for_scan(dialog)
    assert dialog.check() == []

    dialog.show_cloud_cover()
    task_done = time.monotonic() + 30
    while dialog.sentinel2.cloud_task is not None and time.monotonic() < task_done:
        QgsApplication.processEvents()
        time.sleep(0.01)

    lines = dialog.sentinel2.cloud_label.text().splitlines()
    assert "2 of 3 dates under 50 %" in lines[0]
    assert lines[1].split() == ["2021-04-02", "0", "%"]
    assert lines[3].split()[:3] == ["2021-08-20", "100", "%"] and lines[3].endswith("(cloudy)")
    dialog.deleteLater()
