"""The dialog and the review dock in French, in the real QGIS, with the translation the plugin installs
when QGIS runs in French."""

from __future__ import annotations

import pytest

from flair_qgis.gui import tr as translation


@pytest.fixture
def french():
    assert translation.install_translation("fr_FR") == "fr"
    yield
    translation.remove_translation()


def test_the_dialog_speaks_french(french, scene, qgis_iface):
    from flair_qgis.gui.dialog import FlairDialog

    dialog = FlairDialog(qgis_iface)
    assert dialog.windowTitle() == "Occupation du sol FLAIR"
    assert dialog.run_button.text() == "Lancer"
    assert dialog.outputs.checks["review_zones"].text().startswith("Zones à revoir")
    dialog.outputs.file_widget.setFilePath(str(scene.folder / "missing_folder" / "map.tif"))
    problems = dialog.check()
    assert any("n'existe pas" in problem for problem in problems), problems
    dialog.deleteLater()


def test_the_review_dock_speaks_french(french, qgis_canvas, qgis_new_project):
    from flair_qgis.gui.review_dock import ReviewDock

    dock = ReviewDock(qgis_canvas)
    assert dock.windowTitle() == "Revue FLAIR"
    assert dock.confirm_button.text() == "Confirmée"
    assert dock.zone_label.text().startswith("Pas de zones à revoir")
    dock.deleteLater()


def test_english_stays_without_a_french_locale(qgis_iface, scene):
    from flair_qgis.gui.dialog import FlairDialog

    assert translation.install_translation("en_US") is None
    dialog = FlairDialog(qgis_iface)
    assert dialog.run_button.text() == "Run"
    dialog.deleteLater()
