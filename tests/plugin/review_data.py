"""Writes review-zone GeoPackages as the review zones algorithm does (the same layer schema): square
zones of known area and confidence, ranked by area x (1 - mean confidence)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from osgeo import ogr, osr

from flair_qgis.review import schema
from flair_qgis.review.zones import REVIEW_FIELDS


@dataclass(frozen=True)
class ZoneSpec:
    """A square zone: lower-left corner (x, y), side in metres, its mean confidence and classes."""

    x: float
    y: float
    side: float
    mean_confidence: float
    class_code: int
    class_name: str
    runner_up_code: int | None = None
    runner_up_name: str = ""

    @property
    def area_m2(self) -> float:
        return self.side * self.side

    @property
    def urgency(self) -> float:
        return self.area_m2 * (1.0 - self.mean_confidence)


def write_review_zones(
    path: Path, zones: list[ZoneSpec], epsg: int = 2154, layer: str = "review_zones"
) -> Path:
    """A GeoPackage at `path` with one square polygon per zone, ranked most urgent first, all 'to review'.
    Features are written in the given order (not rank order), as a real writer need not sort them."""
    rows = []
    for zone in zones:
        x, y, s = zone.x, zone.y, zone.side
        wkt = f"POLYGON(({x} {y},{x + s} {y},{x + s} {y + s},{x} {y + s},{x} {y}))"
        rows.append((wkt, zone.area_m2, zone.mean_confidence, zone.class_code, zone.class_name,
                     zone.runner_up_code, zone.runner_up_name))  # fmt: skip
    return write_zone_rows(path, rows, epsg, layer)


def write_zone_rows(path: Path, rows: list[tuple], epsg: int = 2154, layer: str = "review_zones") -> Path:
    """A review-zones GeoPackage from rows (polygon WKT, area m², mean confidence, class code, class name,
    runner-up code or None, runner-up name), ranked by area x (1 - mean confidence), all 'to review'."""
    driver = ogr.GetDriverByName("GPKG")
    dataset = driver.CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    table = dataset.CreateLayer(layer, srs, ogr.wkbPolygon)
    for name, kind in REVIEW_FIELDS:  # the algorithm's own field spec
        table.CreateField(ogr.FieldDefn(name, kind))
    urgency = sorted(range(len(rows)), key=lambda i: -rows[i][1] * (1.0 - rows[i][2]))
    ranks = {index: rank for rank, index in enumerate(urgency, start=1)}
    for index, (wkt, area, confidence, code, name, runner_code, runner_name) in enumerate(rows):
        feature = ogr.Feature(table.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        feature[schema.FIELD_RANK] = ranks[index]
        feature[schema.FIELD_AREA] = area
        feature[schema.FIELD_MEAN_CONFIDENCE] = confidence
        feature[schema.FIELD_CLASS_CODE] = code
        feature[schema.FIELD_CLASS_NAME] = name
        if runner_code is not None:
            feature[schema.FIELD_RUNNER_UP_CODE] = runner_code
        feature[schema.FIELD_RUNNER_UP_NAME] = runner_name
        feature[schema.FIELD_STATUS] = schema.STATUS_TO_REVIEW
        feature[schema.FIELD_NOTE] = ""
        table.CreateFeature(feature)
    dataset = None  # closes and flushes the file
    return path


def sample_zones(origin: tuple[float, float] = (650000.0, 6860000.0)) -> list[ZoneSpec]:
    """Four zones written out of rank order: urgencies 60, 16, 4.5 and 50 m², so ranks 1, 3, 4 and 2;
    234 m² in all."""
    x, y = origin
    return [
        ZoneSpec(x, y, 10.0, 0.4, 10, "herbaceous vegetation", 11, "agricultural land"),  # 100 m², urgency 60
        ZoneSpec(x + 20, y, 5.0, 0.36, 7, "deciduous", 6, "coniferous"),  # 25 m², urgency 16
        ZoneSpec(x + 40, y, 3.0, 0.5, 1, "building", 3, "impervious surface"),  # 9 m², urgency 4.5
        ZoneSpec(x + 60, y, 10.0, 0.5, 11, "agricultural land", None, ""),  # 100 m², urgency 50
    ]
