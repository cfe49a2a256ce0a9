"""int8 bundles refused when their map departs from the fp32 bundle's (a trained model's int8 bundle that
passes is tested with the trained models, in test_training.py)."""

from __future__ import annotations

import numpy as np
import pytest

from flair_training.export import ExportError, export_bundle
from flair_training.quantize import TileSamples, training_tiles

pytestmark = pytest.mark.usefixtures("one_thread")


def test_int8_export_refuses_a_map_it_does_not_keep(tmp_path, quick_utt, synthetic_root) -> None:
    model, spec = quick_utt
    samples = training_tiles([synthetic_root], spec, calibration=4, held_out=8)
    assert "test split" in samples.source and len(samples.held_out) == 8
    # calibrated on blank tiles: the activation ranges collapse, and with them the map
    blank = [{name: np.zeros_like(value) for name, value in feeds.items()} for feeds in samples.calibration]
    broken = TileSamples(blank, samples.held_out, "blank tiles")
    message = (
        r"does not keep the map: int8 vs fp32 bundle on 8 held-out tiles \(8192 pixels\): class agreement"
    )
    with pytest.raises(ExportError, match=message + r" \d+\.\d\d % \(at least 99 %\)"):
        export_bundle(model, spec, tmp_path / "int8.onnx", int8=broken)
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor a temporary file
    with pytest.raises(ExportError, match="A bundle is either fp16 or int8"):
        export_bundle(model, spec, tmp_path / "int8.onnx", int8=samples, fp16=True)
    assert list(tmp_path.iterdir()) == []
