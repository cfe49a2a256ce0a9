"""One GDAL, one map: the same aerial layers and the same Sentinel-2 product (an ESA Level-2A product in
UTM, warped onto the map's Lambert-93 grid) give the same map and the same confidence, to the bit, through
the dialog, Processing, `qgis_process` and the command line; and the `qgis_process` run holds one GDAL
library, QGIS's own. Run on every QGIS the plugin is tested on (3.22, 3.40, 3.44)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from flair_qgis.core.gdal_runtime import mapped_gdal_libraries
from flair_qgis.gui.dialog import FlairDialog
from tests.one_gdal import VINEYARD, qgis_process_watching_gdal, sentinel2_bundle, utm_product
from tests.qgis_profile import make_profile

from .conftest import wait_for_scan
from .test_run import wait_for


@pytest.fixture
def inputs(scene):
    """The scene's layers, the UTM product under them, and a U-T&T bundle that both steer."""
    return scene, utm_product(scene.folder / "s2"), sentinel2_bundle(scene.folder / "utt.onnx")


def read(path: Path) -> tuple[np.ndarray, object, object]:
    with rasterio.open(path) as dataset:
        return dataset.read(), dataset.transform, dataset.crs


def assert_same(reference: Path, other: Path) -> None:
    data, transform, crs = read(reference)
    other_data, other_transform, other_crs = read(other)
    assert (other_transform, other_crs) == (transform, crs), other
    np.testing.assert_array_equal(other_data, data, err_msg=str(other))


@pytest.mark.slow
def test_dialog_processing_qgis_process_and_command_line_make_the_same_map(
    inputs, flair_provider, qgis_iface
):
    import processing

    scene, sentinel2, bundle = inputs
    paths = {layer: Path(layer.source()) for layer in (scene.rgb, scene.irc, scene.elevation)}
    runs = {name: (scene.folder / f"{name}.tif", scene.folder / f"{name}.confidence.tif")
            for name in ("dialog", "processing", "qgis_process", "cli")}  # fmt: skip

    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(bundle))
    dialog.sentinel2.folder_widget.setFilePath(str(sentinel2))
    wait_for_scan(dialog)
    dialog.outputs.file_widget.setFilePath(str(runs["dialog"][0]))
    dialog.outputs.checks["confidence"].setChecked(True)
    dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
    assert dialog.check() == []
    dialog.run()
    task = dialog.task
    wait_for(task)
    assert task.error is None, str(task.error)
    dialog.deleteLater()

    common = {"SENTINEL2": str(sentinel2), "BUNDLE": str(bundle), "DEVICE": 2}
    processing.run(
        "flair:landcover",
        {"AERIAL": scene.rgb, "NIR_LAYER": scene.irc, "ELEVATION_LAYER": scene.elevation, **common,
         "OUTPUT": str(runs["processing"][0]), "CONFIDENCE": str(runs["processing"][1])},
    )  # fmt: skip

    layers = {
        "AERIAL": paths[scene.rgb],
        "NIR_LAYER": paths[scene.irc],
        "ELEVATION_LAYER": paths[scene.elevation],
    }
    arguments = [f"{key}={value}" for key, value in {**layers, **common}.items()]
    arguments += [f"OUTPUT={runs['qgis_process'][0]}", f"CONFIDENCE={runs['qgis_process'][1]}"]
    log = scene.folder / "qgis_process.log"
    code, libraries = qgis_process_watching_gdal(
        make_profile(scene.folder / "qgis"), ["run", "flair:landcover", "--", *arguments], log
    )
    assert code == 0, log.read_text()[-3000:]

    cli = subprocess.run(
        [sys.executable, "-m", "flair_qgis", "predict", "--quiet", "--device", "cpu", "--confidence",
         "--aerial", f"{paths[scene.rgb]}:1,2,3", "--aerial", f"{paths[scene.irc]}:1",
         "--aerial", f"{paths[scene.elevation]}:1", "--sentinel2", str(sentinel2), "--model", str(bundle),
         "--out", str(runs["cli"][0])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr

    # The Sentinel-2 series reached the model and its pixels matter: vineyard (from the series) beside
    # aerial classes, and a confidence that changes from tile to tile with the windows' reflectance.
    reference_classes, reference_confidence = runs["processing"]
    assert VINEYARD in read(reference_classes)[0] and np.unique(read(reference_classes)[0]).size > 1
    assert np.unique(read(reference_confidence)[0]).size > 2
    for classes, confidence_path in runs.values():
        assert_same(reference_classes, classes)
        assert_same(reference_confidence, confidence_path)

    # One GDAL in the qgis_process run: the very library this QGIS (this test process) runs on.
    own = mapped_gdal_libraries()
    assert own is not None and len(own) == 1, own
    assert libraries == set(own), libraries
