"""The real `qgis_process` sees the plugin and its provider in a throw-away profile."""

from __future__ import annotations

import re
from pathlib import Path

from tests.qgis_profile import make_profile, run_qgis_process


def test_qgis_process_lists_the_plugin_and_its_provider(tmp_path: Path) -> None:
    profiles = make_profile(tmp_path / "qgis")

    plugins = run_qgis_process(profiles, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    # "*" marks loaded plugins that implement a Processing provider.
    assert re.search(r"^\*\s+flair_qgis\s*$", plugins.stdout, re.MULTILINE), plugins.stdout

    listing = run_qgis_process(profiles, "list")
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"^FLAIR land cover\s*$", listing.stdout, re.MULTILINE), listing.stdout


def test_a_disabled_plugin_is_not_loaded(tmp_path: Path) -> None:
    profiles = make_profile(tmp_path / "qgis", enabled=False)
    plugins = run_qgis_process(profiles, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    assert re.search(r"^\s+flair_qgis\s*$", plugins.stdout, re.MULTILINE), plugins.stdout
    assert "FLAIR land cover" not in run_qgis_process(profiles, "list").stdout


def test_the_review_and_corrections_algorithms_run_through_qgis_process(tmp_path: Path) -> None:
    """The documented command lines of the review chain, run by the real qgis_process: polygons with an
    MMU, review zones, then a correction burnt into a copy of the map."""
    import numpy as np
    from osgeo import ogr

    from flair_qgis.review import schema
    from tests.plugin.rasters import GSD, ORIGIN
    from tests.plugin.results import write_result

    classes = np.full((100, 100), 6, np.uint8)
    classes[:, 50:] = 7
    confidence = np.full((100, 100), 0.9, np.float32)
    confidence[10:40, 10:40] = 0.3
    result = write_result(tmp_path / "map.tif", classes, confidence)
    profiles = make_profile(tmp_path / "qgis")

    listing = run_qgis_process(profiles, "list").stdout
    for name in (
        "polygonize",
        "review_zones",
        "zonal_statistics",
        "apply_corrections",
        "export_training_patches",
    ):
        assert f"flair:{name}" in listing, listing
    polygons = run_qgis_process(
        profiles, "run", "flair:polygonize", "--", f"CLASSES={result.classes}", "MMU=50",
        f"OUTPUT={tmp_path / 'map.polygons.gpkg'}",
    )  # fmt: skip
    assert polygons.returncode == 0, polygons.stderr
    zones = run_qgis_process(
        profiles, "run", "flair:review_zones", "--", f"CLASSES={result.classes}",
        f"CONFIDENCE={result.confidence}", "THRESHOLD=0.5", "MIN_AREA=20", f"OUTPUT={tmp_path / 'map.review.gpkg'}",
    )  # fmt: skip
    assert zones.returncode == 0, zones.stderr

    dataset = ogr.Open(str(tmp_path / "map.review.gpkg"))
    layer = dataset.GetLayerByName("review_zones")
    assert layer.GetFeatureCount() == 1  # the 30 x 30 px square (36 m²)
    zone = layer.GetNextFeature()
    corrections = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "map.corrections.gpkg"))
    table = corrections.CreateLayer("corrections", layer.GetSpatialRef(), ogr.wkbPolygon)
    table.CreateField(ogr.FieldDefn(schema.FIELD_CODE, ogr.OFTInteger))
    feature = ogr.Feature(table.GetLayerDefn())
    feature.SetGeometry(zone.GetGeometryRef().Clone())
    feature[schema.FIELD_CODE] = 10
    table.CreateFeature(feature)
    corrections = table = dataset = layer = None

    corrected = tmp_path / "map_corrected.tif"
    applied = run_qgis_process(
        profiles, "run", "flair:apply_corrections", "--", f"CLASSES={result.classes}",
        f"CORRECTIONS={tmp_path / 'map.corrections.gpkg'}", f"OUTPUT={corrected}",
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert re.search(r"CHANGED_PIXELS:\s*900", applied.stdout), applied.stdout
    import rasterio

    with rasterio.open(corrected) as dataset:
        after = dataset.read(1)
    assert (after[10:40, 10:40] == 10).all() and (after == 10).sum() == 900
    assert ORIGIN[0] == dataset.transform.c and dataset.transform.a == GSD


def test_qgis_process_help_describes_every_parameter_of_every_algorithm(tmp_path: Path) -> None:
    """Processing conventions: `qgis_process help` gives each parameter of each flair algorithm a line of
    help under its name, and the algorithm a description."""
    profiles = make_profile(tmp_path / "qgis")
    listing = run_qgis_process(profiles, "list").stdout
    algorithms = sorted(set(re.findall(r"flair:\w+", listing)))
    assert len(algorithms) >= 6, listing
    for algorithm in algorithms:
        shown = run_qgis_process(profiles, "help", algorithm)
        assert shown.returncode == 0, shown.stderr
        arguments = shown.stdout.split("Arguments\n----------------\n", 1)[1].split(
            "----------------\nOutputs"
        )[0]
        entries = re.findall(r"^(\w+): .*\n((?:\t.*\n?)*)", arguments, re.MULTILINE)
        assert entries, (algorithm, arguments)
        # The help is a tab-indented line of its own; QGIS's releases put it before or after the
        # "Default value" line, always before the argument's type and accepted values.
        fields = ("Argument type", "Default value", "Acceptable values", "Available values", "-")
        undocumented = [
            key
            for key, block in entries
            if not any(line.strip() and not line.strip().startswith(fields) for line in block.split("\n"))
        ]
        assert not undocumented, f"{algorithm}: no help for {undocumented}"
        description = shown.stdout.split("Description\n----------------\n", 1)[1].split("\n----------------")[
            0
        ]
        assert len(description.strip()) > 40, algorithm
