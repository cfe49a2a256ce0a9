"""One translation hook for the review tools' user-visible strings, so a French translation can pick them
up (Qt's translation files are keyed by context)."""

from __future__ import annotations

from qgis.PyQt.QtCore import QCoreApplication

CONTEXT = "FlairLandCover"


def tr(text: str) -> str:
    """`text` translated in the plugin's context (unchanged while no translation is installed)."""
    return QCoreApplication.translate(CONTEXT, text)
