"""Writes small Sentinel-2 fixtures in the exact on-disk formats the plugin reads.

Every writer takes the values to store as functions or arrays, so tests (and the demo) choose fields
that can be checked by hand: constants per band and date, gradients, known cloudy dates.
Run as a script to write a sample of each format into a folder: `python generate.py OUT_DIR`.
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

#: FLAIR band order and the resolution of each band in the products (metres).
BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
BAND_GSD = {
    "B2": 10,
    "B3": 10,
    "B4": 10,
    "B8": 10,
    "B5": 20,
    "B6": 20,
    "B7": 20,
    "B8A": 20,
    "B11": 20,
    "B12": 20,
}


def write_flair_super_area(
    folder: str | Path,
    domain: str,
    zone: str,
    data: np.ndarray,
    masks: np.ndarray,
    products: Sequence[str],
) -> Path:
    """Write one zone's `SEN2_sp_<domain>-<zone>_data.npy`, `_masks.npy` and `_products.txt`.

    data: T x 10 x H x W (uint16 as in the dataset, any dtype accepted), masks: T x 2 x H x W uint8.
    Returns the path of the `_data.npy`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / f"SEN2_sp_{domain}-{zone}"
    np.save(f"{prefix}_data.npy", data)
    np.save(f"{prefix}_masks.npy", masks)
    Path(f"{prefix}_products.txt").write_text("".join(p + "\n" for p in products), encoding="utf-8")
    return Path(f"{prefix}_data.npy")


def write_flair_centroids(path: str | Path, centroids: dict[str, tuple[int, int]]) -> Path:
    """Write `flair-2_centroids_sp_to_patch.json`: {"IMG_<id>.tif": [row, col]}."""
    path = Path(path)
    path.write_text(json.dumps({k: [int(r), int(c)] for k, (r, c) in centroids.items()}), encoding="utf-8")
    return path


def safe_product_name(day: str, tile: str, baseline: str = "05.00", satellite: str = "S2A") -> str:
    """ESA L2A product name for an acquisition on `day` (YYYYMMDD): S2A_MSIL2A_<day>T105331_N0500_..."""
    return f"{satellite}_MSIL2A_{day}T105331_N{baseline.replace('.', '')}_R051_T{tile}_20230523T123456"


def theia_product_name(day: str, tile: str, satellite: str = "SENTINEL2A") -> str:
    """Theia/MAJA L2A product name: SENTINEL2A_<day>-105852-555_L2A_T<tile>_C_V2-2."""
    return f"{satellite}_{day}-105852-555_L2A_T{tile}_C_V2-2"


#: Function giving a value per pixel from the map coordinates (x, y) of the pixel centres (2-D arrays).
Field = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: Function giving a band's reflectance x 10000 from the band name and pixel centre coordinates.
BandField = Callable[[str, np.ndarray, np.ndarray], np.ndarray]

SAFE_BAND_FILES = {
    "B2": ("B02", 10),
    "B3": ("B03", 10),
    "B4": ("B04", 10),
    "B5": ("B05", 20),
    "B6": ("B06", 20),
    "B7": ("B07", 20),
    "B8": ("B08", 10),
    "B8A": ("B8A", 20),
    "B11": ("B11", 20),
    "B12": ("B12", 20),
}
#: band_id of every band in MTD_MSIL2A.xml (B1 .. B12 with B8A after B8).
SAFE_BAND_IDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
SAFE_BAND_RESOLUTION = {"B1": 60, "B9": 60, "B10": 60, **{b: r for b, (_, r) in SAFE_BAND_FILES.items()}}


def pixel_centres(bounds: tuple[float, float, float, float], gsd: float) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the pixel centres (H x W each) of a north-up grid over `bounds` at `gsd` metres."""
    xmin, ymin, xmax, ymax = bounds
    width, height = round((xmax - xmin) / gsd), round((ymax - ymin) / gsd)
    xs = xmin + (np.arange(width) + 0.5) * gsd
    ys = ymax - (np.arange(height) + 0.5) * gsd
    return np.meshgrid(xs, ys)


def grid_transform(bounds: tuple[float, float, float, float], gsd: float):
    """The affine transform of a north-up grid whose top-left corner is (xmin, ymax)."""
    return Affine(gsd, 0.0, bounds[0], 0.0, -gsd, bounds[3])


def write_raster(
    path: Path, array: np.ndarray, crs: str, transform, driver: str = "GTiff", nodata: float | None = None
) -> Path:
    """Write a 2-D or bands x H x W array; JPEG2000 is written lossless as ESA's products are."""
    array = array[None] if array.ndim == 2 else array
    options = {"QUALITY": "100", "REVERSIBLE": "YES", "YCBCR420": "NO"} if driver == "JP2OpenJPEG" else {}
    if driver == "GTiff":
        options = (
            {"TILED": "YES", "COMPRESS": "DEFLATE"} if array.shape[-1] >= 16 and array.shape[-2] >= 16 else {}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": driver,
        "width": array.shape[2],
        "height": array.shape[1],
        "count": array.shape[0],
        "dtype": array.dtype,
        "crs": crs,
        "transform": transform,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile, **options) as dst:
        dst.write(array)
    return path


def _mtd_msil2a(name: str, day: str, baseline: str, offset: int | None, saturated: int = 65535) -> str:
    spectral = "\n".join(
        f'          <Spectral_Information bandId="{i}" physicalBand="{b}"><RESOLUTION>{SAFE_BAND_RESOLUTION[b]}</RESOLUTION></Spectral_Information>'
        for i, b in enumerate(SAFE_BAND_IDS)
    )
    offsets = ""
    if offset is not None:
        lines = "\n".join(
            f'          <BOA_ADD_OFFSET band_id="{i}">{offset}</BOA_ADD_OFFSET>'
            for i in range(len(SAFE_BAND_IDS))
        )
        offsets = f"        <BOA_ADD_OFFSET_VALUES_LIST>\n{lines}\n        </BOA_ADD_OFFSET_VALUES_LIST>\n"
    start = f"{day[:4]}-{day[4:6]}-{day[6:]}T10:53:31.024Z"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
      <PRODUCT_URI>{name}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>
      </Special_Values>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_INDEX>{saturated}</SPECIAL_VALUE_INDEX>
      </Special_Values>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
        <WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
{offsets}      <Spectral_Information_List>
{spectral}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""


def _zip_folder(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder.parent).as_posix())
    shutil.rmtree(folder)
    return zip_path


def write_safe_product(
    folder: str | Path,
    day: str,
    tile: str,
    utm_crs: str,
    bounds: tuple[float, float, float, float],
    band_values_fn: BandField,
    cloud_fn: Field | None = None,
    snow_fn: Field | None = None,
    processing_baseline: str = "05.00",
    zipped: bool = False,
    scl_fn: Field | None = None,
    probability_masks: bool = True,
    saturated: int = 65535,
) -> Path:
    """Write an ESA L2A product `<name>.SAFE` (or `<name>.zip` holding it) over UTM `bounds`.

    band_values_fn gives reflectance x 10000; the DN written is reflectance - BOA_ADD_OFFSET (offset
    -1000 from baseline 04.00), clipped to 1..65535 so that 0 stays nodata; a NaN value writes DN 0 and an
    infinite one the saturated DN that the metadata declares (`saturated`, 65535 as in ESA's products).
    cloud_fn/snow_fn give probabilities 0..100 (at 20 m) for QI_DATA/MSK_CLDPRB_20m.jp2 and
    MSK_SNWPRB_20m.jp2 (zeros when None; left out when probability_masks is False); scl_fn gives the
    scene classification written as R20m/*_SCL_20m.jp2 (4 = vegetation when None).
    """
    folder = Path(folder)
    name = safe_product_name(day, tile, processing_baseline)
    root = folder / f"{name}.SAFE"
    offset = -1000 if float(processing_baseline) >= 4.0 else None
    stamp = f"{day}T105331"
    granule = root / "GRANULE" / f"L2A_T{tile}_A029085_{stamp}" / "IMG_DATA"
    for band, (token, gsd) in SAFE_BAND_FILES.items():
        x, y = pixel_centres(bounds, gsd)
        values = np.asarray(band_values_fn(band, x, y), dtype=np.float64)
        dn = np.where(np.isnan(values), 0, np.clip(np.round(values - (offset or 0)), 1, 65535))
        dn = np.where(np.isinf(values), saturated, dn)
        path = granule / f"R{gsd}m" / f"T{tile}_{stamp}_{token}_{gsd}m.jp2"
        write_raster(path, dn.astype(np.uint16), utm_crs, grid_transform(bounds, gsd), "JP2OpenJPEG")
    x, y = pixel_centres(bounds, 20)
    scl = scl_fn(x, y) if scl_fn else np.full(x.shape, 4)
    write_raster(
        granule / "R20m" / f"T{tile}_{stamp}_SCL_20m.jp2",
        np.asarray(scl, np.uint8),
        utm_crs,
        grid_transform(bounds, 20),
        "JP2OpenJPEG",
    )
    if probability_masks:
        qi = granule.parent / "QI_DATA"
        for file, fn in (("MSK_CLDPRB_20m.jp2", cloud_fn), ("MSK_SNWPRB_20m.jp2", snow_fn)):
            values = fn(x, y) if fn else np.zeros(x.shape)
            write_raster(
                qi / file, np.asarray(values, np.uint8), utm_crs, grid_transform(bounds, 20), "JP2OpenJPEG"
            )
    (root / "MTD_MSIL2A.xml").write_text(
        _mtd_msil2a(name, day, processing_baseline, offset, saturated), encoding="utf-8"
    )
    return _zip_folder(root, folder / f"{name}.zip") if zipped else root


def write_safe_l1c_product(
    folder: str | Path,
    day: str,
    tile: str,
    utm_crs: str,
    bounds: tuple[float, float, float, float],
    band_values_fn: BandField,
    zipped: bool = False,
) -> Path:
    """Write an ESA Level-1C product `<name>.SAFE` (or its zip): MTD_MSIL1C.xml and the top-of-atmosphere
    bands at their native resolution in GRANULE/L1C_<tile>_.../IMG_DATA/T<tile>_<time>_B02.jp2 (no R10m
    folders, unlike Level-2A), DN = reflectance x 10000 + 1000 as from baseline 04.00."""
    folder = Path(folder)
    name = safe_product_name(day, tile).replace("MSIL2A", "MSIL1C")
    root = folder / f"{name}.SAFE"
    stamp = f"{day}T105331"
    granule = root / "GRANULE" / f"L1C_T{tile}_A029085_{stamp}" / "IMG_DATA"
    for band, (token, gsd) in SAFE_BAND_FILES.items():
        x, y = pixel_centres(bounds, gsd)
        dn = np.clip(np.round(np.asarray(band_values_fn(band, x, y), np.float64) + 1000), 1, 65535)
        path = granule / f"T{tile}_{stamp}_{token}.jp2"
        write_raster(path, dn.astype(np.uint16), utm_crs, grid_transform(bounds, gsd), "JP2OpenJPEG")
    (root / "MTD_MSIL1C.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<n1:Level-1C_User_Product '
        'xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd"><n1:General_Info>'
        f"<Product_Info><PRODUCT_URI>{name}.SAFE</PRODUCT_URI><PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>"
        "<PRODUCT_TYPE>S2MSI1C</PRODUCT_TYPE></Product_Info></n1:General_Info></n1:Level-1C_User_Product>\n",
        encoding="utf-8",
    )
    return _zip_folder(root, folder / f"{name}.zip") if zipped else root


#: Theia products keep each band at its native resolution, as ESA's do.
THEIA_GSD = BAND_GSD
#: Bit of each band in the saturation masks SAT_R1 (10 m bands) and SAT_R2 (20 m bands).
THEIA_SATURATION_BITS = {
    "B2": 0,
    "B3": 1,
    "B4": 2,
    "B8": 3,
    "B5": 0,
    "B6": 1,
    "B7": 2,
    "B8A": 3,
    "B11": 4,
    "B12": 5,
}


def write_theia_product(
    folder: str | Path,
    day: str,
    tile: str,
    utm_crs: str,
    bounds: tuple[float, float, float, float],
    band_values_fn: BandField,
    cloud_bits_fn: Field | None = None,
    geophysical_bits_fn: Field | None = None,
    zipped: bool = False,
) -> Path:
    """Write a Theia/MAJA L2A product folder (or zip) over UTM `bounds`.

    band_values_fn gives reflectance x 10000 written as int16 `_FRE_<band>.tif` (NaN -> -10000, the
    nodata; an infinite value is a saturated pixel: 32767 and its band's bit set in MASKS/_SAT_R1.tif,
    bits 0..3 for B2 B3 B4 B8, or _SAT_R2.tif, bits 0..5 for B5 B6 B7 B8A B11 B12); cloud_bits_fn gives MASKS/_CLM_R1.tif (uint8 bits: 1..4 and 7 clouds, 5 and 6 shadows) and
    geophysical_bits_fn MASKS/_MG2_R1.tif (bit 0 water, bit 2 snow, ...), both at 10 m.
    """
    folder = Path(folder)
    name = theia_product_name(day, tile)
    root = folder / name
    saturation = {10: 0, 20: 0}
    for band, gsd in THEIA_GSD.items():
        x, y = pixel_centres(bounds, gsd)
        values = np.asarray(band_values_fn(band, x, y), dtype=np.float64)
        fre = np.where(np.isnan(values), -10000, np.clip(np.round(values), -9999, 32767)).astype(np.int16)
        write_raster(
            root / f"{name}_FRE_{band}.tif", fre, utm_crs, grid_transform(bounds, gsd), nodata=-10000
        )
        bit = THEIA_SATURATION_BITS[band]
        saturation[gsd] = saturation[gsd] | np.where(np.isinf(values), 1 << bit, 0)
    for gsd, suffix in ((10, "SAT_R1"), (20, "SAT_R2")):
        sat = np.broadcast_to(saturation[gsd], pixel_centres(bounds, gsd)[0].shape).astype(np.uint8)
        write_raster(root / "MASKS" / f"{name}_{suffix}.tif", sat, utm_crs, grid_transform(bounds, gsd))
    x, y = pixel_centres(bounds, 10)
    for suffix, fn in (("CLM_R1", cloud_bits_fn), ("MG2_R1", geophysical_bits_fn)):
        values = fn(x, y) if fn else np.zeros(x.shape)
        write_raster(
            root / "MASKS" / f"{name}_{suffix}.tif",
            np.asarray(values, np.uint8),
            utm_crs,
            grid_transform(bounds, 10),
        )
    (root / f"{name}_MTD_ALL.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Muscate_Metadata_Document><Dataset_Identification>'
        f"<IDENTIFIER>{name}</IDENTIFIER></Dataset_Identification></Muscate_Metadata_Document>\n",
        encoding="utf-8",
    )
    return _zip_folder(root, folder / f"{name}.zip") if zipped else root


def write_geotiff_date(
    path: str | Path,
    crs: str,
    bounds: tuple[float, float, float, float],
    data: np.ndarray,
    masks: np.ndarray | None = None,
) -> Path:
    """A per-date GeoTIFF: data 10 x H x W (FLAIR band order, float32 with NaN nodata or integers) at 10 m
    over `bounds`, and optionally `<stem>_masks.tif` (2 x H x W [snow, cloud])."""
    path = Path(path)
    transform = grid_transform(bounds, (bounds[2] - bounds[0]) / data.shape[-1])
    nodata = float("nan") if data.dtype.kind == "f" else None
    write_raster(path, data, crs, transform, nodata=nodata)
    if masks is not None:
        write_raster(path.with_name(path.stem + "_masks.tif"), masks.astype(np.uint8), crs, transform)
    return path


def write_geotiff_stack(
    path: str | Path,
    crs: str,
    bounds: tuple[float, float, float, float],
    data: np.ndarray,
    dates: Sequence[str],
    masks: np.ndarray | None = None,
) -> Path:
    """A stacked GeoTIFF: data T x 10 x H x W written as 10 T bands date after date, `<stem>_dates.txt`
    with one date per line, and optionally `<stem>_masks.tif` (2 T bands [snow, cloud] per date)."""
    path = Path(path)
    t = data.shape[0]
    transform = grid_transform(bounds, (bounds[2] - bounds[0]) / data.shape[-1])
    nodata = float("nan") if data.dtype.kind == "f" else None
    write_raster(path, data.reshape(t * 10, *data.shape[2:]), crs, transform, nodata=nodata)
    path.with_name(path.stem + "_dates.txt").write_text("".join(d + "\n" for d in dates), encoding="utf-8")
    if masks is not None:
        write_raster(
            path.with_name(path.stem + "_masks.tif"),
            masks.reshape(t * 2, *masks.shape[2:]).astype(np.uint8),
            crs,
            transform,
        )
    return path


def main(out: str) -> None:
    """Write one sample of each format into `out` (used to eyeball them in QGIS)."""
    out_dir = Path(out)
    bounds = (360000.0, 4830000.0, 361000.0, 4831000.0)

    def gradient(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 1000 + 100 * BANDS.index(band) + (x - bounds[0]) * 0.5 + (y - bounds[1]) * 0.25

    write_safe_product(out_dir, "20210114", "31TCJ", "EPSG:32631", bounds, gradient)
    write_safe_product(out_dir, "20210214", "31TCJ", "EPSG:32631", bounds, gradient, zipped=True)
    write_theia_product(out_dir, "20210320", "31TCJ", "EPSG:32631", bounds, gradient)
    print(f"Wrote sample products into {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sentinel2_samples")
