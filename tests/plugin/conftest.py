"""Fixtures of the plugin tests: the `flair` Processing provider, and a project holding a small real
scene (RGB ortho, IRC ortho, elevation model) whose land cover is known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

from tests.bundles import make_aerial_bundle

from .rasters import write_geotiff

#: Scene size in pixels (0.2 m): two 64 px model tiles across.
SIZE = 128
#: Known answer of the test bundle (class i+1 wins where band i is the brightest): one class per
#: quadrant (top-left, top-right, bottom-left, bottom-right) -> the brightest band there.
QUADRANT_BANDS = (0, 4, 1, 3)  # red, elevation, green, nir
QUADRANT_CODES = tuple(band + 1 for band in QUADRANT_BANDS)  # building, water, pervious, bare soil


def scene_bands() -> np.ndarray:
    """5 x SIZE x SIZE uint8 (R, G, B, NIR, elevation): 40 everywhere, 200 on each quadrant's band."""
    data = np.full((5, SIZE, SIZE), 40, np.uint8)
    half = SIZE // 2
    quadrants = ((slice(0, half), slice(0, half)), (slice(0, half), slice(half, SIZE)),
                 (slice(half, SIZE), slice(0, half)), (slice(half, SIZE), slice(half, SIZE)))  # fmt: skip
    for (rows, cols), band in zip(quadrants, QUADRANT_BANDS, strict=True):
        data[band, rows, cols] = 200
    return data


def expected_classes() -> np.ndarray:
    """SIZE x SIZE uint8: the class codes the test bundle must produce on the scene."""
    return (np.argmax(scene_bands(), axis=0) + 1).astype(np.uint8)


@dataclass
class Scene:
    folder: Path
    rgb: QgsRasterLayer
    irc: QgsRasterLayer
    elevation: QgsRasterLayer
    bundle: Path


@pytest.fixture
def scene(tmp_path, qgis_new_project) -> Scene:
    """A project with three real GeoTIFF layers composing the scene, and an aerial-only test bundle."""
    bands = scene_bands()
    rgb = write_geotiff(tmp_path / "ortho_rvb.tif", bands[[0, 1, 2]])
    irc = write_geotiff(tmp_path / "ortho_irc.tif", bands[[3, 0, 1]])
    mns = write_geotiff(tmp_path / "mns_2021.tif", bands[[4]])
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    layers = [QgsRasterLayer(str(p), p.stem) for p in (mns, irc, rgb)]
    assert all(layer.isValid() for layer in layers)
    QgsProject.instance().addMapLayers(layers)
    return Scene(tmp_path, layers[2], layers[1], layers[0], bundle)


@pytest.fixture(scope="module")
def flair_provider(qgis_processing):
    """The plugin's Processing provider, registered for one test module and removed after it."""
    from flair_qgis.processing.provider import FlairProvider

    registry = QgsApplication.processingRegistry()
    provider = FlairProvider()
    assert registry.addProvider(provider), "another 'flair' provider is registered"
    yield provider
    registry.removeProvider(provider)


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test starts with none of the plugin's remembered choices."""
    from qgis.core import QgsSettings

    QgsSettings().remove("flair_qgis")
    yield
    QgsSettings().remove("flair_qgis")


def wait_for_scan(dialog, timeout: float = 30.0) -> None:
    """Let the dialog's background scan of the Sentinel-2 folder finish."""
    import time

    deadline = time.monotonic() + timeout
    while dialog.sentinel2.scan_task is not None and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    assert dialog.sentinel2.scan_task is None, "the Sentinel-2 folder scan did not finish"


@pytest.fixture(scope="session", autouse=True)
def layer_tree_view(qgis_iface):
    """A real layer tree view of the project behind the test interface, for the whole session: QGIS >=
    3.44's Processing adds result layers through `iface.layerTreeView()` (also when a batch row finishes
    after its test), which the test interface does not provide."""
    from qgis.core import QgsLayerTreeModel
    from qgis.gui import QgsLayerTreeView

    view = QgsLayerTreeView()
    view.setModel(QgsLayerTreeModel(QgsProject.instance().layerTreeRoot()))
    qgis_iface.layerTreeView = lambda: view
    return view
