"""The bad-input matrix of the Sentinel-2 folder: what a clumsy user or an attacker would put beside a good
product. Each case is a real file or product; each ends in a skipped item with its reason, a warning, or
the dates it should give, and never in an exception or a silently wrong series."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from flair_qgis.core.bundle_spec import flair2_sentinel2_input
from flair_qgis.core.errors import Cancelled, InputError
from flair_qgis.core.sentinel2 import BANDS, discover, load_series
from tests.data.sentinel2.generate import (
    write_geotiff_date,
    write_safe_l1c_product,
    write_safe_product,
    write_theia_product,
)
from tests.rasters import write_raster

UTM = "EPSG:32631"
L93 = "EPSG:2154"
PRODUCT = (360000.0, 4830000.0, 361200.0, 4831200.0)
AREA = (560350.0, 6280950.0, 560650.0, 6281250.0)
GEOTIFF_BOUNDS = (559800.0, 6280600.0, 561000.0, 6281600.0)  # Lambert-93, around AREA and its margin
SPEC = flair2_sentinel2_input()
GOOD = date(2021, 6, 1)


def constant(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.full(x.shape, 1500.0 + 10 * BANDS.index(band))


def safe(folder: Path, day: str, **options) -> Path:
    return write_safe_product(folder, day, "31TCJ", UTM, PRODUCT, constant, **options)


def zip_folders(path: Path, folders: list[Path], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for folder in folders:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    archive.write(file, prefix + file.relative_to(folder.parent).as_posix())
    return path


def edit_metadata(product: Path, old: str, new: str) -> None:
    metadata = product / "MTD_MSIL2A.xml"
    text = metadata.read_text(encoding="utf-8")
    assert old in text
    metadata.write_text(text.replace(old, new), encoding="utf-8")


# --- the cases: each writes its item into the folder and returns what to expect ---------------------------
# ("skipped", file name, reason part) | ("dates", [dates]) | ("warning", text part, [dates])


def empty_zip(folder: Path):
    zipfile.ZipFile(folder / "S2A_MSIL2A_20210702T105331_N0500_R051_T31TCJ_20230523T123456.zip", "w").close()
    return "skipped", "S2A_MSIL2A_20210702T105331_N0500_R051_T31TCJ_20230523T123456.zip", "not a Sentinel-2"


def zero_byte_zip(folder: Path):
    (folder / "download.zip").write_bytes(b"")
    return "skipped", "download.zip", "corrupt or truncated zip"


def zip_of_two_products(folder: Path):
    staging = folder.parent / "staging"
    products = [safe(staging, "20210702"), safe(staging, "20210801")]
    zip_folders(folder / "two.zip", products)
    shutil.rmtree(staging)
    return "dates", [GOOD, date(2021, 7, 2), date(2021, 8, 1)]


def zip_with_the_product_in_a_subfolder(folder: Path):
    staging = folder.parent / "staging"
    zip_folders(folder / "export.zip", [safe(staging, "20210702")], prefix="downloads/")
    shutil.rmtree(staging)
    return "dates", [GOOD, date(2021, 7, 2)]


def product_of_another_year(folder: Path):
    safe(folder, "20210901")
    safe(folder, "20190615", zipped=True)
    return "warning", "2019-06-15", [date(2019, 6, 15), GOOD, date(2021, 9, 1)]


def level_1c_folder(folder: Path):
    product = write_safe_l1c_product(folder, "20210702", "31TCJ", UTM, PRODUCT, constant)
    return "skipped", product.name, "Level-1C"


def same_product_as_folder_and_zip(folder: Path):
    name = safe(folder.parent / "copy", "20210601", zipped=True)
    shutil.move(name, folder / name.name)
    return "dates", [GOOD]  # one date, not counted twice in its month


def empty_safe_folder(folder: Path):
    (folder / "S2B_MSIL2A_20210702T105331_N0500_R051_T31TCJ_20230523T123456.SAFE").mkdir()
    return "skipped", "S2B_MSIL2A_20210702T105331_N0500_R051_T31TCJ_20230523T123456.SAFE", "no MTD_MSIL2A.xml"


def metadata_that_is_not_xml(folder: Path):
    product = safe(folder, "20210702")
    (product / "MTD_MSIL2A.xml").write_bytes(b"\x89PNG\r\n\x1a\n not the metadata")
    return "skipped", product.name, "unreadable MTD_MSIL2A.xml"


def metadata_entity_bomb(folder: Path):
    product = safe(folder, "20210702")
    entities = '<!ENTITY a0 "aaaaaaaaaa">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    (product / "MTD_MSIL2A.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE n1 [{entities}]><n1>&a9;</n1>', encoding="utf-8"
    )
    return "skipped", product.name, "unreadable MTD_MSIL2A.xml"


def quantification_of_zero(folder: Path):
    product = safe(folder, "20210702")
    edit_metadata(
        product, '<BOA_QUANTIFICATION_VALUE unit="none">10000<', '<BOA_QUANTIFICATION_VALUE unit="none">0<'
    )
    return "skipped", product.name, "BOA_QUANTIFICATION_VALUE"


def offset_not_a_number(folder: Path):
    product = safe(folder, "20210702")
    edit_metadata(product, '<BOA_ADD_OFFSET band_id="1">-1000<', '<BOA_ADD_OFFSET band_id="1">nan<')
    return "skipped", product.name, "BOA_ADD_OFFSET"


def geotiff_with_an_impossible_date(folder: Path):
    data = np.full((10, 100, 120), 1200, np.uint16)
    write_geotiff_date(folder / "S2_2021-02-30.tif", L93, GEOTIFF_BOUNDS, data)
    return "skipped", "S2_2021-02-30.tif", "no acquisition date"


def geotiff_without_a_crs(folder: Path):
    write_raster(folder / "S2_2021-07-02.tif", np.full((10, 20, 20), 1200, np.uint16), crs=None)
    return "skipped", "S2_2021-07-02.tif", "no CRS"


def theia_without_a_band(folder: Path):
    product = write_theia_product(folder, "20210702", "31TCJ", UTM, PRODUCT, constant)
    next(product.glob("*_FRE_B8A.tif")).unlink()
    return "skipped", product.name, "FRE_B8A"


def first_band_linked_to_dev_zero(folder: Path):
    """A link to an endless device instead of a band: recognised as no image at once, never read."""
    product = safe(folder, "20210702")
    band = next(product.rglob("*_B02_10m.jp2"))
    band.unlink()
    band.symlink_to("/dev/zero")
    return "skipped", product.name, "not recognized"


def later_band_linked_to_dev_zero(folder: Path):
    """Only the first band is opened by discovery: a bad later band is found while reading, and only that
    product's date is dropped, with a warning naming it."""
    product = safe(folder, "20210702")
    band = next(product.rglob("*_B11_20m.jp2"))
    band.unlink()
    band.symlink_to("/dev/zero")
    return "warning", f"Skipped {product.name} (2021-07-02): unreadable", [GOOD]


def level_1c_contents_in_a_folder_of_another_name(folder: Path):
    product = write_safe_l1c_product(folder, "20210702", "31TCJ", UTM, PRODUCT, constant)
    product.rename(folder / "unpacked")
    return "skipped", "unpacked", "Level-1C"


def folder_named_like_a_zip(folder: Path):
    safe(folder / "products.zip", "20210702")
    return "dates", [GOOD, date(2021, 7, 2)]


CASES: list[Callable[[Path], tuple]] = [
    empty_zip,
    zero_byte_zip,
    zip_of_two_products,
    zip_with_the_product_in_a_subfolder,
    product_of_another_year,
    level_1c_folder,
    same_product_as_folder_and_zip,
    empty_safe_folder,
    metadata_that_is_not_xml,
    metadata_entity_bomb,
    quantification_of_zero,
    offset_not_a_number,
    geotiff_with_an_impossible_date,
    geotiff_without_a_crs,
    theia_without_a_band,
    first_band_linked_to_dev_zero,
    later_band_linked_to_dev_zero,
    level_1c_contents_in_a_folder_of_another_name,
    folder_named_like_a_zip,
]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_bad_item_beside_a_good_product(tmp_path: Path, case) -> None:
    folder = tmp_path / "s2"
    safe(folder, "20210601")
    expected = case(folder)
    catalog = discover(folder)
    series = load_series(catalog, L93, AREA, SPEC)
    skipped = {path.name: reason for path, reason in catalog.skipped}
    kind = expected[0]
    if kind == "skipped":
        _, name, reason = expected
        assert reason in skipped[name], skipped
        assert series.dates == [GOOD]
        assert any(name in w and reason in w for w in catalog.skipped_warnings())
    elif kind == "dates":
        assert not skipped, skipped
        assert series.dates == expected[1]
        assert not series.warnings
    else:
        _, text, dates = expected
        assert series.dates == dates
        assert any(text in w for w in series.warnings), series.warnings


def test_a_product_holding_only_nodata_over_the_area_is_a_clear_error(tmp_path: Path) -> None:
    write_safe_product(
        tmp_path, "20210601", "31TCJ", UTM, PRODUCT, lambda band, x, y: np.full(x.shape, np.nan)
    )
    with pytest.raises(InputError, match="hold no valid pixel"):
        load_series(tmp_path, L93, AREA, SPEC)


def test_several_readers_give_the_same_series_warnings_and_cancel(tmp_path: Path) -> None:
    """load_series with threads reading acquisitions ahead (readers, as a run's regions do) mosaics them
    in the same order: the same arrays, dates, sources and warnings as one reader, and a cancel stops it."""
    folder = tmp_path / "s2"
    for day in ("20210601", "20210615", "20210720", "20210801"):
        write_safe_product(
            folder,
            day,
            "31TCJ",
            UTM,
            PRODUCT,
            lambda band, x, y: 1000.0 + (x - PRODUCT[0]) / 7 + (y - PRODUCT[1]) / 11 + BANDS.index(band),
        )
    later_band_linked_to_dev_zero(folder)  # 2021-07-02: unreadable while reading, a warning
    catalog = discover(folder)
    one = load_series(catalog, L93, AREA, SPEC)
    three = load_series(catalog, L93, AREA, SPEC, readers=3)
    assert len(one.dates) == 4 and any("Skipped" in w for w in one.warnings)
    assert (three.dates, three.sources, three.warnings) == (one.dates, one.sources, one.warnings)
    np.testing.assert_array_equal(three.data, one.data)
    np.testing.assert_array_equal(three.masks, one.masks)
    asked = []
    with pytest.raises(Cancelled):
        load_series(
            catalog, L93, AREA, SPEC, readers=2, is_cancelled=lambda: asked.append(1) or len(asked) > 3
        )
