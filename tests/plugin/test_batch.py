"""flair:landcover in Processing's batch mode: QGIS's own batch dialog, two rows, two maps."""

from __future__ import annotations

import time

import numpy as np
import rasterio
from qgis.core import QgsApplication
from qgis.PyQt import sip

from .conftest import expected_classes


def test_batch_dialog_runs_one_map_per_row(scene, flair_provider, qgis_iface):
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from processing.tools import dataobjects

    algorithm = QgsApplication.processingRegistry().algorithmById("flair:landcover")
    dialog = BatchAlgorithmDialog(algorithm.create(), parent=qgis_iface.mainWindow())
    panel = dialog.mainWidget()
    panel.checkLoadLayersOnCompletion.setChecked(False)
    panel.addRow()  # the panel starts with one row
    assert panel.batchRowCount() == 2

    context = dataobjects.createContext()
    outputs = [scene.folder / "batch_1.tif", scene.folder / "batch_2.tif"]
    inputs = {
        "AERIAL": scene.rgb,
        "NIR_LAYER": scene.irc,
        "ELEVATION_LAYER": scene.elevation,
        "BUNDLE": str(scene.bundle),
        "DEVICE": 2,
    }
    for row, output in enumerate(outputs):
        for name, value in inputs.items():
            panel.wrappers[row][panel.parameter_to_column[name]].setParameterValue(value, context)
        panel.tblParameters.cellWidget(row + 1, panel.parameter_to_column["OUTPUT"]).setValue(str(output))

    dialog.runAlgorithm()
    # QGIS 3.22 runs the rows before runAlgorithm() returns; newer releases run them in a task.
    deadline = time.monotonic() + 120
    # The statistics are among the last files of a map's set to appear.
    finished = [output.with_suffix(".stats.csv") for output in outputs] + outputs
    while time.monotonic() < deadline and not all(path.exists() for path in finished):
        QgsApplication.processEvents()
        time.sleep(0.05)

    for output in outputs:
        assert output.exists(), output
        with rasterio.open(output) as src:
            np.testing.assert_array_equal(src.read(1), expected_classes())
    if not sip.isdeleted(dialog):  # QGIS 3.44 closes and deletes it once the rows are done
        dialog.close()
