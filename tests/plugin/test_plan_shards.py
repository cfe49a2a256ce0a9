"""`flair:plan_shards` in the real QGIS: the plan an analyst prepares in QGIS names the aerial files and
bands composed from three layers, the workers' shards give the map one run gives, and the merged VRT opens in
QGIS styled with the palette and class names; a layer that is not a file is refused."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsProject, QgsRasterLayer

from .test_run import _landcover


def test_a_plan_made_in_qgis_runs_to_the_map_one_run_makes(scene, flair_provider):
    import processing

    from flair_qgis.core.shard_merge import merge_plan
    from flair_qgis.core.shard_run import run_shard
    from flair_qgis.core.shards import read_plan

    plan_path = scene.folder / "dept" / "plan.json"
    plan_path.parent.mkdir()
    answer = processing.run(
        "flair:plan_shards",
        {"AERIAL": scene.rgb, "NIR_LAYER": scene.irc, "ELEVATION_LAYER": scene.elevation,
         "BUNDLE": str(scene.bundle), "OUTPUT": str(plan_path)},
    )  # fmt: skip

    assert answer["OUTPUT"] == str(plan_path) and answer["SHARDS"] >= 1
    plan = read_plan(plan_path)
    assert [(p.rsplit("/", 1)[1], band) for p, band in plan.aerial] == [
        ("ortho_rvb.tif", 1), ("ortho_rvb.tif", 2), ("ortho_rvb.tif", 3), ("ortho_irc.tif", 1),
        ("mns_2021.tif", 1),
    ]  # fmt: skip
    for index in range(len(plan.shards)):
        run_shard(plan, index)
    merged = merge_plan(plan)

    single = scene.folder / "single.tif"
    _landcover(scene, OUTPUT=str(single))
    with rasterio.open(merged.vrt) as shards, rasterio.open(single) as one:
        assert np.array_equal(shards.read(1), one.read(1))
    layer = QgsRasterLayer(str(merged.vrt), "département")
    assert layer.isValid()
    assert layer.renderer().type() == "paletted"  # styled by the plan's .qml, as a dialog map is
    labels = {c.value: c.label for c in layer.renderer().classes()}
    assert labels[5] == "water" and len(labels) == 13


def test_a_plan_refuses_layers_its_workers_cannot_read(scene, flair_provider):
    import processing

    service = QgsRasterLayer("type=xyz&url=http://127.0.0.1:9/{z}/{x}/{y}.png", "tiles", "wms")
    QgsProject.instance().addMapLayer(service)
    with pytest.raises(QgsProcessingException, match="not a local raster file"):
        processing.run(
            "flair:plan_shards",
            {"AERIAL": service, "NIR_LAYER": scene.irc, "ELEVATION_LAYER": scene.elevation,
             "BUNDLE": str(scene.bundle), "OUTPUT": str(scene.folder / "plan.json")},
        )  # fmt: skip
    assert not (scene.folder / "plan.json").exists()
