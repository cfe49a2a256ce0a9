"""`flair:zonal_statistics` in the real QGIS: hectares and percent per class inside polygons drawn over
a class raster whose answer is known, reprojected polygons, and a raster that is not a FLAIR result."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsProcessingException, QgsVectorLayer

from .rasters import ORIGIN, write_geotiff
from .results import write_result


def polygon_layer(crs: str, rings: list[list[tuple[float, float]]]) -> QgsVectorLayer:
    layer = QgsVectorLayer(f"Polygon?crs={crs}&field=name:string", "parcels", "memory")
    features = []
    for number, ring in enumerate(rings):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromWkt("POLYGON((" + ",".join(f"{x} {y}" for x, y in ring) + "))"))
        feature.setAttributes([f"parcel {number}"])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def square(x0: float, y0: float, side: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x0 + side, y0), (x0 + side, y0 - side), (x0, y0 - side), (x0, y0)]


def test_hectares_and_percent_per_class_inside_each_polygon(tmp_path, flair_provider, monkeypatch):
    # Strips of a few rows: the sums must add up across strips as they do on a large map.
    monkeypatch.setattr("flair_qgis.review.raster_blocks.STRIP_PIXELS", 700)
    import processing

    classes = np.full((100, 100), 1, np.uint8)  # 20 m x 20 m: building on top
    classes[50:, :] = 5  # water on the bottom half
    classes[:, 75:] = 0  # nodata on the right quarter
    result = write_result(tmp_path / "map.tif", classes)
    x, y = ORIGIN
    layer = polygon_layer("EPSG:2154", [square(x, y, 20.0), square(x + 2, y - 8, 4.0), square(x + 100, y, 5)])

    answer = processing.run(
        "flair:zonal_statistics", {"INPUT": layer, "CLASSES": str(result.classes), "OUTPUT": "memory:"}
    )

    out = answer["OUTPUT"]
    rows = [dict(zip(out.fields().names(), f.attributes(), strict=True)) for f in out.getFeatures()]
    whole, inner, outside = rows
    assert whole["name"] == "parcel 0"
    assert whole["classified_ha"] == pytest.approx(15 * 20 / 10_000)  # 15 m x 20 m classified
    assert whole["ha_building"] == pytest.approx(15 * 10 / 10_000)
    assert whole["pct_building"] == pytest.approx(50.0)
    assert whole["pct_water"] == pytest.approx(50.0)
    assert whole["ha_coniferous"] == 0.0
    assert inner["ha_building"] == pytest.approx(2 * 4 / 10_000)  # rows 40..50 of the 4 m square
    assert inner["ha_water"] == pytest.approx(2 * 4 / 10_000)
    assert outside["classified_ha"] == 0.0
    assert len(out.fields()) == 1 + 1 + 2 * 13


def test_polygons_in_another_crs_are_reprojected(tmp_path, flair_provider):
    import processing
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject

    classes = np.full((100, 100), 7, np.uint8)
    result = write_result(tmp_path / "map.tif", classes)
    x, y = ORIGIN
    to_wgs84 = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:2154"),
        QgsCoordinateReferenceSystem("EPSG:4326"),
        QgsProject.instance(),
    )
    ring = [to_wgs84.transform(px, py) for px, py in square(x + 5, y - 5, 10.0)]
    layer = polygon_layer("EPSG:4326", [[(p.x(), p.y()) for p in ring]])

    answer = processing.run(
        "flair:zonal_statistics", {"INPUT": layer, "CLASSES": str(result.classes), "OUTPUT": "memory:"}
    )

    row = next(answer["OUTPUT"].getFeatures())
    assert row["ha_deciduous"] == pytest.approx(100 / 10_000, rel=0.02)
    assert row["pct_deciduous"] == pytest.approx(100.0)


def test_a_raster_that_is_not_a_flair_result_is_refused(tmp_path, flair_provider):
    import processing

    plain = write_geotiff(tmp_path / "plain.tif", np.ones((1, 10, 10), np.uint8))
    layer = polygon_layer("EPSG:2154", [square(*ORIGIN, 1.0)])

    with pytest.raises(QgsProcessingException, match="not a FLAIR result"):
        processing.run("flair:zonal_statistics", {"INPUT": layer, "CLASSES": str(plain), "OUTPUT": "memory:"})
