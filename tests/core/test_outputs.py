"""Map outputs on real files: the class raster's georeferencing, palette and class names read back,
the QGIS style, statistics against hand-computed areas, COG layout, and the all-or-nothing writer."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.windows import Window

from flair_qgis.core.errors import Cancelled, OutputError
from flair_qgis.core.geometry import OutputGrid
from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.core.output_kinds import compute_statistics, qml_text, write_qml
from flair_qgis.core.outputs import OutputOptions, OutputPaths, OutputWriter
from tests.rasters import grid_transform

LAMBERT93_WKT = CRS.from_epsg(2154).to_wkt()


def make_grid(width: int = 30, height: int = 20, resolution: float = 0.2) -> OutputGrid:
    return OutputGrid(LAMBERT93_WKT, grid_transform(resolution), width, height)


def known_classes(grid: OutputGrid) -> np.ndarray:
    """Left third building (1), middle third water (5), right third nodata; 2 rows of swimming pool (13)."""
    classes = np.zeros(grid.shape, np.uint8)
    third = grid.width // 3
    classes[:, :third] = 1
    classes[:, third : 2 * third] = 5
    classes[:2, :third] = 13
    return classes


def write_map(folder: Path, grid: OutputGrid, classes: np.ndarray, **options) -> tuple[dict, OutputWriter]:
    """Write `classes` in two windows (top and bottom halves) and commit."""
    paths = OutputPaths.for_classes(folder / "map.tif")
    with OutputWriter(paths, grid, FLAIR_13, OutputOptions(**options)) as writer:
        half = grid.height // 2
        writer.write(Window(0, 0, grid.width, half), classes[:half])
        writer.write(Window(0, half, grid.width, grid.height - half), classes[half:])
        written = writer.commit()
    return written, writer


def test_class_raster_is_georeferenced_tiled_compressed_with_palette(tmp_path):
    grid = make_grid()
    classes = known_classes(grid)
    written, _ = write_map(tmp_path, grid, classes)
    assert written["classes"] == tmp_path / "map.tif"
    with rasterio.open(written["classes"]) as ds:
        assert ds.dtypes == ("uint8",) and ds.nodata == 0
        assert ds.crs == CRS.from_epsg(2154)
        assert ds.transform == grid.transform and (ds.width, ds.height) == (30, 20)
        assert ds.block_shapes == [(512, 512)] and ds.compression.name == "deflate"
        np.testing.assert_array_equal(ds.read(1), classes)
        colours = ds.colormap(1)
        assert colours[1] == (0xDB, 0x0E, 0x9A, 255) and colours[5] == (0x15, 0x53, 0xAE, 255)
        assert colours[0][3] == 0
        assert ds.tags(1)["CLASS_1"] == "building" and ds.tags(1)["CLASS_13"] == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "map.qml",
        "map.stats.csv",
        "map.stats.json",
        "map.tif",
        "map.tif.aux.xml",
    ]


def test_gdal_reads_category_names_and_the_attribute_table(tmp_path):
    gdal = pytest.importorskip("osgeo.gdal")
    grid = make_grid()
    written, _ = write_map(tmp_path, grid, known_classes(grid), language="fr")
    dataset = gdal.Open(str(written["classes"]))
    band = dataset.GetRasterBand(1)
    table = band.GetDefaultRAT()  # first: GDAL 3.6's GTiff loads the .aux.xml lazily, not for names
    names = band.GetCategoryNames()
    assert names[0] == "" and names[1] == "bâtiment" and names[5] == "eau" and len(names) == 14
    assert table.GetRowCount() == 13
    assert [table.GetNameOfCol(i) for i in range(5)] == ["Value", "Class", "Red", "Green", "Blue"]
    assert (table.GetValueAsInt(4, 0), table.GetValueAsString(4, 1)) == (5, "eau")
    assert (table.GetValueAsInt(4, 2), table.GetValueAsInt(4, 3), table.GetValueAsInt(4, 4)) == (
        0x15,
        0x53,
        0xAE,
    )


def test_statistics_equal_hand_computed_areas(tmp_path):
    grid = make_grid(resolution=10.0)  # 10 m pixels: 0.01 ha each
    written, writer = write_map(tmp_path, grid, known_classes(grid))
    # 10 columns x 20 rows per third: building 10 x 18 = 180 px, pool 10 x 2 = 20 px, water 200 px.
    by_code = {row.code: row for row in writer.statistics}
    assert by_code[1].pixels == 180 and by_code[13].pixels == 20 and by_code[5].pixels == 200
    assert by_code[1].hectares == pytest.approx(1.8)
    assert by_code[1].percent == pytest.approx(45.0) and by_code[5].percent == pytest.approx(50.0)
    assert by_code[2].pixels == 0 and by_code[2].percent == 0
    document = json.loads(written["statistics_json"].read_text(encoding="utf-8"))
    assert document["nodata_pixels"] == 200 and document["classified_pixels"] == 400
    assert document["classified_hectares"] == pytest.approx(4.0)
    water = next(row for row in document["classes"] if row["code"] == 5)
    assert water == {
        "code": 5,
        "class": "water",
        "pixels": 200,
        "hectares": pytest.approx(2.0),
        "percent": 50.0,
    }
    with written["statistics_csv"].open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["code", "class", "hectares", "percent"]
    assert len(rows) == 13
    assert rows[0] == {"code": "1", "class": "building", "hectares": "1.8000", "percent": "45.00"}
    assert rows[12] == {"code": "13", "class": "other", "hectares": "0.2000", "percent": "5.00"}


def test_statistics_use_the_pixel_area_of_the_grid():
    counts = np.zeros(256, np.int64)
    counts[[3, 7]] = [2500, 7500]
    rows = compute_statistics(counts, FLAIR_13, pixel_area_m2=0.25, language="fr")
    impervious = rows[2]
    assert (impervious.code, impervious.name, impervious.hectares, impervious.percent) == (
        3,
        "zone imperméable",
        pytest.approx(0.0625),
        pytest.approx(25.0),
    )


def test_qml_is_a_paletted_style_with_every_class(tmp_path):
    path = write_qml(tmp_path / "style.qml", FLAIR_13, "fr")
    root = ET.parse(path).getroot()
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [int(e.get("value")) for e in entries] == list(range(1, 14))
    assert entries[0].attrib == {"value": "1", "color": "#db0e9a", "label": "bâtiment", "alpha": "255"}
    assert entries[12].get("label") == "autre"
    assert 'label="building"' in qml_text(FLAIR_13, "en")


def test_qgis_applies_the_side_car_style(tmp_path):
    qgis_core = pytest.importorskip("qgis.core")
    grid = make_grid()
    written, _ = write_map(tmp_path, grid, known_classes(grid))
    layer = qgis_core.QgsRasterLayer(str(written["classes"]), "map")
    assert layer.isValid()
    message, ok = layer.loadDefaultStyle()  # QGIS's own lookup of map.qml beside map.tif
    assert ok, message
    renderer = layer.renderer()
    assert renderer.type() == "paletted"
    classes = renderer.classes()
    assert [(c.value, c.label, c.color.name()) for c in classes[:2]] == [
        (1, "building", "#db0e9a"),
        (2, "pervious surface", "#938e7b"),
    ]
    assert len(classes) == 13


def test_confidence_and_probabilities_are_scaled_and_masked(tmp_path):
    grid = make_grid(4, 2)
    classes = np.array([[1, 2, 0, 5], [5, 5, 1, 0]], np.uint8)
    confidence = np.array([[0.5, 0.994, np.nan, 1.0], [0.25, 0.126, 0.9, np.nan]], np.float32)
    probabilities = np.zeros((13, 2, 4), np.float32)
    probabilities[0] = 0.5
    probabilities[4] = 0.25
    probabilities[:, 0, 2] = np.nan
    paths = OutputPaths.for_classes(tmp_path / "map.tif", confidence=True, probabilities=True)
    with OutputWriter(paths, grid, FLAIR_13, OutputOptions(language="fr")) as writer:
        writer.write(grid.window, classes, confidence, probabilities)
        written = writer.commit()
    assert written["confidence"] == tmp_path / "map.confidence.tif"
    with rasterio.open(written["confidence"]) as ds:
        assert ds.nodata == 255 and ds.transform == grid.transform and ds.scales == (0.01,)
        np.testing.assert_array_equal(ds.read(1), [[50, 99, 255, 100], [25, 13, 90, 255]])
    with rasterio.open(written["probabilities"]) as ds:
        assert ds.count == 13 and ds.descriptions[0] == "bâtiment" and ds.descriptions[12] == "autre"
        assert ds.scales[4] == pytest.approx(1 / 255) and ds.tags(5)["CODE"] == "5"
        values = ds.read()
        assert (values[0][classes > 0] == 128).all() and (values[4][classes > 0] == 64).all()
        assert (values[1] == 0).all()
        np.testing.assert_array_equal(ds.dataset_mask(), np.where(classes > 0, 255, 0))


def test_cog_on_request_has_the_cog_layout_and_overviews(tmp_path):
    grid = make_grid(1100, 700)
    classes = np.ones(grid.shape, np.uint8)
    classes[:, 600:] = 5
    paths = OutputPaths.for_classes(tmp_path / "map.tif", confidence=True)
    with OutputWriter(paths, grid, FLAIR_13, OutputOptions(cog=True)) as writer:
        writer.write(grid.window, classes, np.full(grid.shape, 0.75, np.float32))
        written = writer.commit()
    for kind in ("classes", "confidence"):
        with rasterio.open(written[kind]) as ds:
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert ds.overviews(1) == [2, 4]
            assert ds.transform == grid.transform
    with rasterio.open(written["confidence"]) as ds:
        assert ds.scales == (0.01,) and ds.read(1, window=Window(0, 0, 2, 1)).tolist() == [[75, 75]]
    with rasterio.open(written["classes"]) as ds:
        assert ds.colormap(1)[5] == (0x15, 0x53, 0xAE, 255) and ds.nodata == 0
        assert ds.read(1, window=Window(590, 0, 20, 1)).tolist() == [[1] * 10 + [5] * 10]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- safety -----------------------------------------------------------------------------------------


def test_an_exception_mid_write_leaves_nothing(tmp_path):
    grid = make_grid()
    paths = OutputPaths.for_classes(tmp_path / "map.tif", confidence=True, probabilities=True)
    with pytest.raises(RuntimeError, match="model crashed"), OutputWriter(paths, grid, FLAIR_13) as writer:
        writer.write(Window(0, 0, 30, 10), known_classes(grid)[:10])
        partial = sorted(p.name for p in tmp_path.iterdir())
        assert ".map.tif.lock" in partial  # held while the run writes
        partial.remove(".map.tif.lock")
        assert len(partial) == 3 and all(".partial-" in name for name in partial)
        raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_a_cancel_or_a_missing_commit_leaves_nothing(tmp_path):
    grid = make_grid()
    paths = OutputPaths.for_classes(tmp_path / "map.tif")
    with pytest.raises(Cancelled), OutputWriter(paths, grid, FLAIR_13) as writer:
        writer.write(Window(0, 0, 30, 10), known_classes(grid)[:10])
        raise Cancelled()
    with OutputWriter(paths, grid, FLAIR_13) as writer:
        writer.write(grid.window, known_classes(grid))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_refused_unless_overwrite(tmp_path):
    grid = make_grid()
    (tmp_path / "map.tif").write_bytes(b"someone's map")
    paths = OutputPaths.for_classes(tmp_path / "map.tif")
    with pytest.raises(OutputError, match=r"map\.tif already exists") as info:
        OutputWriter(paths, grid, FLAIR_13)
    assert "overwrite" in info.value.hint
    assert (tmp_path / "map.tif").read_bytes() == b"someone's map"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif"]
    written, _ = write_map(tmp_path, grid, known_classes(grid), overwrite=True)
    with rasterio.open(written["classes"]) as ds:
        np.testing.assert_array_equal(ds.read(1), known_classes(grid))


def test_an_existing_side_car_is_refused_too(tmp_path):
    (tmp_path / "map.qml").write_text("<qgis/>")
    with pytest.raises(OutputError, match=r"map\.qml already exists"):
        OutputWriter(OutputPaths.for_classes(tmp_path / "map.tif"), make_grid(), FLAIR_13)
    assert (tmp_path / "map.qml").read_text() == "<qgis/>"


def test_a_missing_folder_or_a_file_as_folder_is_refused(tmp_path):
    grid = make_grid()
    with pytest.raises(OutputError, match="does not exist"):
        OutputWriter(OutputPaths.for_classes(tmp_path / "nowhere" / "map.tif"), grid, FLAIR_13)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        OutputWriter(OutputPaths.for_classes(tmp_path / "file" / "map.tif"), grid, FLAIR_13)


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {result.stderr.decode().strip()}")


@pytest.fixture
def mounted(tmp_path):
    """Mount points made by the test, unmounted afterwards."""
    points: list[Path] = []
    yield lambda name, options: (_mount_tmpfs(tmp_path / name, options), points.append(tmp_path / name))[1]
    for point in points:
        subprocess.run(["umount", str(point)], check=False)


def test_an_unwritable_folder_is_refused_before_any_work(tmp_path, mounted):
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
    else:
        folder = tmp_path / "readonly"
        mounted("readonly", "ro,size=64k")
    with pytest.raises(OutputError, match="is not writable"):
        OutputWriter(OutputPaths.for_classes(folder / "map.tif"), make_grid(), FLAIR_13)


def test_a_full_disk_gives_a_clear_error_and_leaves_nothing(tmp_path, mounted):
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted("small", "size=64k")
    folder = tmp_path / "small"
    grid = make_grid(400, 400)
    rng = np.random.default_rng(1)
    paths = OutputPaths.for_classes(folder / "map.tif", probabilities=True)
    with pytest.raises(OutputError, match="disk is full"), OutputWriter(paths, grid, FLAIR_13) as writer:
        classes = rng.integers(1, 14, grid.shape, dtype=np.uint8)
        writer.write(grid.window, classes, None, rng.random((13, *grid.shape), dtype=np.float32))
        writer.commit()
    assert list(folder.iterdir()) == []


# --- replacing a set --------------------------------------------------------------------------------


def _chattr(path: Path, flag: str) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0


def _old_set(folder: Path) -> dict[str, bytes]:
    """A previous run's full set (with confidence and probabilities): name -> content."""
    grid = make_grid()
    paths = OutputPaths.for_classes(folder / "map.tif", confidence=True, probabilities=True)
    with OutputWriter(paths, grid, FLAIR_13) as writer:
        writer.write(grid.window, known_classes(grid), np.full(grid.shape, 0.5, np.float32),
                     np.full((13, *grid.shape), 0.1, np.float32))  # fmt: skip
        writer.commit()
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _new_writer(folder: Path, **options) -> OutputWriter:
    grid = make_grid()
    paths = OutputPaths.for_classes(folder / "map.tif", confidence=True, probabilities=True)
    writer = OutputWriter(paths, grid, FLAIR_13, OutputOptions(overwrite=True, **options))
    writer.write(grid.window, np.full(grid.shape, 5, np.uint8), np.full(grid.shape, 0.9, np.float32),
                 np.full((13, *grid.shape), 0.2, np.float32))  # fmt: skip
    return writer


@pytest.mark.parametrize(
    "name",
    ["map.tif", "map.tif.aux.xml", "map.qml", "map.stats.json", "map.stats.csv", "map.confidence.tif",
     "map.probabilities.tif"],
)  # fmt: skip
def test_a_file_of_the_set_that_cannot_be_replaced_leaves_the_previous_set_as_it_was(tmp_path, name):
    """Each file of the previous set made immutable in turn (a real EPERM, as root too): the switch
    fails at that file, after moving others aside, and puts every one back."""
    before = _old_set(tmp_path)
    assert sorted(before) == sorted([
        "map.tif", "map.tif.aux.xml", "map.qml", "map.stats.json", "map.stats.csv", "map.confidence.tif",
        "map.probabilities.tif"])  # fmt: skip
    if not _chattr(tmp_path / name, "+i"):
        pytest.skip("chattr +i is not available here")
    try:
        writer = _new_writer(tmp_path)
        with pytest.raises(OutputError, match="could not be replaced") as info:
            writer.commit()
    finally:
        _chattr(tmp_path / name, "-i")
    assert "as they were" in info.value.message and info.value.__cause__ is not None
    assert _contents(tmp_path) == before


def test_a_failure_while_putting_the_new_files_in_place_restores_the_previous_set(tmp_path):
    """The switch itself, failing at each new file in turn (its partial file gone: a real ENOENT) after
    the previous files were moved aside and some new ones put in place."""
    from flair_qgis.core.transaction import switch

    names = ["a.tif", "a.qml", "a.stats.json"]
    for index in range(len(names)):
        folder = tmp_path / str(index)
        folder.mkdir()
        for name in names:
            (folder / name).write_text(f"old {name}")
        placements = {}
        for name in names:
            temp = folder / f".{name}.partial-0123456789abcdef"
            temp.write_text(f"new {name}")
            placements[folder / name] = temp
        list(placements.values())[index].unlink()
        with pytest.raises(OutputError, match="as they were"):
            switch(placements, [folder / "a.confidence.tif"], lambda path: True, "0123456789abcdef")
        assert {p.name: p.read_text() for p in folder.iterdir() if not p.name.startswith(".")} == {
            name: f"old {name}" for name in names
        }
        assert not [p for p in folder.iterdir() if ".backup-" in p.name]


def test_a_folder_in_the_way_of_one_side_file_keeps_the_previous_set(tmp_path):
    before = _old_set(tmp_path)
    (tmp_path / "map.stats.json").unlink()
    (tmp_path / "map.stats.json").mkdir()
    del before["map.stats.json"]
    grid = make_grid()
    paths = OutputPaths.for_classes(tmp_path / "map.tif")
    with pytest.raises(OutputError, match=r"map\.stats\.json is a folder"):
        OutputWriter(paths, grid, FLAIR_13, OutputOptions(overwrite=True))
    assert {k: v for k, v in _contents_files(tmp_path).items()} == before


def _contents_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_overwrite_replaces_the_whole_set_and_removes_its_stale_rasters_at_the_switch(tmp_path):
    _old_set(tmp_path)
    grid = make_grid()
    paths = OutputPaths.for_classes(tmp_path / "map.tif")  # no confidence, no probabilities this time
    with OutputWriter(paths, grid, FLAIR_13, OutputOptions(overwrite=True)) as writer:
        writer.write(grid.window, np.full(grid.shape, 5, np.uint8))
        assert (tmp_path / "map.confidence.tif").exists()  # still there until the switch
        writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "map.qml", "map.stats.csv", "map.stats.json", "map.tif", "map.tif.aux.xml"]  # fmt: skip
    with rasterio.open(tmp_path / "map.tif") as ds:
        assert (ds.read(1) == 5).all()


def test_a_stale_raster_of_the_set_is_refused_without_overwrite(tmp_path):
    (tmp_path / "map.confidence.tif").write_bytes(b"from an earlier run")
    with pytest.raises(OutputError, match=r"map\.confidence\.tif already exists"):
        OutputWriter(OutputPaths.for_classes(tmp_path / "map.tif"), make_grid(), FLAIR_13)
    (tmp_path / "map.confidence.tif").unlink()
    (tmp_path / "map.tif.msk").write_bytes(b"an external mask would apply to the new map")
    with pytest.raises(OutputError, match=r"map\.tif\.msk already exists"):
        OutputWriter(OutputPaths.for_classes(tmp_path / "map.tif"), make_grid(), FLAIR_13)


def test_a_file_written_meanwhile_is_not_replaced_at_the_switch(tmp_path):
    grid = make_grid()
    with OutputWriter(OutputPaths.for_classes(tmp_path / "map.tif"), grid, FLAIR_13) as writer:
        writer.write(grid.window, known_classes(grid))
        (tmp_path / "map.qml").write_text("written by another program meanwhile")
        with pytest.raises(OutputError, match=r"map\.qml already exists"):
            writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.qml"]
    assert (tmp_path / "map.qml").read_text() == "written by another program meanwhile"


def test_links_at_output_paths_are_refused_and_their_targets_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    (tmp_path / "out").mkdir()
    for name in ("map.tif", "map.qml"):
        link = tmp_path / "out" / name
        link.symlink_to(target)
        with pytest.raises(OutputError, match="symbolic link"):
            OutputWriter(OutputPaths.for_classes(tmp_path / "out" / "map.tif"), make_grid(), FLAIR_13,
                         OutputOptions(overwrite=True))  # fmt: skip
        link.unlink()
    (tmp_path / "out" / ".map.tif.lock").symlink_to(target)
    with pytest.raises(OutputError, match="lock file"):
        OutputWriter(OutputPaths.for_classes(tmp_path / "out" / "map.tif"), make_grid(), FLAIR_13)
    assert target.read_text() == "keep"


def test_a_folder_at_the_lock_path_is_a_clear_error(tmp_path):
    (tmp_path / ".map.tif.lock").mkdir()
    with pytest.raises(OutputError, match="lock file") as info:
        OutputWriter(OutputPaths.for_classes(tmp_path / "map.tif"), make_grid(), FLAIR_13)
    assert "Remove" in info.value.hint


def test_a_second_writer_on_the_same_output_is_refused_and_the_lock_is_released(tmp_path):
    grid = make_grid()
    paths = OutputPaths.for_classes(tmp_path / "map.tif")
    with OutputWriter(paths, grid, FLAIR_13) as first:
        with pytest.raises(OutputError, match=rf"Another run is writing .*map\.tif \(process {os.getpid()}"):
            OutputWriter(paths, grid, FLAIR_13)
        first.write(grid.window, known_classes(grid))
        first.commit()
    assert not (tmp_path / ".map.tif.lock").exists()
    with pytest.raises(RuntimeError), OutputWriter(paths, grid, FLAIR_13, OutputOptions(overwrite=True)):
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_the_probabilities_mask_is_inside_the_file_even_where_gdal_defaults_to_an_external_one(tmp_path):
    grid = make_grid(4, 2)
    classes = np.array([[1, 0, 0, 5], [5, 5, 1, 0]], np.uint8)
    paths = OutputPaths.for_classes(tmp_path / "map.tif", probabilities=True)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=False), OutputWriter(paths, grid, FLAIR_13) as writer:
        writer.write(grid.window, classes, None, np.full((13, 2, 4), 0.5, np.float32))
        writer.commit()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".msk") or p.name.startswith(".")]
    with rasterio.open(tmp_path / "map.probabilities.tif") as ds:
        np.testing.assert_array_equal(ds.dataset_mask(), np.where(classes > 0, 255, 0))


def test_a_replacement_interrupted_by_sigkill_is_undone_by_the_next_run(tmp_path):
    """A real process takes the lock, records the switch, moves two files of the previous set aside,
    puts one new file in place, and is killed (SIGKILL) there, as a kill mid-switch would leave it."""
    import sys

    (tmp_path / "map.tif").write_bytes(b"old map")
    (tmp_path / "map.qml").write_bytes(b"old style")
    child = f"""
import os, signal
from pathlib import Path
from flair_qgis.core.transaction import OutputLock, backup_path, partial_path
folder = Path({str(tmp_path)!r})
token = "0123456789abcdef"
lock = OutputLock(folder / "map.tif", token)
lock.acquire()
temps = {{}}
for name in ("map.tif", "map.qml"):
    temps[folder / name] = partial_path(folder / name, token)
    temps[folder / name].write_bytes(b"new " + name.encode())
lock.update(state="switching", placements={{str(f): str(t) for f, t in temps.items()}})
for name in ("map.tif", "map.qml"):
    os.rename(folder / name, backup_path(folder / name, token))
os.link(temps[folder / "map.tif"], folder / "map.tif")
os.kill(os.getpid(), signal.SIGKILL)
"""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    assert (tmp_path / "map.tif").read_bytes() == b"new map.tif" and not (tmp_path / "map.qml").exists()
    with pytest.raises(OutputError, match=r"map\.tif already exists"):  # the previous map is back
        OutputWriter(OutputPaths.for_classes(tmp_path / "map.tif"), make_grid(), FLAIR_13)
    assert _contents(tmp_path) == {"map.tif": b"old map", "map.qml": b"old style"}
