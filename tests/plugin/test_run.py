"""Full runs on a small real scene with a small real bundle (real ONNX Runtime, real GeoTIFFs): through
the dialog's background task, through `processing.run`, and a cancel that leaves nothing behind."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time

import numpy as np
import rasterio
from qgis.core import (
    QgsApplication,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsSingleBandPseudoColorRenderer,
)

from flair_qgis.core.outputs import OutputPaths
from flair_qgis.gui.dialog import FlairDialog
from flair_qgis.gui.task import PredictionTask, start

from .conftest import QUADRANT_CODES, SIZE, expected_classes
from .test_styling import FLAIR2_COLOURS, render


def wait_for(task, timeout: float = 60.0) -> None:
    """Process Qt events until `task.finished()` has run on this, the main, thread."""
    deadline = time.monotonic() + timeout
    while not task.done and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    assert task.done, "the task did not finish in time"


def test_dialog_run_adds_the_styled_map_and_statistics(scene, qgis_iface):
    dialog = FlairDialog(qgis_iface)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    output = scene.folder / "landcover.tif"
    dialog.outputs.file_widget.setFilePath(str(output))
    dialog.outputs.checks["confidence"].setChecked(True)
    dialog.outputs.checks["probabilities"].setChecked(True)
    dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
    assert dialog.check() == []

    dialog.run()
    task = dialog.task
    wait_for(task)

    assert task.error is None, str(task.error)
    with rasterio.open(output) as written:
        np.testing.assert_array_equal(written.read(1), expected_classes())
    # The class layer, styled with the FLAIR palette, and the confidence layer, in one group.
    group = QgsProject.instance().layerTreeRoot().findGroup("landcover")
    assert group is not None
    layers = {node.layer().name(): node.layer() for node in group.findLayers()}
    assert {"landcover - classes", "landcover - confidence", "landcover - probabilities"} <= set(layers)
    with rasterio.open(layers["landcover - probabilities"].source()) as probabilities:
        assert probabilities.count == 13  # one band per class
    classes = layers["landcover - classes"]
    assert isinstance(classes.renderer(), QgsPalettedRasterRenderer)
    palette = {c.value: c.color.name() for c in classes.renderer().classes()}
    assert palette == FLAIR2_COLOURS
    # Statistics: each quadrant is a quarter of the map; 128 x 128 px of 0.04 m2 = 655.36 m2.
    table = dialog.statistics_table
    rows = {int(table.item(r, 0).text()): (table.item(r, 2).text(), table.item(r, 3).text())
            for r in range(table.rowCount())}  # fmt: skip
    for code in QUADRANT_CODES:
        assert rows[code] == ("0.0164", "25.00")
    assert dialog.statistics_tsv().splitlines()[0] == "Code\tClass\tHectares\t%"
    # The rendered map shows each class's colour in its quadrant (drawn opaque: no ortho under it).
    classes.renderer().setOpacity(1.0)
    pixels = render(classes, 100)
    for (row, col), code in zip(((25, 25), (25, 75), (75, 25), (75, 75)), QUADRANT_CODES, strict=True):
        assert pixels[row, col] == FLAIR2_COLOURS[code]
    dialog.deleteLater()


def test_cancelled_task_leaves_no_output(scene):
    from flair_qgis.core.predict import PredictionRequest

    output = scene.folder / "cancelled.tif"
    request = PredictionRequest(
        aerial=[(str(scene.folder / "ortho_rvb.tif"), b) for b in (1, 2, 3)]
        + [(str(scene.folder / "ortho_irc.tif"), 1), (str(scene.folder / "mns_2021.tif"), 1)],
        bundle=scene.bundle,
        output=output,
        device="cpu",
        batch_size=1,
        outputs={"confidence"},
    )
    task = PredictionTask(request, "cancelled")
    # Cancel from the progress callback of the first tile, as a user's click would arrive mid-run.
    original = task._progress

    def progress_then_cancel(fraction: float, message: str) -> None:
        original(fraction, message)
        if fraction > 0:
            task.cancel()

    task._progress = progress_then_cancel
    start(task)
    wait_for(task)

    assert task.result is None
    assert type(task.error).__name__ == "Cancelled"
    assert sorted(p.name for p in scene.folder.iterdir()) == sorted(
        ["aerial.onnx", "mns_2021.tif", "ortho_irc.tif", "ortho_rvb.tif"]
    )
    assert not QgsProject.instance().layerTreeRoot().findGroup("cancelled")


def test_processing_run_writes_the_map_and_statistics(scene, flair_provider):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    output = scene.folder / "processing.tif"
    statistics = scene.folder / "processing_statistics.csv"
    confidence = scene.folder / "processing_confidence.tif"
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    progress = []
    feedback.progressChanged.connect(progress.append)

    result = processing.run(
        "flair:landcover",
        {
            "AERIAL": scene.rgb,
            "NIR_LAYER": scene.irc,
            "ELEVATION_LAYER": scene.elevation,
            "BUNDLE": str(scene.bundle),
            "DEVICE": 2,
            "OUTPUT": str(output),
            "CONFIDENCE": str(confidence),
            "STATISTICS": str(statistics),
        },
        context=context,
        feedback=feedback,
    )

    assert result["OUTPUT"] == str(output)
    assert result["CONFIDENCE"] == str(confidence)
    with rasterio.open(output) as written:
        np.testing.assert_array_equal(written.read(1), expected_classes())
    with rasterio.open(confidence) as written:
        assert written.read(1).shape == (SIZE, SIZE)
    rows = list(csv.DictReader(io.StringIO(statistics.read_text())))
    percent = {int(row["code"]): float(row["percent"]) for row in rows}
    assert {code: percent[code] for code in QUADRANT_CODES} == dict.fromkeys(QUADRANT_CODES, 25.0)
    assert progress and max(progress) == 100


def test_processing_outputs_are_styled_when_loaded(scene, flair_provider):
    import processing

    result = processing.runAndLoadResults(
        "flair:landcover",
        {
            "AERIAL": scene.rgb,
            "NIR_LAYER": scene.irc,
            "ELEVATION_LAYER": scene.elevation,
            "BUNDLE": str(scene.bundle),
            "OUTPUT": "TEMPORARY_OUTPUT",
            "CONFIDENCE": "TEMPORARY_OUTPUT",
        },
    )

    layers = {layer.source(): layer for layer in QgsProject.instance().mapLayers().values()}
    classes = layers[result["OUTPUT"]]
    assert isinstance(classes.renderer(), QgsPalettedRasterRenderer)
    assert {c.value: c.color.name() for c in classes.renderer().classes()} == FLAIR2_COLOURS
    confidence = layers[result["CONFIDENCE"]]
    assert isinstance(confidence.renderer(), QgsSingleBandPseudoColorRenderer)
    # Percent stored as uint8 with a GDAL scale of 0.01: QGIS reads 0..1.
    assert (confidence.renderer().classificationMin(), confidence.renderer().classificationMax()) == (0, 1)


def test_engine_reads_layers_through_cloned_providers(scene):
    """Layers that are not plain files reach the engine as LayerSource (here forced on GeoTIFF layers so
    that the answer is known): the map must be the same as from the files."""
    from flair_qgis.adapters.sources import LayerSource
    from flair_qgis.core.predict import PredictionRequest, predict

    rgb, irc, elevation = LayerSource(scene.rgb), LayerSource(scene.irc), LayerSource(scene.elevation)
    output = scene.folder / "from_layers.tif"
    request = PredictionRequest(
        aerial=[(rgb, 1), (rgb, 2), (rgb, 3), (irc, 1), (elevation, 1)],
        bundle=scene.bundle,
        output=output,
        device="cpu",
    )
    predict(request)
    with rasterio.open(output) as written:
        np.testing.assert_array_equal(written.read(1), expected_classes())


def test_processing_extent_limits_the_map(scene, flair_provider):
    import processing

    output = scene.folder / "extent.tif"
    # The top-left quadrant only (12.8 m x 12.8 m from the scene's north-west corner).
    extent = "651000.0,651012.8,6861987.2,6862000.0 [EPSG:2154]"
    processing.run(
        "flair:landcover",
        {
            "AERIAL": scene.rgb,
            "NIR_LAYER": scene.irc,
            "ELEVATION_LAYER": scene.elevation,
            "BUNDLE": str(scene.bundle),
            "EXTENT": extent,
            "OUTPUT": str(output),
        },
    )
    with rasterio.open(output) as written:
        classes = written.read(1)
    np.testing.assert_array_equal(classes, np.full((SIZE // 2, SIZE // 2), QUADRANT_CODES[0], np.uint8))


def test_algorithm_runs_inside_a_graphical_model(scene, flair_provider):
    """A model whose only step is flair:landcover, fed by the model's own inputs, as built in the
    graphical modeler."""
    import processing
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFile,
        QgsProcessingParameterRasterLayer,
    )

    model = QgsProcessingModelAlgorithm("land cover model", "tests")
    for name in ("aerial", "nir", "elevation"):
        model.addModelParameter(
            QgsProcessingParameterRasterLayer(name, name), QgsProcessingModelParameter(name)
        )
    model.addModelParameter(
        QgsProcessingParameterFile("bundle", "bundle"), QgsProcessingModelParameter("bundle")
    )
    child = QgsProcessingModelChildAlgorithm("flair:landcover")
    child.setChildId("landcover")
    for key, name in (("AERIAL", "aerial"), ("NIR_LAYER", "nir"), ("ELEVATION_LAYER", "elevation"),
                      ("BUNDLE", "bundle")):  # fmt: skip
        child.addParameterSources(key, [QgsProcessingModelChildParameterSource.fromModelParameter(name)])
    child.addParameterSources("DEVICE", [QgsProcessingModelChildParameterSource.fromStaticValue(2)])
    output = QgsProcessingModelOutput("map", "map")
    output.setChildOutputName("OUTPUT")
    child.setModelOutputs({"map": output})
    model.addChildAlgorithm(child)
    # The model's own destination parameter, as the modeler creates it: QGIS names it "landcover:map"
    # up to 3.3x and "map" from 3.40 on.
    (destination_parameter,) = model.destinationParameterDefinitions()
    output_name = destination_parameter.name()
    assert output_name in ("landcover:map", "map")

    destination = scene.folder / "model.tif"
    result = processing.run(
        model,
        {
            "aerial": scene.rgb, "nir": scene.irc, "elevation": scene.elevation, "bundle": str(scene.bundle),
            output_name: str(destination),
        },
    )  # fmt: skip

    assert result[output_name] == str(destination)
    with rasterio.open(destination) as written:
        np.testing.assert_array_equal(written.read(1), expected_classes())


def test_failed_run_reaches_the_message_bar_and_the_log(scene, qgis_iface):
    from qgis.core import Qgis

    from flair_qgis.core.predict import PredictionRequest

    logged = []

    def on_message(message, tag, level):
        logged.append((tag, level, message))

    QgsApplication.messageLog().messageReceived.connect(on_message)
    bar = qgis_iface.messageBar()
    bar.clear_messages()
    missing = scene.folder / "gone.tif"
    request = PredictionRequest(aerial=str(missing), bundle=scene.bundle, output=scene.folder / "x.tif")
    task = start(PredictionTask(request, "failing", message_bar=bar))
    wait_for(task)
    QgsApplication.messageLog().messageReceived.disconnect(on_message)

    assert task.result is None and "gone.tif" in str(task.error)
    assert any("gone.tif" in text for text in bar.get_messages(Qgis.Critical))
    assert any(tag == "FLAIR land cover" and level == Qgis.Critical and "gone.tif" in text
               for tag, level, text in logged)  # fmt: skip
    assert not (scene.folder / "x.tif").exists()


def test_the_dialogs_task_logs_misleading_input_and_refuses_an_empty_map(scene, qgis_iface):
    from qgis.core import Qgis

    from flair_qgis.core.predict import PredictionRequest

    from .conftest import scene_bands
    from .rasters import write_geotiff

    logged = []

    def on_message(message, tag, level):
        logged.append((tag, level, message))

    QgsApplication.messageLog().messageReceived.connect(on_message)
    bar = qgis_iface.messageBar()
    bar.clear_messages()
    sixteen = write_geotiff(scene.folder / "ortho16.tif", scene_bands().astype(np.uint16))
    request = PredictionRequest(aerial=str(sixteen), bundle=scene.bundle, output=scene.folder / "dark.tif")
    task = start(PredictionTask(request, "dark", message_bar=bar))
    wait_for(task)
    empty = write_geotiff(scene.folder / "empty.tif", np.zeros_like(scene_bands()), nodata=0)
    request = PredictionRequest(aerial=str(empty), bundle=scene.bundle, output=scene.folder / "empty_map.tif")
    refused = start(PredictionTask(request, "empty", message_bar=bar))
    wait_for(refused)
    QgsApplication.messageLog().messageReceived.disconnect(on_message)

    assert task.error is None, str(task.error)
    warnings = [text for tag, level, text in logged if tag == "FLAIR land cover" and level == Qgis.Warning]
    assert any(
        "ortho16.tif: its values lie in 40..200" in text and "257 times too dark" in text for text in warnings
    )
    # The message bar says the map came with warnings, not a plain success.
    ready = bar.get_messages(Qgis.Warning)
    assert any("257 times too dark" in text for text in ready), ready
    assert any("tiles in" in text and "on the CPU" in text for text in ready), (
        ready
    )  # no provider class names
    assert not any("ExecutionProvider" in text for text in ready)
    assert not any("dark.tif" in text for text in bar.get_messages(Qgis.Success))
    assert refused.result is None and "No aerial pixel has data in the area" in str(refused.error)
    assert any("No aerial pixel has data" in text for text in bar.get_messages(Qgis.Critical))
    assert not (scene.folder / "empty_map.tif").exists()


def test_dialog_maps_a_web_service_layer(scene, qgis_iface):
    """Red, green and blue from an XYZ service (uniform colour 120, 40, 90), NIR and elevation from
    files: where neither NIR nor elevation is bright, red wins (class 1)."""
    from qgis.core import QgsRectangle

    from .test_sources import _scene_tile
    from .tiles import write_tiles, xyz_layer

    tiles = xyz_layer(write_tiles(scene.folder / "tiles", _scene_tile(), (120, 40, 90)), "ortho service")
    QgsProject.instance().addMapLayer(tiles)
    dialog = FlairDialog(qgis_iface)
    for name in ("red", "green", "blue"):
        dialog.bands.layers[name].setLayer(tiles)
    dialog.bands.layers["nir"].setLayer(scene.irc)
    dialog.model.file_widget.setFilePath(str(scene.bundle))
    output = scene.folder / "from_service.tif"
    dialog.outputs.file_widget.setFilePath(str(output))
    assert dialog.bands.mapping()["green"] == (tiles.id(), 2)
    assert "web service" in dialog.check()[0]  # the whole-layer area makes no sense for a service
    dialog.bands.layers["elevation"].setLayer(tiles)
    assert "colour image service" in dialog.check()[0]
    dialog.bands.layers["elevation"].setLayer(scene.elevation)

    bounds = QgsRectangle(651000.0, 6862000.0 - SIZE * 0.2, 651000.0 + SIZE * 0.2, 6862000.0)
    dialog.area.set_drawn_rectangle(bounds, scene.rgb.crs().toWkt())
    assert dialog.check() == []
    dialog.run()
    task = dialog.task
    wait_for(task)

    assert task.error is None, str(task.error)
    half = SIZE // 2
    expected = np.ones((SIZE, SIZE), np.uint8)
    expected[:half, half:] = 5  # elevation bright: water
    expected[half:, half:] = 4  # NIR bright: bare soil
    with rasterio.open(output) as written:
        np.testing.assert_array_equal(written.read(1), expected)
    dialog.deleteLater()


def test_processing_reports_bad_inputs_as_processing_errors(scene, flair_provider):
    import processing
    import pytest
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class Errors(QgsProcessingFeedback):
        def __init__(self) -> None:
            super().__init__()
            self.errors: list[str] = []

        def reportError(self, error: str, fatalError: bool = False) -> None:
            self.errors.append(error)

    def error_of(parameters: dict) -> str:
        """What the user reads: the exception's text and the errors reported to the feedback."""
        feedback = Errors()
        with pytest.raises(QgsProcessingException) as raised:
            processing.run("flair:landcover", parameters, feedback=feedback)
        return "\n".join([str(raised.value), *feedback.errors])

    base = {"AERIAL": scene.rgb, "BUNDLE": str(scene.bundle), "OUTPUT": str(scene.folder / "bad.tif")}
    # The aerial layer has 3 bands and no NIR layer is given: band 4 is missing.
    assert "band 4 of 'ortho_rvb' does not exist" in error_of(base)
    layers = {"NIR_LAYER": scene.irc, "ELEVATION_LAYER": scene.elevation}
    assert "outside the aerial image" in error_of({**base, **layers, "EXTENT": "0,10,0,10 [EPSG:2154]"})
    # The map would replace its own input.
    assert "is also an input of the run" in error_of(
        {**base, **layers, "OUTPUT": str(scene.folder / "ortho_irc.tif")}
    )
    broken = scene.folder / "broken.onnx"
    broken.write_text("not a model")
    assert "broken.onnx" in error_of({**base, **layers, "BUNDLE": str(broken)})
    # An area with nothing to map: a zero-width extent (a zero-area area layer: test_qgis_process.py).
    zero_width = "651001,651001,6861990,6861999 [EPSG:2154]"
    assert "The area's bounds are empty or inverted" in error_of({**base, **layers, "EXTENT": zero_width})
    assert not (scene.folder / "bad.tif").exists()


def _landcover(scene, **outputs) -> dict:
    import processing

    parameters = {"AERIAL": scene.rgb, "NIR_LAYER": scene.irc, "ELEVATION_LAYER": scene.elevation,
                  "BUNDLE": str(scene.bundle), "DEVICE": 2, **outputs}  # fmt: skip
    return processing.run("flair:landcover", parameters)


def _hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_processing_writes_each_output_at_its_chosen_path_and_keeps_the_probabilities_mask(
    scene, flair_provider
):
    chosen = scene.folder / "chosen"
    chosen.mkdir()
    (scene.folder / "landcover.confidence.tif").write_bytes(b"an unrelated file beside the map")
    result = _landcover(
        scene,
        OUTPUT=str(scene.folder / "landcover.tif"),
        CONFIDENCE=str(chosen / "confidence.tif"),
        PROBABILITIES=str(chosen / "probabilities.tif"),
        STATISTICS=str(chosen / "statistics.csv"),
    )
    assert result["PROBABILITIES"] == str(chosen / "probabilities.tif")
    assert sorted(p.name for p in chosen.iterdir()) == [
        "confidence.tif",
        "probabilities.tif",
        "statistics.csv",
    ]
    assert (scene.folder / "landcover.confidence.tif").read_bytes() == b"an unrelated file beside the map"
    assert not (scene.folder / "landcover.stats.csv").exists()  # written where it was asked, nowhere else
    with rasterio.open(chosen / "probabilities.tif") as written:
        assert written.count == 13
        assert (written.dataset_mask() == 255).all()
        assert "per_dataset" in [flag.name for flag in written.mask_flag_enums[0]]
    from osgeo import gdal  # QGIS's own GDAL, which writes external masks by default

    dataset = gdal.Open(str(chosen / "probabilities.tif"))
    assert dataset.GetRasterBand(1).GetMaskFlags() == gdal.GMF_PER_DATASET
    dataset = None
    assert _hidden(scene.folder) == [] and _hidden(chosen) == []


def test_processing_refuses_to_replace_the_users_own_side_files(scene, flair_provider):
    import pytest
    from qgis.core import QgsProcessingException

    output = scene.folder / "landcover.tif"
    mine = {"landcover.qml": "<qgis>my own style</qgis>", "landcover.stats.csv": "my,own\n1,2\n"}
    for name, text in mine.items():
        (scene.folder / name).write_text(text)
        with pytest.raises(QgsProcessingException, match=rf"{name} already exists") as raised:
            _landcover(scene, OUTPUT=str(output))
        assert "not a file this program wrote" in str(raised.value)
        assert (scene.folder / name).read_text() == text
        assert not output.exists()
        (scene.folder / name).unlink()
    # This program's own earlier set is replaced by a rerun on the same path (the dialog asked).
    _landcover(scene, OUTPUT=str(output))
    first = {p.name for p in scene.folder.iterdir()}
    _landcover(scene, OUTPUT=str(output))
    assert {p.name for p in scene.folder.iterdir()} == first and _hidden(scene.folder) == []


def test_a_side_output_that_cannot_be_written_is_a_processing_error_and_leaves_nothing(scene, flair_provider):
    import subprocess

    import pytest
    from qgis.core import QgsProcessingException

    closed = scene.folder / "closed"
    closed.mkdir()
    if subprocess.run(["chattr", "+i", str(closed)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    before = sorted(p.name for p in scene.folder.iterdir())
    try:
        with pytest.raises(QgsProcessingException, match="not writable") as raised:
            _landcover(
                scene, OUTPUT=str(scene.folder / "landcover.tif"), STATISTICS=str(closed / "stats.csv")
            )
    finally:
        subprocess.run(["chattr", "-i", str(closed)], check=True)
    assert "Traceback" not in str(raised.value)
    assert sorted(p.name for p in scene.folder.iterdir()) == before
    assert list(closed.iterdir()) == []


def test_processing_refuses_an_output_another_run_is_writing(scene, flair_provider):
    import os

    import pytest
    from qgis.core import QgsProcessingException

    from flair_qgis.core.outputs import OutputReservation

    output = scene.folder / "busy.tif"
    with (
        OutputReservation(OutputPaths.for_classes(output)),
        pytest.raises(
            QgsProcessingException, match=rf"Another run is writing .*busy\.tif \(process {os.getpid()}"
        ),
    ):
        _landcover(scene, OUTPUT=str(output))
    assert not output.exists() and _hidden(scene.folder) == []
    (scene.folder / ".busy.tif.lock").mkdir()
    with pytest.raises(QgsProcessingException, match="lock file"):
        _landcover(scene, OUTPUT=str(output))


def test_a_full_second_disk_for_the_statistics_is_a_processing_error_and_leaves_nothing(
    scene, flair_provider
):
    import subprocess

    import pytest
    from qgis.core import QgsProcessingException

    disk = scene.folder / "full"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    try:
        filler = disk / "filler"
        with filler.open("wb") as stream, contextlib.suppress(OSError):
            stream.write(b"x" * 65536)
        before = sorted(p.name for p in scene.folder.iterdir())
        parameters = {"OUTPUT": str(scene.folder / "landcover.tif"), "STATISTICS": str(disk / "stats.csv")}
        # Full to the last page: even the lock beside the statistics cannot be written, before any work.
        with pytest.raises(QgsProcessingException, match=r"lock file .* cannot be written: No space left"):
            _landcover(scene, **parameters)
        # One page free: the lock fits, the statistics do not, after the map was computed.
        os.truncate(filler, 4096)
        with pytest.raises(QgsProcessingException, match="disk is full") as raised:
            _landcover(scene, **parameters)
        assert "Traceback" not in str(raised.value)
        assert sorted(p.name for p in scene.folder.iterdir()) == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
