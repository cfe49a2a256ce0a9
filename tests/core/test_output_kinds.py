"""A new output is one entry of the table (core/output_kinds.py) plus its writer: a throw-away kind, the
margin of the winning class, becomes a command-line switch and a line of its list of outputs, and is
written with the map from the probabilities of each window; once it is gone, nothing of it is left.
tests/plugin/test_output_kinds.py sees the same kind in Processing and in the dialog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from flair_qgis.cli import asked_outputs, build_parser
from flair_qgis.core.output_kinds import (
    CONFIDENCE_NODATA,
    OutputFile,
    OutputKind,
    WindowValues,
    confidence_codes,
    output_kinds,
    registered,
)
from flair_qgis.core.outputs import OutputPaths
from tests.core import test_cli
from tests.core.test_cli import call
from tests.core.test_predict import expected_probabilities


class MarginRaster(OutputFile):
    """uint8 percent of the winning probability minus the runner-up's: how clearly the class won."""

    raster = True

    def open(self, out, temp: Path):
        return out.raster(temp, 1, nodata=CONFIDENCE_NODATA)

    def write(self, dataset, window, values: WindowValues) -> None:
        ranked = np.sort(values.probabilities, axis=0)
        dataset.write(confidence_codes(ranked[-1] - ranked[-2], values.outside), 1, window=window)


MARGIN = OutputKind(
    "margin", ".margin.tif", MarginRaster(), style="raster", layer="margin", visible=False, listing="margin",
    cli_flag="--margin", cli_help="also write the margin of the winning class", checkbox="Margin raster",
    parameter="MARGIN", description="Margin", help="GeoTIFF of the winning class's lead in percent.",
)  # fmt: skip


scene = test_cli.scene  # the command line's fixture: an ortho and an aerial bundle


def expected_margin(data: np.ndarray) -> np.ndarray:
    ranked = np.sort(expected_probabilities(data), axis=0)
    return np.rint((ranked[-1] - ranked[-2]) * 100).astype(np.uint8)


def test_a_registered_kind_is_a_switch_a_listed_output_and_a_written_file(tmp_path: Path, scene) -> None:
    path, data, bundle = scene
    with registered(MARGIN):
        args = build_parser().parse_args(
            ["predict", "--aerial", "a.tif", "--model", "m.onnx", "--out", "o.tif", "--margin"]
        )
        assert asked_outputs(args) == ["margin"]
        code, out, err = call(
            "predict", "--aerial", str(path), "--model", str(bundle), "--out", str(tmp_path / "map.tif"),
            "--margin", "--overlap", "8", "--threads", "1", "--quiet",
        )  # fmt: skip
        assert code == 0, err
        assert f"  margin          {tmp_path / 'map.margin.tif'}" in out.splitlines()
    with rasterio.open(tmp_path / "map.margin.tif") as src:
        stored = src.read(1).astype(int)
    assert np.abs(stored - expected_margin(data)).max() <= 1  # rounding of float32 differences
    assert not (tmp_path / "map.confidence.tif").exists()  # asking for one output asks for no other


def test_an_unswitched_kind_is_not_written_and_a_removed_kind_leaves_nothing(tmp_path: Path, scene) -> None:
    path, _, bundle = scene
    with registered(MARGIN):
        code, _, err = call(
            "predict", "--aerial", str(path), "--model", str(bundle), "--out", str(tmp_path / "map.tif"),
            "--threads", "1", "--quiet",
        )  # fmt: skip
        assert code == 0, err
    assert not (tmp_path / "map.margin.tif").exists()
    assert "margin" not in [kind.name for kind in output_kinds()]
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["predict", "--aerial", "a.tif", "--model", "m.onnx", "--out", "o.tif", "--margin"]
        )
    with pytest.raises(ValueError, match="margin"):
        OutputPaths.for_classes(tmp_path / "map.tif", margin=True)


def test_a_kind_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already exists"), registered(MARGIN), registered(MARGIN):
        pass
    assert "margin" not in [kind.name for kind in output_kinds()]


def test_every_optional_kind_has_its_own_file_beside_the_map(tmp_path: Path) -> None:
    names = [kind.name for kind in output_kinds() if kind.by_engine and kind.optional]
    paths = OutputPaths.for_classes(tmp_path / "map.v2.tif", **dict.fromkeys(names, True))
    assert paths.confidence == tmp_path / "map.v2.confidence.tif"
    assert paths.aux == tmp_path / "map.v2.tif.aux.xml"
    assert paths.qml == tmp_path / "map.v2.qml"
    assert len(set(paths.files.values())) == len(paths.files) == 7
