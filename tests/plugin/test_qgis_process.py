"""`flair:landcover` through the real `qgis_process.bin` with the plugin installed in a throw-away
profile, as a script or a scheduler would run it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from tests.bundles import make_aerial_bundle
from tests.qgis_profile import make_profile, run_qgis_process

from .conftest import expected_classes, scene_bands
from .rasters import write_geotiff


@pytest.mark.slow
def test_qgis_process_runs_the_algorithm(tmp_path):
    bands = scene_bands()
    aerial = write_geotiff(tmp_path / "ortho_rvbie.tif", bands)  # one 5-band image: the defaults apply
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    output = tmp_path / "out" / "landcover.tif"
    output.parent.mkdir()
    statistics = tmp_path / "out" / "statistics.csv"
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles,
        *("--json", "run", "flair:landcover", "--", f"AERIAL={aerial}", f"BUNDLE={bundle}", "DEVICE=2"),
        *(f"OUTPUT={output}", f"STATISTICS={statistics}"),
        timeout=120,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    answer = json.loads(done.stdout[done.stdout.index("{") :])
    assert answer["results"]["OUTPUT"] == str(output)
    with rasterio.open(output) as written:
        np.testing.assert_array_equal(written.read(1), expected_classes())
    assert statistics.read_text().startswith("code,class,hectares,percent")


@pytest.mark.slow
def test_qgis_process_reports_a_bad_bundle_and_writes_nothing(tmp_path):
    aerial = write_geotiff(tmp_path / "ortho.tif", scene_bands())
    bundle = tmp_path / "broken.onnx"
    bundle.write_bytes(b"not an onnx model")
    output = tmp_path / "landcover.tif"
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles,
        "run",
        "flair:landcover",
        "--",
        f"AERIAL={aerial}",
        f"BUNDLE={bundle}",
        f"OUTPUT={output}",
        timeout=120,
    )

    assert done.returncode != 0
    assert "broken.onnx" in done.stdout + done.stderr
    assert not output.exists()


@pytest.mark.slow
def test_qgis_process_runs_polygonize(tmp_path):
    from qgis.core import QgsVectorLayer

    from .results import write_result

    classes = np.full((80, 80), 6, np.uint8)
    classes[:, 40:] = 10
    classes[5:7, 5:7] = 1  # 4 px: under the 1 m² (25 px) minimum mapping unit
    result = write_result(tmp_path / "map.tif", classes)
    output = tmp_path / "polygons.gpkg"
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles,
        *("--json", "run", "flair:polygonize", "--", f"CLASSES={result.classes}", "MMU=1"),
        f"OUTPUT={output}",
        timeout=120,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    answer = json.loads(done.stdout[done.stdout.index("{") :])
    assert answer["results"]["POLYGONS"] == 2
    layer = QgsVectorLayer(f"{output}|layername=land_cover", "polygons", "ogr")
    assert sorted(f["code"] for f in layer.getFeatures()) == [6, 10]
    assert sum(f["area_m2"] for f in layer.getFeatures()) == pytest.approx(80 * 80 * 0.04)
