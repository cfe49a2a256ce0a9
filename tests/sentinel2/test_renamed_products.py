"""Products keep their identity whatever the user called the zip or folder: the tile and date come from the
product itself (the .SAFE or Theia folder inside a zip, or the metadata), not from a download id or a name
typed by hand. Real zips and folders of real layouts."""

from __future__ import annotations

import zipfile
from datetime import date

import numpy as np

from flair_qgis.core.bundle_spec import flair2_sentinel2_input
from flair_qgis.core.sentinel2 import BANDS, discover, load_series
from tests.data.sentinel2.generate import write_safe_product, write_theia_product

UTM = "EPSG:32631"
L93 = "EPSG:2154"
PRODUCT = (360000.0, 4830000.0, 361200.0, 4831200.0)
AREA = (560350.0, 6280950.0, 560650.0, 6281250.0)
SPEC = flair2_sentinel2_input()


def constant(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.full(x.shape, 1500.0 + 10 * BANDS.index(band))


def test_a_safe_zip_renamed_to_its_download_id_keeps_its_tile_and_date(tmp_path):
    product = write_safe_product(tmp_path, "20210614", "31TCJ", UTM, PRODUCT, constant, zipped=True)
    renamed = product.rename(tmp_path / "a1b2c3d4-5e6f-4a1b-9c2d-3e4f5a6b7c8d.zip")
    [acquisition] = discover(tmp_path).acquisitions
    assert (acquisition.kind, acquisition.tile, acquisition.date) == ("safe-zip", "31TCJ", date(2021, 6, 14))
    assert acquisition.path == renamed
    series = load_series(tmp_path, L93, AREA, SPEC)
    assert series.dates == [date(2021, 6, 14)] and series.sources == [[renamed.name]]
    np.testing.assert_allclose(series.data[0, 0], 1500, atol=1)


def test_the_product_inside_wins_over_a_misleading_zip_name(tmp_path):
    product = write_safe_product(tmp_path, "20210614", "31TCJ", UTM, PRODUCT, constant, zipped=True)
    product.rename(tmp_path / "S2_T32ULU_20230101.zip")  # another tile and date, written by hand
    [acquisition] = discover(tmp_path).acquisitions
    assert (acquisition.tile, acquisition.date) == ("31TCJ", date(2021, 6, 14))


def test_a_zip_without_the_safe_folder_is_named_by_its_metadata(tmp_path):
    """Some tools zip the contents of the .SAFE folder, not the folder: MTD_MSIL2A.xml's PRODUCT_URI names it."""
    folder = write_safe_product(tmp_path / "unpacked", "20210614", "31TCJ", UTM, PRODUCT, constant)
    flat = tmp_path / "download.zip"
    with zipfile.ZipFile(flat, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    [acquisition] = discover(flat).acquisitions
    assert (acquisition.kind, acquisition.tile, acquisition.date) == ("safe-zip", "31TCJ", date(2021, 6, 14))
    assert load_series(flat, L93, AREA, SPEC).dates == [date(2021, 6, 14)]


def test_a_renamed_theia_zip_keeps_its_tile_and_date(tmp_path):
    product = write_theia_product(tmp_path, "20210702", "31TCJ", UTM, PRODUCT, constant, zipped=True)
    product.rename(tmp_path / "123456789.zip")
    [acquisition] = discover(tmp_path).acquisitions
    assert (acquisition.kind, acquisition.tile, acquisition.date) == ("theia-zip", "31TCJ", date(2021, 7, 2))


def test_a_renamed_safe_folder_is_named_by_its_metadata(tmp_path):
    product = write_safe_product(tmp_path, "20210614", "31TCJ", UTM, PRODUCT, constant)
    renamed = product.rename(tmp_path / "june.SAFE")
    [acquisition] = discover(tmp_path).acquisitions
    assert (acquisition.kind, acquisition.tile, acquisition.date) == ("safe", "31TCJ", date(2021, 6, 14))
    assert acquisition.path == renamed


def test_the_contents_of_a_safe_unpacked_into_a_folder_of_another_name_are_a_product(tmp_path):
    """Unzipping the contents of a .SAFE (not the folder) into `download_123/` makes a folder whose only
    sign of a product is its MTD_MSIL2A.xml; given itself or found in a parent folder, it is read."""
    product = write_safe_product(tmp_path / "src", "20210614", "31TCJ", UTM, PRODUCT, constant)
    unpacked = tmp_path / "s2" / "download_123"
    unpacked.parent.mkdir()
    product.rename(unpacked)
    for given in (unpacked.parent, unpacked):
        [acquisition] = discover(given).acquisitions
        assert (acquisition.kind, acquisition.tile, acquisition.date) == ("safe", "31TCJ", date(2021, 6, 14))
    assert load_series(unpacked.parent, L93, AREA, SPEC).dates == [date(2021, 6, 14)]
