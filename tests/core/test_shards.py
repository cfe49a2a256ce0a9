"""Sharded runs: a plan's shards computed one by one and merged give, pixel for pixel, the map of one run
over the whole area (overlap blending across shard edges and Sentinel-2 regions included); shards are
committed with a checked record; a changed bundle, option or file is noticed. Real GeoTIFFs, a real
U-T&T bundle through ONNX Runtime, GDAL's VRT and COG drivers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from flair_qgis.core.area import AreaOfInterest
from flair_qgis.core.errors import BundleError, InputError, OutputError
from flair_qgis.core.predict import PredictionRequest, predict
from flair_qgis.core.shard_merge import merge_plan
from flair_qgis.core.shard_run import ShardTiling, check_bundle, run_shard, shard_state
from flair_qgis.core.shards import make_plan, read_plan
from tests.bundles import make_aerial_bundle, make_utt_bundle
from tests.rasters import ORIGIN, write_raster
from tests.shards_scene import (
    OVERLAP,
    SIZES,
    TILE,
    WINDOW,
    plan_for,
    read,
    write_scene,
    write_single_run,
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict[str, Path]:
    return write_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="module")
def single_run(scene, tmp_path_factory) -> Path:
    return write_single_run(scene, tmp_path_factory.mktemp("single") / "map.tif")


def test_shards_tile_the_grid_and_run_the_whole_runs_tiles(scene, tmp_path: Path) -> None:
    plan = plan_for(scene, tmp_path / "run")
    assert len(plan.shards) == 6
    covered = np.zeros(plan.grid.shape, np.int32)
    whole = plan.whole_tiling()
    for shard in plan.shards:
        col, row, width, height = shard.window
        covered[row : row + height, col : col + width] += 1
        tiling = ShardTiling(whole, shard)
        tiles = list(tiling)
        # Every whole-run tile reaching into the interior is run, at its place, with its own index.
        reaching = {
            (t.x, t.y)
            for t in whole
            if t.x < col + width and t.x + TILE > col and t.y < row + height and t.y + TILE > row
        }
        assert reaching <= {(t.x, t.y) for t in tiles}
        assert all(tiling.whole_tile(t).window == t.window for t in tiles)
    np.testing.assert_array_equal(covered, 1)
    assert read_plan(plan.path).fingerprint == plan.fingerprint


def test_sharded_run_merges_into_the_single_run_map_pixel_for_pixel(
    scene, single_run, tmp_path: Path
) -> None:
    plan = plan_for(scene, tmp_path / "run")
    outcomes = [run_shard(plan, i) for i in range(len(plan.shards))]
    assert {o.status for o in outcomes} == {"computed"}
    merged = merge_plan(plan, cog=True)
    expected = read(single_run)
    np.testing.assert_array_equal(read(merged.vrt), expected)
    np.testing.assert_array_equal(read(merged.cog), expected)
    confidence = read(single_run.with_name("map.confidence.tif"))
    np.testing.assert_array_equal(read(merged.rasters["confidence"]), confidence)
    # The Sentinel-2 term and the blending change the map across shard edges: a shard without its
    # context margin, or another region's window, would show.
    assert 0.05 < (expected == 13).mean() < 0.95
    with rasterio.open(single_run) as single:
        for path in (merged.vrt, merged.cog):
            with rasterio.open(path) as src:
                assert (src.crs, src.transform, src.nodata) == (single.crs, single.transform, single.nodata)
                assert src.colormap(1) == single.colormap(1)
                assert src.descriptions == single.descriptions
    with rasterio.open(merged.cog) as src:
        assert src.overviews(1), "the COG has overviews"
        assert src.driver == "GTiff" and src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    single_stats = json.loads(single_run.with_name("map.stats.json").read_text())
    merged_stats = json.loads(merged.statistics_json.read_text())
    assert merged_stats["classes"] == single_stats["classes"]
    assert merged_stats["nodata_pixels"] == single_stats["nodata_pixels"]
    assert merged_stats["model"] == single_stats["model"]
    assert merged_stats["model"]["precision"] == "fp32"
    assert merged.qml.read_text() == single_run.with_name("map.qml").read_text()


def test_a_shard_run_alone_without_its_margin_differs(scene, single_run, tmp_path: Path) -> None:
    """The test above can fail: the middle shard's area run on its own (no margin, its own tiling)
    gives another map there."""
    plan = plan_for(scene, tmp_path / "run")
    col, row, width, height = plan.shards[4].window
    bounds = plan.grid.window_bounds(rasterio.windows.Window(col, row, width, height))
    request = PredictionRequest(
        aerial=scene["aerial"],
        bundle=scene["bundle"],
        output=tmp_path / "alone.tif",
        sentinel2=scene["sentinel2"],
        area=AreaOfInterest.from_bounds(bounds, "EPSG:2154"),
        overlap=OVERLAP,
        outputs={"confidence"},
    )
    predict(request, **SIZES)
    alone = read(tmp_path / "alone.confidence.tif")[0]
    expected = read(single_run.with_name("map.confidence.tif"))[0, row : row + height, col : col + width]
    assert alone.shape == expected.shape
    assert (alone != expected).any()


def test_committed_shards_are_checked_and_skipped(scene, tmp_path: Path) -> None:
    plan = plan_for(scene, tmp_path / "run")
    assert run_shard(plan, 0).status == "computed"
    assert shard_state(plan, plan.shards[0]) == "committed"
    assert run_shard(plan, 0).status == "committed"
    # A shard file changed after its commit is not trusted: it is computed again.
    shard_tif = plan.shard_paths(plan.shards[0]).classes
    with rasterio.open(shard_tif, "r+") as dst:
        dst.write(np.full((1, 4, 4), 1, np.uint8), window=rasterio.windows.Window(0, 0, 4, 4))
    assert shard_state(plan, plan.shards[0]) == "stale"
    assert run_shard(plan, 0).status == "computed"
    # A file whose time changed but not its content (a copied folder) is checked by SHA-256 and kept.
    qml = plan.shard_paths(plan.shards[0]).qml
    stat = qml.stat()
    os.utime(qml, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert shard_state(plan, plan.shards[0]) == "committed"
    # Content changed at the same size and time: found with verify, which checks every SHA-256.
    text = qml.read_text()
    qml.write_text(text.replace("nearestNeighbour", "nearestNeighbouR", 1))
    os.utime(qml, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert qml.stat().st_size == stat.st_size
    assert shard_state(plan, plan.shards[0]) == "committed"
    assert shard_state(plan, plan.shards[0], verify=True) == "stale"
    with pytest.raises(InputError, match=r"5 not computed \(1-5\)"):
        merge_plan(plan)


def test_a_changed_bundle_or_options_invalidate_the_plans_results(scene, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    bundle = tmp_path / "utt.onnx"
    shutil.copy(scene["bundle"], bundle)
    plan = plan_for({**scene, "bundle": bundle}, folder)
    run_shard(plan, 0)
    with pytest.raises(OutputError, match="exists already"):
        plan_for({**scene, "bundle": bundle}, folder)
    # Other options: the committed shard belongs to the previous plan and is stale.
    replanned = plan_for({**scene, "bundle": bundle}, folder, overwrite=True, **{"language": "fr"})
    assert shard_state(replanned, replanned.shards[0]) == "stale"
    # Another bundle at the same path.
    make_utt_bundle(bundle, tile_size=TILE, sentinel2_window=WINDOW)
    with pytest.raises(BundleError, match="has changed since the plan"):
        check_bundle(replanned)
    with pytest.raises(BundleError, match="has changed since the plan"):
        run_shard(replanned, 1)
    # A plan edited by hand.
    data = json.loads(replanned.path.read_text())
    data["options"]["overlap"] = 8
    replanned.path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="edited by hand"):
        read_plan(replanned.path)


@pytest.mark.parametrize("overlap", [8, 40])
def test_an_aerial_only_sharded_run_equals_the_single_run(tmp_path: Path, overlap: int) -> None:
    """A model with a spatial footprint (a 3x3 blur: tiles disagree near their edges), light and heavy
    overlap (40 of 64 px: a pixel in three tiles along an axis, margins of two tile columns and rows),
    a box area, an image with a hole of nodata, probabilities with their mask."""
    data = np.random.default_rng(9).integers(1, 256, (5, 300, 420), dtype=np.uint8)
    data[:, 20:90, 60:250] = 0  # no image there: nodata across shard edges, masked in the probabilities
    aerial = write_raster(tmp_path / "ortho.tif", data, nodata=0)
    make_aerial_bundle(tmp_path / "blur.onnx", tile_size=TILE, blur=True)
    sizes = {"chunk_width": 120, "region_height": 96}
    area = AreaOfInterest.from_bounds(
        (ORIGIN[0] + 1.1, ORIGIN[1] - 55.3, ORIGIN[0] + 80.5, ORIGIN[1] - 0.7), "EPSG:2154"
    )
    request = PredictionRequest(
        aerial=aerial,
        bundle=tmp_path / "blur.onnx",
        output=tmp_path / "single.tif",
        area=area,
        overlap=overlap,
        outputs={"probabilities"},
    )
    predict(request, **sizes)
    (tmp_path / "run").mkdir()
    plan = make_plan(
        tmp_path / "run" / "plan.json",
        str(aerial),
        tmp_path / "blur.onnx",
        area=area,
        overlap=overlap,
        probabilities=True,
        shard_width=130,
        shard_height=100,
        **sizes,
    )
    assert len(plan.shards) >= 4
    for index in range(len(plan.shards)):
        run_shard(plan, index)
    merged = merge_plan(plan)
    np.testing.assert_array_equal(read(merged.vrt), read(tmp_path / "single.tif"))
    with (
        rasterio.open(merged.rasters["probabilities"]) as vrt,
        rasterio.open(tmp_path / "single.probabilities.tif") as single,
    ):
        np.testing.assert_array_equal(vrt.read(), single.read())
        np.testing.assert_array_equal(vrt.read_masks(1), single.read_masks(1))
        assert (single.read_masks(1) == 0).any() and (single.read_masks(1) == 255).any()
        assert vrt.descriptions == single.descriptions and vrt.scales == single.scales
