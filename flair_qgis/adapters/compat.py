"""The few Qt and QGIS names that differ between QGIS 3 (PyQt5) and QGIS 4 (PyQt6), in one place, so that
every other module of the plugin is written once for both."""

from __future__ import annotations

from qgis.core import Qgis, QgsField

try:  # Qt6 moved QAction from QtWidgets to QtGui.
    from qgis.PyQt.QtGui import QAction
except ImportError:
    from qgis.PyQt.QtWidgets import QAction

__all__ = ["QAction", "decimal_field", "integer_field"]

#: The first QGIS whose QgsField takes a QMetaType (QGIS 4 has no QVariant type enum).
_QMETATYPE_FIELDS = 33800


def decimal_field(name: str) -> QgsField:
    """A field of decimal numbers (double) named `name`, typed as this QGIS expects."""
    if Qgis.QGIS_VERSION_INT >= _QMETATYPE_FIELDS:
        from qgis.PyQt.QtCore import QMetaType

        return QgsField(name, QMetaType.Type.Double)
    from qgis.PyQt.QtCore import QVariant

    return QgsField(name, QVariant.Double)  # Qt5 only


def integer_field(name: str) -> QgsField:
    """A field of integers named `name`, typed as this QGIS expects."""
    if Qgis.QGIS_VERSION_INT >= _QMETATYPE_FIELDS:
        from qgis.PyQt.QtCore import QMetaType

        return QgsField(name, QMetaType.Type.Int)
    from qgis.PyQt.QtCore import QVariant

    return QgsField(name, QVariant.Int)  # Qt5 only
