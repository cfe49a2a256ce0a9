"""A new product format is a module and one entry of catalog.PRODUCT_FORMATS: a throw-away "toy" format
(a folder `<date>.TOY` holding one 10-band GeoTIFF, or a zip of one) is found in a folder, given directly,
and zipped, with its own kind, and its series loads like any other."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from flair_qgis.core.errors import InputError
from flair_qgis.core.sentinel2 import catalog, discover, load_series
from flair_qgis.core.sentinel2.stacks import per_date_layout
from tests.data.sentinel2.generate import write_geotiff_date

from .test_products import AREA, L93, SPEC


def _toy_folder(folder: Path) -> list:
    return [(per_date_layout(folder / "bands.tif", None, None), "", folder.stem)]


def _toy_zip(path: Path, names: list[str], archive: zipfile.ZipFile) -> list:
    member = next(n for n in names if n.endswith("bands.tif"))
    inside = f"/vsizip/{path.resolve().as_posix()}/{member}"  # GDAL reads the band through the zip
    layout = per_date_layout(Path(member), None, None)
    bands = tuple(dataclasses.replace(band, path=inside) for band in layout.bands)
    return [(dataclasses.replace(layout, bands=bands), "", member.split("/")[0].removesuffix(".TOY"))]


TOY = catalog.ProductFormat(
    "toy",
    "toy-zip",
    lambda folder: folder.name.endswith(".TOY"),
    _toy_folder,
    lambda names: any(n.endswith(".TOY/bands.tif") for n in names),
    _toy_zip,
)


@pytest.fixture
def toy_format(monkeypatch):
    monkeypatch.setattr(catalog, "PRODUCT_FORMATS", (*catalog.PRODUCT_FORMATS, TOY))


def _write_toy(folder: Path, level: float) -> Path:
    bounds = (560000.0, 6280800.0, 561000.0, 6281600.0)
    data = np.full((10, 80, 100), level, np.float32)
    folder.mkdir(parents=True)
    write_geotiff_date(folder / "bands.tif", L93, bounds, data)
    return folder


def test_a_tabled_format_is_found_given_directly_and_zipped(tmp_path, toy_format):
    root = tmp_path / "s2"
    _write_toy(root / "20210403.TOY", 100.0)
    product = _write_toy(tmp_path / "zipped" / "20210502.TOY", 200.0)
    with zipfile.ZipFile(root / "download.zip", "w") as archive:
        archive.write(product / "bands.tif", "20210502.TOY/bands.tif")

    found = discover(root)
    assert found.skipped == []
    assert [(a.kind, a.date) for a in found.acquisitions] == [
        ("toy", date(2021, 4, 3)),
        ("toy-zip", date(2021, 5, 2)),
    ]
    series = load_series(found, L93, AREA, SPEC)
    np.testing.assert_array_equal(series.data[:, 0, 0, 0], [100.0, 200.0])
    assert [a.kind for a in discover(root / "20210403.TOY").acquisitions] == ["toy"]


def test_without_its_entry_the_format_is_not_a_product(tmp_path):
    root = tmp_path / "s2"
    _write_toy(root / "20210403.TOY", 100.0)
    with pytest.raises(InputError, match=r"bands\.tif: no acquisition date in the name"):
        discover(root)  # the folder is searched: its GeoTIFF has no date in its own name
