"""The throw-away output of tests/core/test_output_kinds.py, one table entry and its writer, in QGIS:
a destination parameter of flair:landcover written where the user chose, a check box of the dialog, and
a layer the dialog's run adds to the project."""

from __future__ import annotations

import numpy as np
import rasterio
from qgis.core import QgsProcessingParameterRasterDestination, QgsProject

from flair_qgis.core.output_kinds import registered
from flair_qgis.gui.dialog import FlairDialog
from flair_qgis.processing.predict_algorithm import LandCoverAlgorithm
from tests.core.test_output_kinds import MARGIN

from .test_run import _landcover, wait_for


def test_a_registered_kind_is_a_processing_destination_written_where_chosen(scene, flair_provider):
    with registered(MARGIN):
        algorithm = LandCoverAlgorithm().create()
        parameter = algorithm.parameterDefinition("MARGIN")
        assert isinstance(parameter, QgsProcessingParameterRasterDestination)
        assert (parameter.description(), parameter.flags() & parameter.Flag.FlagOptional) == (
            "Margin",
            parameter.Flag.FlagOptional,
        )
        chosen = scene.folder / "chosen" / "lead.tif"
        chosen.parent.mkdir()
        result = _landcover(scene, OUTPUT=str(scene.folder / "landcover.tif"), MARGIN=str(chosen))
    assert result["MARGIN"] == str(chosen)
    with rasterio.open(chosen) as written:
        margin = written.read(1)
    assert margin.shape == (128, 128) and margin.max() > 0
    assert not (scene.folder / "landcover.margin.tif").exists()  # where chosen, not beside the map
    assert LandCoverAlgorithm().create().parameterDefinition("MARGIN") is None  # gone with its entry


def test_a_registered_kind_is_a_dialog_check_box_and_a_layer_of_the_run(scene, qgis_iface):
    with registered(MARGIN):
        dialog = FlairDialog(qgis_iface)
        assert dialog.outputs.checks["margin"].text() == "Margin raster"
        dialog.model.file_widget.setFilePath(str(scene.bundle))
        dialog.outputs.file_widget.setFilePath(str(scene.folder / "landcover.tif"))
        dialog.outputs.checks["margin"].setChecked(True)
        dialog.advanced.device_combo.setCurrentIndex(dialog.advanced.device_combo.findData("cpu"))
        assert dialog.check() == []
        dialog.run()
        wait_for(dialog.task)
    group = QgsProject.instance().layerTreeRoot().findGroup("landcover")
    layers = {node.layer().name(): node for node in group.findLayers()}
    assert not layers["landcover - margin"].itemVisibilityChecked()
    with rasterio.open(layers["landcover - margin"].layer().source()) as written:
        assert np.count_nonzero(written.read(1)) > 0
    dialog.deleteLater()
