"""`flair:review_zones` in the real QGIS on a constructed confidence raster whose queue is known: which
regions, their ranking by area x (1 - mean confidence), classes and runner-up, fields, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import NULL, QgsProcessingException, QgsVectorLayer

from flair_qgis.core.nomenclature import FLAIR_13
from flair_qgis.review import schema

from .results import write_result

PIXEL = 0.04  # m² at 0.2 m


def constructed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """120 x 120 px of coniferous (6) at confidence 0.9, with four low-confidence squares:
    A 20 x 20 at 0.45 (16 m², score 8.8), B 30 x 30 at 0.8 -> not low, C 10 x 10 at 0.1 (4 m², 3.6),
    D 30 x 20 at 0.4 (24 m², 14.4) half deciduous (7) half coniferous, E 2 x 2 at 0.2 (0.16 m², under
    the minimum area). Probabilities: in D, herbaceous (10) is the runner-up class."""
    classes = np.full((120, 120), 6, np.uint8)
    confidence = np.full((120, 120), 0.9, np.float32)
    confidence[5:25, 5:25] = 0.45  # A
    confidence[5:35, 60:90] = 0.8  # B
    confidence[50:60, 10:20] = 0.1  # C
    confidence[80:110, 40:60] = 0.4  # D
    classes[80:110, 40:48] = 7  # D: deciduous on 240 px, coniferous on 360
    confidence[100:102, 100:102] = 0.2  # E
    probabilities = np.zeros((13, 120, 120), np.float32)
    probabilities[5] = confidence  # coniferous
    probabilities[6, classes == 7] = confidence[classes == 7]
    probabilities[5, classes == 7] = 0.1
    probabilities[1] = (1 - confidence) * 0.3  # pervious: a weak runner-up everywhere
    probabilities[9, 80:110, 40:60] = 0.55  # herbaceous: D's runner-up
    return classes, confidence, probabilities


def zones(path) -> list[dict]:
    layer = QgsVectorLayer(f"{path}|layername={schema.REVIEW_LAYER_NAME}", "zones", "ogr")
    assert layer.isValid()
    assert layer.fields().names()[1:] == list(schema.REVIEW_FIELDS)  # after the fid
    rows = [dict(zip(f.fields().names(), f.attributes(), strict=True)) for f in layer.getFeatures()]
    return sorted(rows, key=lambda row: row[schema.FIELD_RANK])


def test_zones_are_ranked_by_area_times_doubt(tmp_path, flair_provider, monkeypatch):
    # Strips of a few rows: the sums must add up across strips as they do on a large map.
    monkeypatch.setattr("flair_qgis.review.raster_blocks.STRIP_PIXELS", 700)
    import processing

    classes, confidence, probabilities = constructed()
    result = write_result(tmp_path / "map.tif", classes, confidence, probabilities)
    output = tmp_path / "review.gpkg"

    answer = processing.run(
        "flair:review_zones",
        {"CLASSES": str(result.classes), "CONFIDENCE": str(result.confidence),
         "PROBABILITIES": str(result.probabilities), "THRESHOLD": 0.5, "MIN_AREA": 1.0,
         "OUTPUT": str(output)},
    )  # fmt: skip

    rows = zones(output)
    assert answer["ZONES"] == 3
    assert [row[schema.FIELD_RANK] for row in rows] == [1, 2, 3]
    assert [row[schema.FIELD_AREA] for row in rows] == pytest.approx([24.0, 16.0, 4.0])  # D, A, C
    assert answer["AREA"] == pytest.approx(44.0)
    # Confidence goes through the uint8 percent of the written raster: 0.4, 0.45, 0.1.
    assert [row[schema.FIELD_MEAN_CONFIDENCE] for row in rows] == pytest.approx([0.4, 0.45, 0.1], abs=0.006)
    d, a, _ = rows
    assert d[schema.FIELD_CLASS_CODE] == 6 and d[schema.FIELD_CLASS_NAME] == "coniferous"
    assert d[schema.FIELD_RUNNER_UP_CODE] == 10 and d[schema.FIELD_RUNNER_UP_NAME] == "herbaceous vegetation"
    assert a[schema.FIELD_RUNNER_UP_CODE] == 2  # pervious, the only other class with probability there
    assert all(row[schema.FIELD_STATUS] == schema.STATUS_TO_REVIEW for row in rows)
    assert all(row[schema.FIELD_REVIEWED_AT] == NULL and row[schema.FIELD_NOTE] == NULL for row in rows)


def test_without_probabilities_the_runner_up_is_the_second_most_predicted_class(tmp_path, flair_provider):
    import processing

    classes, confidence, _ = constructed()
    result = write_result(tmp_path / "map.tif", classes, confidence)
    output = tmp_path / "review.gpkg"

    processing.run(
        "flair:review_zones",
        {"CLASSES": str(result.classes), "CONFIDENCE": str(result.confidence), "MIN_AREA": 0.0,
         "OUTPUT": str(output)},
    )  # fmt: skip

    rows = zones(output)
    assert len(rows) == 4  # with no minimum area, E counts too
    d = rows[0]
    assert (d[schema.FIELD_CLASS_CODE], d[schema.FIELD_RUNNER_UP_CODE]) == (6, 7)
    assert d[schema.FIELD_RUNNER_UP_NAME] == FLAIR_13.by_code(7).name
    assert all(row[schema.FIELD_RUNNER_UP_CODE] == NULL for row in rows[1:])  # one class only


def test_confident_pockets_under_the_minimum_area_do_not_make_holes_in_a_zone(tmp_path, flair_provider):
    import processing

    classes = np.full((60, 60), 6, np.uint8)
    confidence = np.full((60, 60), 0.9, np.float32)
    confidence[10:50, 10:50] = 0.3  # a 40 x 40 px zone (64 m²) ...
    confidence[20:22, 20:22] = 0.95  # ... with a confident pocket of 4 px (0.16 m²)
    confidence[30:40, 30:40] = 0.95  # ... and a confident 10 x 10 px field (4 m²), over the minimum
    result = write_result(tmp_path / "map.tif", classes, confidence)
    output = tmp_path / "review.gpkg"

    processing.run(
        "flair:review_zones",
        {"CLASSES": str(result.classes), "CONFIDENCE": str(result.confidence), "MIN_AREA": 1.0,
         "OUTPUT": str(output)},
    )  # fmt: skip

    layer = QgsVectorLayer(f"{output}|layername={schema.REVIEW_LAYER_NAME}", "zones", "ogr")
    (zone,) = layer.getFeatures()
    rings = zone.geometry().constGet().numInteriorRings()
    assert rings == 1  # the 4 m² field stays a hole, the pocket is gone
    assert zone[schema.FIELD_AREA] == pytest.approx(64.0 - 4.0)


@pytest.mark.parametrize(
    ("case", "message"),
    [("other_grid", "not on the class raster's grid"), ("sub_pixel", "smaller than one pixel"),
     ("empty", "is empty"), ("confidence_as_classes", "not a FLAIR result")],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, flair_provider, case, message):
    import processing

    classes, confidence, _ = constructed()
    result = write_result(tmp_path / "map.tif", classes, confidence)
    other = write_result(tmp_path / "other.tif", classes[:60], confidence[:60])
    parameters = {"CLASSES": str(result.classes), "CONFIDENCE": str(result.confidence), "MIN_AREA": 1.0,
                  "OUTPUT": str(tmp_path / "review.gpkg")}  # fmt: skip
    if case == "other_grid":
        parameters["CONFIDENCE"] = str(other.confidence)
    elif case == "sub_pixel":
        parameters["MIN_AREA"] = 0.02
    elif case == "empty":
        empty = write_result(tmp_path / "empty.tif", np.zeros_like(classes), confidence)
        parameters.update(CLASSES=str(empty.classes), CONFIDENCE=str(empty.confidence))
    elif case == "confidence_as_classes":
        parameters["CLASSES"] = str(result.confidence)
    before = set(tmp_path.iterdir())

    with pytest.raises(QgsProcessingException, match=message):
        processing.run("flair:review_zones", parameters)

    assert set(tmp_path.iterdir()) == before
