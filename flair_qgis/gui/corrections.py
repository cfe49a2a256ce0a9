"""The corrections layer in the project: found or created beside the map a layer belongs to, added on top
of the map's group, and fed by the inspect panel ("reclassify this region") and the review dock ("correct
this zone"), each correction written to the GeoPackage at once (nothing waits in an edit buffer)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsExpressionContextUtils,
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsMapLayer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDateTime, Qt

from ..review import schema

#: The review outputs written beside a map `X.tif`, by their file-name ending.
_SIDE_SUFFIXES = (".corrections.gpkg", ".review.gpkg", ".polygons.gpkg")


def layer_file(layer: QgsMapLayer | None) -> Path | None:
    """The file behind a file-based layer (without its `|layername=` part)."""
    if layer is None or layer.providerType() not in ("gdal", "ogr"):
        return None
    return Path(layer.source().split("|")[0])


def map_of(layer: QgsMapLayer | None) -> Path | None:
    """The FLAIR class raster a layer belongs to: the layer's own file for a FLAIR map, `X.tif` for the
    polygons, review zones or corrections of `X.tif`; None when there is no such map on disk."""
    path = layer_file(layer)
    if path is None:
        return None
    if isinstance(layer, QgsRasterLayer):
        from ..review.result import ResultError, read_class_result

        try:
            read_class_result(path)
        except ResultError:
            return None
        return path
    for suffix in _SIDE_SUFFIXES:
        if path.name.endswith(suffix):
            candidate = path.with_name(path.name[: -len(suffix)] + ".tif")
            return candidate if candidate.is_file() else None
    return None


def corrections_layer(classes: Path, project: QgsProject | None = None) -> QgsVectorLayer:
    """The corrections layer of the map `classes`: the one already in the project, else its GeoPackage
    (created when missing) added on top of the map's group, or of the project. Raises the review package's
    ResultError / GeoPackageError when the map is not a FLAIR result or the file cannot be written."""
    from ..adapters.styling import qgis_language
    from ..review.corrections import corrections_path, create_corrections

    project = project or QgsProject.instance()
    path = corrections_path(classes)
    for layer in project.mapLayers().values():
        if isinstance(layer, QgsVectorLayer) and layer_file(layer) == path:
            return layer
    if not path.exists():
        create_corrections(classes, path, qgis_language())
    layer = QgsVectorLayer(
        f"{path}|layername={schema.CORRECTIONS_LAYER_NAME}", f"{classes.stem} - corrections", "ogr"
    )
    if not layer.isValid():
        from ..review.geopackage import GeoPackageError

        raise GeoPackageError(f"{path} cannot be opened as a corrections layer.")
    project.addMapLayer(layer, False)
    group = _group_of(project, classes)
    (group or project.layerTreeRoot()).insertLayer(0, layer)
    return layer


def _group_of(project: QgsProject, classes: Path):
    """The layer-tree group holding a layer of the map `classes`, if any."""
    for node in project.layerTreeRoot().findLayers():
        if layer_file(node.layer()) == classes and node.parent() is not None:
            return node.parent()
    return None


def add_correction(
    layer: QgsVectorLayer, geometry: QgsGeometry, code: int, origin: str, note: str = "", source_crs=None
) -> int:
    """Write one correction (`geometry` in `source_crs`, the layer's CRS when None) into `layer`'s file
    at once, with QGIS's user name and the time; returns its fid."""
    geometry = QgsGeometry(geometry)
    if source_crs is not None and source_crs != layer.crs():
        from qgis.core import QgsCoordinateTransform

        geometry.transform(QgsCoordinateTransform(source_crs, layer.crs(), QgsProject.instance()))
    feature = QgsFeature(layer.fields())
    feature.setGeometry(geometry)
    author = QgsExpressionContextUtils.globalScope().variable("user_full_name") or ""
    values = {
        schema.FIELD_CODE: int(code),
        schema.FIELD_AUTHOR: str(author),
        schema.FIELD_DATE: QDateTime.currentDateTime().toString(Qt.DateFormat.ISODate),
        schema.FIELD_NOTE: note,
        schema.FIELD_ORIGIN: origin,
    }
    for name, value in values.items():
        feature[name] = value
    ok, added = layer.dataProvider().addFeatures([feature])
    if not ok or not added:
        raise OSError(f"the correction could not be written to {layer.source()}")
    layer.triggerRepaint()
    return int(added[0].id())


def polygon_at(classes: Path, point: QgsPointXY) -> QgsGeometry | None:
    """The land-cover polygon of the map `classes` (its `X.polygons.gpkg`) containing `point` (map CRS),
    or None when there is no polygons file or no polygon there."""
    from ..review.beside_map import polygons_path

    path = polygons_path(classes)
    if not path.is_file():
        return None
    polygons = QgsVectorLayer(f"{path}|layername={schema.POLYGON_LAYER_NAME}", "polygons", "ogr")
    if not polygons.isValid():
        return None
    here = QgsGeometry.fromPointXY(point)
    request = QgsFeatureRequest().setFilterRect(QgsRectangle(point, point))
    for feature in polygons.getFeatures(request):
        if feature.geometry().contains(here):
            return QgsGeometry(feature.geometry())
    return None


def fill_class_combo(combo, nomenclature, language: str = "en") -> None:
    """List the classes of `nomenclature` in `combo`: name and colour, the class code as item data."""
    from qgis.PyQt.QtGui import QColor, QIcon, QPixmap

    current = combo.currentData()
    combo.clear()
    for cls in nomenclature.classes:
        swatch = QPixmap(14, 14)
        swatch.fill(QColor(cls.colour))
        combo.addItem(QIcon(swatch), cls.label(language), cls.code)
    index = combo.findData(current)
    if index >= 0:
        combo.setCurrentIndex(index)
