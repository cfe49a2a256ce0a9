"""The plugin loads into a real QGIS, adds its button, menu entry and Processing provider, and removes
them all when unloaded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from qgis.core import QgsApplication

import flair_qgis
from tests.plugin.results import write_result
from tests.qgis_profile import make_profile, run_qgis_desktop

DESKTOP_CHECK = textwrap.dedent(
    """
    import json
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QTimer
    from qgis.utils import iface, plugins, unloadPlugin

    def raster_menu():
        return [
            [menu.text(), action.objectName(), action.text()]
            for menu in iface.rasterMenu().actions() if menu.menu()
            for action in menu.menu().actions()
        ]

    def state():
        return {
            "toolbar": [a.objectName() for a in iface.pluginToolBar().actions()],
            "raster_menu": raster_menu(),
            "provider": QgsApplication.processingRegistry().providerById("flair") is not None,
        }

    result = {"loaded": "flair_qgis" in plugins, "before": state()}
    plugin = plugins["flair_qgis"]
    plugin.inspect_action.trigger()
    plugin.review_action.trigger()
    result["map_tool"] = type(iface.mapCanvas().mapTool()).__name__
    result["docks"] = [plugin.inspect_panel.isVisible(), plugin.review_dock.isVisible()]
    # No FLAIR map selected: the corrections button says what to select and changes nothing.
    result["corrections"] = plugin.edit_corrections() is None
    result["map_tool_after_corrections"] = type(iface.mapCanvas().mapTool()).__name__
    # A FLAIR map selected: its corrections open in edit mode with QGIS's polygon tool.
    from qgis.core import QgsProject, QgsRasterLayer
    classes = QgsRasterLayer(MAP, "map - classes")
    QgsProject.instance().addMapLayer(classes)
    iface.setActiveLayer(classes)
    corrections = plugin.edit_corrections()
    result["editing"] = [corrections.name(), corrections.isEditable(), iface.activeLayer() is corrections]
    result["digitizing_tool"] = type(iface.mapCanvas().mapTool()).__name__
    corrections.rollBack()
    result["unloaded"] = unloadPlugin("flair_qgis")
    result["after"] = state()
    with open(RESULT, "w") as f:
        json.dump(result, f)
    QTimer.singleShot(0, QgsApplication.instance().quit)
    """
)


def test_real_qgis_window_loads_and_unloads_the_plugin(tmp_path: Path) -> None:
    profiles = make_profile(tmp_path / "qgis")
    result_file = tmp_path / "result.json"
    classes = np.full((40, 40), 6, np.uint8)
    classes_path = write_result(tmp_path / "map.tif", classes).classes
    script = f"RESULT = {str(result_file)!r}\nMAP = {str(classes_path)!r}\n{DESKTOP_CHECK}"
    result = run_qgis_desktop(profiles, script, result_file)

    assert result["loaded"]
    before = result["before"]
    assert "flair_qgis_run" in before["toolbar"]
    assert ["&FLAIR land cover", "flair_qgis_run", "FLAIR land cover…"] in before["raster_menu"]
    assert before["provider"]
    # The review tools sit next to the FLAIR button and open their map tool and docks.
    toolbar = before["toolbar"]
    assert toolbar.index("flair_qgis_inspect") == toolbar.index("flair_qgis_run") + 1
    assert "flair_qgis_review" in toolbar and "flair_qgis_corrections" in toolbar
    assert result["map_tool"] == "InspectTool"
    assert result["docks"] == [True, True]
    assert result["corrections"] and result["map_tool_after_corrections"] == "InspectTool"
    assert result["editing"] == ["map - corrections", True, True]
    assert result["digitizing_tool"] in ("QgsMapToolAddFeature", "QgsMapToolDigitizeFeature")
    assert (tmp_path / "map.corrections.gpkg").is_file()

    assert result["unloaded"]
    after = result["after"]
    assert "flair_qgis_run" not in after["toolbar"]
    assert not {"flair_qgis_inspect", "flair_qgis_review", "flair_qgis_corrections"} & set(after["toolbar"])
    assert not [entry for entry in after["raster_menu"] if entry[1] == "flair_qgis_run"]
    assert not after["provider"]


def test_processing_provider_registers_in_this_qgis(qgis_app, qgis_iface) -> None:
    registry = QgsApplication.processingRegistry()
    plugin = flair_qgis.classFactory(qgis_iface)
    plugin.initGui()
    try:
        provider = registry.providerById("flair")
        assert provider is not None
        assert provider.name() == "FLAIR land cover"
        assert not provider.icon().isNull()
        assert plugin.action is not None and not plugin.action.icon().isNull()
    finally:
        plugin.unload()
    assert registry.providerById("flair") is None
    assert plugin.action is None
