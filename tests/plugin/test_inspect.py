"""The inspect tool and the result reader on a real map written by the engine (real ONNX Runtime): class
name in English and French, confidence and top-3 probabilities at a known pixel, also on a map loaded
afresh from disk; and a clear refusal of rasters that are not FLAIR maps."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rasterio
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsSettings,
)

from flair_qgis.core.errors import InputError
from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.core.output_kinds import aux_xml_text
from flair_qgis.core.predict import PredictionRequest, predict, softmax
from flair_qgis.core.result import FlairResult
from flair_qgis.gui.inspect_tool import InspectPanel, InspectTool
from tests.bundles import aerial_logits, default_weights

from .conftest import scene_bands
from .rasters import GSD, ORIGIN

#: A pixel of the top-right quadrant, where elevation is the brightest band: class 5, water.
ROW, COL = 10, 100


def pixel_centre(row: int, col: int) -> tuple[float, float]:
    return ORIGIN[0] + (col + 0.5) * GSD, ORIGIN[1] - (row + 0.5) * GSD


def expected_probabilities(row: int, col: int) -> np.ndarray:
    """The test bundle's known answer at one pixel: softmax(1x1 conv(bands / 255)) over the 13 classes."""
    raw = scene_bands()[:, row : row + 1, col : col + 1]
    weights, bias = default_weights(13, 5)
    logits = aerial_logits(raw.astype(np.float32) / 255.0, weights, bias)
    return softmax(logits[None])[0][:, 0, 0]


def run(scene, name: str = "landcover.tif", language: str = "en", **asked: bool) -> FlairResult:
    folder = scene.folder
    request = PredictionRequest(
        aerial=[(str(folder / "ortho_rvb.tif"), b) for b in (1, 2, 3)]
        + [(str(folder / "ortho_irc.tif"), 1), (str(folder / "mns_2021.tif"), 1)],
        bundle=scene.bundle,
        output=folder / name,
        device="cpu",
        language=language,
        outputs=[kind for kind, on in asked.items() if on],
    )
    return FlairResult(predict(request).class_raster)


@pytest.fixture
def french_qgis():
    settings = QgsSettings()
    before = settings.value("locale/userLocale", None)
    settings.setValue("locale/userLocale", "fr_FR")
    yield
    if before is None:
        settings.remove("locale/userLocale")
    else:
        settings.setValue("locale/userLocale", before)


def test_result_reads_class_confidence_and_top3_at_a_pixel(scene):
    result = run(scene, confidence=True, probabilities=True)
    probabilities = expected_probabilities(ROW, COL)
    order = np.argsort(-probabilities)[:3]

    info = result.pixel(*pixel_centre(ROW, COL), language="en")

    assert (info.row, info.col, info.code, info.name) == (ROW, COL, 5, "water")
    # Stored as uint8 percent: the probability of the class rounded to 1 %.
    assert info.confidence == pytest.approx(round(100 * probabilities.max()) / 100)
    # Classes of equal probability may come in either order: compare each class's own probability.
    assert [c.code for c in info.top[:2]] == [FLAIR_13.codes[i] for i in order[:2]]
    assert info.top[0].name == "water"
    stored = np.round(255 * probabilities) / 255  # uint8 p x 255
    assert [c.probability for c in info.top] == pytest.approx(sorted(stored, reverse=True)[:3])
    for got in info.top:
        assert got.probability == pytest.approx(stored[FLAIR_13.codes.index(got.code)])
    assert info.top[0].probability > info.top[1].probability >= info.top[2].probability
    assert result.pixel(*pixel_centre(ROW, COL), language="fr").name == "eau"
    assert result.pixel(ORIGIN[0] - 1, ORIGIN[1]) is None  # west of the map


def test_map_without_side_rasters_gives_the_class_only(scene):
    result = run(scene, "classes_only.tif")
    info = result.pixel(*pixel_centre(100, 10), language="en")  # bottom-left quadrant: green, pervious
    assert (info.code, info.name, info.confidence, info.top) == (2, "pervious surface", None, ())
    assert result.present_codes() == [1, 2, 4, 5]


def test_inspect_tool_on_a_map_loaded_from_disk_in_french(scene, qgis_canvas, french_qgis):
    result = run(scene, language="en", confidence=True, probabilities=True)
    # Yesterday's result: copied to another folder and loaded into a fresh project, no run involved.
    QgsProject.instance().clear()
    folder = scene.folder / "yesterday"
    folder.mkdir()
    for path in scene.folder.glob("landcover*"):
        shutil.copy(path, folder / path.name)
    layer = QgsRasterLayer(str(folder / "landcover.tif"), "landcover - classes")
    assert layer.isValid()
    ortho = QgsRasterLayer(str(scene.folder / "ortho_rvb.tif"), "ortho")
    QgsProject.instance().addMapLayers([layer, ortho])
    # The canvas in Web Mercator: the click is transformed to the map's CRS.
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    qgis_canvas.setDestinationCrs(mercator)
    to_canvas = QgsCoordinateTransform(layer.crs(), mercator, QgsProject.instance())
    click = to_canvas.transform(QgsPointXY(*pixel_centre(ROW, COL)))
    panel = InspectPanel()
    tool = InspectTool(qgis_canvas, panel, lambda: ortho)  # the ortho is selected: not a FLAIR map

    info = tool.inspect(click)

    expected = result.pixel(*pixel_centre(ROW, COL), language="fr")
    assert (info.code, info.name) == (5, "eau")  # written in English, shown as QGIS runs: French
    assert info == expected
    text = panel.label.text()
    assert "<b>eau</b> (code 5)" in text
    assert f"Confidence: <b>{100 * info.confidence:.0f} %</b>" in text
    assert text.count(" %") == 4  # the confidence and the top 3, all as percentages
    assert f"1. eau (5): {100 * info.top[0].probability:.0f} %" in text


def test_a_click_on_the_canvas_inspects_the_pixel_under_it(scene, qgis_canvas):
    from qgis.gui import QgsMapMouseEvent
    from qgis.PyQt.QtCore import QEvent, QPoint, Qt

    result = run(scene, confidence=True)
    layer = QgsRasterLayer(str(result.classes), "landcover - classes")
    QgsProject.instance().addMapLayer(layer)
    qgis_canvas.resize(400, 400)
    qgis_canvas.setDestinationCrs(layer.crs())
    qgis_canvas.setExtent(layer.extent())
    panel = InspectPanel()
    tool = InspectTool(qgis_canvas, panel, lambda: layer)
    qgis_canvas.setMapTool(tool)
    position = qgis_canvas.getCoordinateTransform().transform(QgsPointXY(*pixel_centre(100, 100)))
    click = QgsMapMouseEvent(
        qgis_canvas, QEvent.Type.MouseButtonRelease, QPoint(round(position.x()), round(position.y())),
        Qt.MouseButton.LeftButton,
    )  # fmt: skip

    tool.canvasReleaseEvent(click)

    assert tool.last.code == 4  # bottom-right quadrant: NIR brightest, bare soil
    assert abs(tool.last.row - 100) <= 1 and abs(tool.last.col - 100) <= 1
    assert "<b>bare soil</b> (code 4)" in panel.label.text()
    assert tool.marker is not None  # the clicked point is marked on the map
    qgis_canvas.unsetMapTool(tool)
    assert tool.marker is None


def test_inspect_tool_says_when_no_flair_map_is_shown(scene, qgis_canvas):
    qgis_canvas.setDestinationCrs(scene.rgb.crs())
    panel = InspectPanel()
    tool = InspectTool(qgis_canvas, panel, lambda: scene.rgb)
    assert tool.inspect(QgsPointXY(*pixel_centre(ROW, COL))) is None
    assert panel.label.text() == "No FLAIR land-cover layer is shown here."


def test_names_come_from_the_aux_xml_when_the_tags_are_missing(tmp_path):
    path = tmp_path / "other_tool.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8", crs="EPSG:2154",
        transform=rasterio.transform.from_origin(*ORIGIN, GSD, GSD), nodata=0,
    ) as dataset:  # fmt: skip
        dataset.write(np.array([[7, 7], [0, 9]], np.uint8), 1)
    (tmp_path / "other_tool.tif.aux.xml").write_text(aux_xml_text(FLAIR_13, "fr"), encoding="utf-8")
    result = FlairResult(path)
    assert result.names[7] == "feuillus"
    assert result.pixel(*pixel_centre(0, 0)).name == "feuillus"
    assert result.pixel(*pixel_centre(1, 0)).code is None  # nodata


def write_tagged(path, tags: dict[str, str], nomenclature: str = "") -> None:
    with rasterio.open(
        path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8", crs="EPSG:2154",
        transform=rasterio.transform.from_origin(*ORIGIN, GSD, GSD), nodata=0,
    ) as dataset:  # fmt: skip
        dataset.write(np.array([[1, 2], [0, 40]], np.uint8), 1)
        dataset.write_colormap(1, {1: (255, 0, 0, 255), 40: (0, 0, 255, 255)})
        dataset.update_tags(1, **tags)
        if nomenclature:
            dataset.update_tags(NOMENCLATURE=nomenclature)


@pytest.mark.parametrize(
    ("tags", "nomenclature", "expected"),
    [
        # The built-in nomenclature it names: French names known too.
        ({"CLASS_1": "building", "CLASS_2": "pervious surface"}, FLAIR_13.name, FLAIR_13),
        # It names the FLAIR #2 nomenclature but a class outside it: the file's own classes, its colours.
        (
            {"CLASS_0": "nodata", "CLASS_1": "roofs", "CLASS_40": "solar farm"},
            FLAIR_13.name,
            [(1, "roofs", "#ff0000"), (40, "solar farm", "#0000ff")],
        ),
        # No nomenclature tag: the file's classes; code 0 (nodata) and out-of-range tags never count.
        ({"CLASS_1": "roofs", "CLASS_300": "x", "CLASS_": "y"}, "", [(1, "roofs", "#ff0000")]),
    ],
)
def test_the_inspect_tool_and_the_review_algorithms_read_the_same_classes(
    tmp_path, tags, nomenclature, expected
):
    from flair_qgis.review.result import read_class_result

    path = tmp_path / "map.tif"
    write_tagged(path, tags, nomenclature)
    for read in (FlairResult(path).nomenclature, read_class_result(path).nomenclature):
        if isinstance(expected, list):
            assert [(c.code, c.name, c.colour) for c in read.classes] == expected
        else:
            assert read == expected


def test_a_raster_that_is_not_a_flair_map_is_refused(scene):
    with pytest.raises(InputError, match="3 band"):
        FlairResult(scene.folder / "ortho_rvb.tif")
    with pytest.raises(InputError, match="no class names"):
        FlairResult(scene.folder / "mns_2021.tif")
    with pytest.raises(InputError, match="does not exist"):
        FlairResult(scene.folder / "missing.tif")
