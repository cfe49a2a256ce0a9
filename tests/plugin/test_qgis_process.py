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
def test_sigterm_cancels_qgis_process_and_a_killed_ones_files_are_cleaned_by_the_next_run(tmp_path):
    import signal
    import subprocess
    import time

    from tests.qgis_profile import QGIS_PROCESS, qgis_environment

    aerial = write_geotiff(tmp_path / "ortho.tif", np.tile(scene_bands(), (1, 8, 8)))  # 1024 x 1024 px
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=32)
    profiles = make_profile(tmp_path / "qgis")
    (profiles / "runtime").mkdir(mode=0o700, exist_ok=True)
    output = tmp_path / "landcover.tif"
    output.write_bytes(b"the previous map")

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [QGIS_PROCESS, "run", "flair:landcover", "--", f"AERIAL={aerial}", f"BUNDLE={bundle}", "DEVICE=2",
             "BATCH_SIZE=1", f"OUTPUT={output}"],
            env=qgis_environment(profiles), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait_for_partial(process: subprocess.Popen) -> None:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".landcover.tif.partial-*")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)

    def hidden() -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))

    run = start()
    wait_for_partial(run)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=120)
    assert run.returncode != 0 and "cancelled" in (out + err).lower(), out + err
    assert hidden() == [] and output.read_bytes() == b"the previous map"

    killed = start()
    wait_for_partial(killed)
    killed.kill()
    killed.communicate(timeout=60)
    assert ".landcover.tif.lock" in hidden()
    done = run_qgis_process(
        profiles, "run", "flair:landcover", "--", f"AERIAL={aerial}", f"BUNDLE={bundle}", "DEVICE=2",
        f"OUTPUT={tmp_path / 'next.tif'}", timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "left by an interrupted run" in done.stdout + done.stderr
    assert hidden() == [] and output.read_bytes() == b"the previous map"


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


@pytest.mark.slow
def test_qgis_process_pushes_the_warnings_and_writes_them_in_the_statistics_file(tmp_path):
    random = np.random.default_rng(5).integers(0, 256, scene_bands().shape, dtype=np.uint8)
    aerial = write_geotiff(tmp_path / "ortho.tif", random)
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    (tmp_path / "s2").mkdir()
    output = tmp_path / "landcover.tif"
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles, "run", "flair:landcover", "--", f"AERIAL={aerial}", f"BUNDLE={bundle}", "DEVICE=2",
        f"SENTINEL2={tmp_path / 's2'}", f"OUTPUT={output}", timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    warning = "The model is aerial-only: the Sentinel-2 folder is not used."
    assert warning in done.stdout + done.stderr
    document = json.loads((tmp_path / "landcover.stats.json").read_text(encoding="utf-8"))
    assert document["warnings"] == [warning]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "8-bit-in-16-bit",
            "ortho.tif: its values lie in 40..200, a small part of what its uint16 type holds",
        ),
        ("web-mercator", "EPSG:3857 stretches ground distances by 1.52 here"),
        ("mostly-nodata", "Only 25% of the area has aerial data"),
    ],
)
def test_qgis_process_warns_of_misleading_input_in_the_feedback_and_the_statistics_file(
    tmp_path, case, expected
):
    import rasterio.warp
    from affine import Affine

    bands = scene_bands()
    if case == "8-bit-in-16-bit":
        aerial = write_geotiff(tmp_path / "ortho.tif", bands.astype(np.uint16))
    elif case == "web-mercator":  # 0.3 m of EPSG:3857 in Paris: 0.2 m on the ground
        xs, ys = rasterio.warp.transform("EPSG:4326", "EPSG:3857", [2.35], [48.85])
        aerial = tmp_path / "ortho.tif"
        profile = {"driver": "GTiff", "width": bands.shape[2], "height": bands.shape[1], "count": 5,
                   "dtype": "uint8", "crs": "EPSG:3857", "transform": Affine(0.3, 0, xs[0], 0, -0.3, ys[0])}  # fmt: skip
        with rasterio.open(aerial, "w", **profile) as written:
            written.write(bands)
    else:
        bands[:, :, : bands.shape[2] * 3 // 4] = 0  # no data on the left three quarters
        aerial = write_geotiff(tmp_path / "ortho.tif", bands, nodata=0)
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    output = tmp_path / "landcover.tif"
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles, "run", "flair:landcover", "--", f"AERIAL={aerial}", f"BUNDLE={bundle}", "DEVICE=2",
        f"OUTPUT={output}", timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    document = json.loads((tmp_path / "landcover.stats.json").read_text(encoding="utf-8"))
    assert any(
        warning.startswith(expected) or f"/{expected}" in warning for warning in document["warnings"]
    ), document["warnings"]
    for warning in document["warnings"]:
        assert warning in done.stdout + done.stderr


def area_layer(path, ring) -> str:
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
        "features": [feature],
    }
    path.write_text(json.dumps(collection), encoding="utf-8")
    return f"AREA={path}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("all-nodata", "No aerial pixel has data in the area: the map would be empty; nothing was written."),
        ("zero-width-extent", "The area's bounds are empty or inverted"),
        ("zero-area-polygon", "area's polygon has no area"),
    ],
)
def test_qgis_process_refuses_what_would_give_an_empty_map(tmp_path, case, message):
    from .rasters import ORIGIN

    bands = np.zeros_like(scene_bands()) if case == "all-nodata" else scene_bands()
    aerial = write_geotiff(tmp_path / "ortho.tif", bands, nodata=0)
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=64)
    output = tmp_path / "landcover.tif"
    output.write_bytes(b"the previous map")
    x, y = ORIGIN
    area = {
        "all-nodata": [],
        "zero-width-extent": [f"EXTENT={x + 1},{x + 1},{y - 9},{y - 1} [EPSG:2154]"],
        "zero-area-polygon": [
            area_layer(tmp_path / "line.geojson", [[x + 1, y - 1], [x + 5, y - 5], [x + 1, y - 1]])
        ],
    }[case]
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles, "run", "flair:landcover", "--", f"AERIAL={aerial}", f"BUNDLE={bundle}", "DEVICE=2", *area,
        f"OUTPUT={output}", timeout=120,
    )  # fmt: skip

    assert done.returncode != 0
    assert message in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert output.read_bytes() == b"the previous map"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("landcover")) == ["landcover.tif"]


@pytest.mark.slow
def test_qgis_process_names_the_missing_source_of_a_vrt(tmp_path):
    from tests.core.test_misleading_input import write_mosaic

    mosaic = write_mosaic(tmp_path)
    (tmp_path / "tiles" / "right.tif").unlink()
    bundle = tmp_path / "aerial.onnx"
    make_aerial_bundle(bundle, tile_size=32)
    output = tmp_path / "landcover.tif"
    profiles = make_profile(tmp_path / "qgis")

    done = run_qgis_process(
        profiles, "run", "flair:landcover", "--", f"AERIAL={mosaic}", f"BUNDLE={bundle}", "DEVICE=2",
        f"OUTPUT={output}", timeout=120,
    )  # fmt: skip

    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert f"it refers to {tmp_path / 'tiles' / 'right.tif'}, which does not exist" in said, said[-2000:]
    assert "rebuild the VRT (gdalbuildvrt)" in said and "See previous exception" not in said
    assert not output.exists()
