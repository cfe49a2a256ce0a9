"""Valid but misleading input, run for real through `python -m flair_qgis predict`: each case gives a
warning on stdout and in the run's statistics file, or a clear error when nothing can be mapped."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.errors
import rasterio.warp

from flair_qgis.core.errors import InputError
from flair_qgis.core.geometry import ground_scale
from flair_qgis.core.rasters import RasterioSource
from tests.bundles import make_aerial_bundle
from tests.core.test_cli import python_m
from tests.core.test_predict import expected_classes
from tests.rasters import grid_transform, write_raster


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    make_aerial_bundle(tmp_path / "unet.onnx", tile_size=32)
    return tmp_path / "unet.onnx"


def ortho(tmp_path: Path, name: str = "ortho.tif", **options) -> Path:
    """A 5-band 8-bit ortho of 90 x 70 px at 0.2 m in Lambert-93, random values over the whole range."""
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    return write_raster(tmp_path / name, data, **options)


def run_cli(tmp_path: Path, aerial: Path, bundle: Path, *extra: str, out: str = "map.tif"):
    return python_m(
        "predict", "--aerial", str(aerial), "--model", str(bundle), "--out", out, "--quiet", *extra,
        cwd=tmp_path,
    )  # fmt: skip


def printed_warnings(stdout: str) -> list[str]:
    return [line.removeprefix("Warning: ") for line in stdout.splitlines() if line.startswith("Warning: ")]


def statistics(tmp_path: Path, out: str = "map.tif") -> dict:
    return json.loads((tmp_path / out).with_suffix(".stats.json").read_text(encoding="utf-8"))


# --- the statistics file holds the run's warnings ------------------------------------------------------


def test_the_statistics_file_lists_the_warnings_the_cli_prints_in_their_order(tmp_path: Path, bundle) -> None:
    aerial = ortho(tmp_path)
    (tmp_path / "s2").mkdir()
    done = run_cli(tmp_path, aerial, bundle, "--sentinel2", "s2")
    assert done.returncode == 0, done.stderr
    warnings = printed_warnings(done.stdout)
    assert warnings == ["The model is aerial-only: the Sentinel-2 folder is not used."]
    assert statistics(tmp_path)["warnings"] == warnings


def test_a_run_without_warnings_has_an_empty_list(tmp_path: Path, bundle) -> None:
    done = run_cli(tmp_path, ortho(tmp_path), bundle)
    assert done.returncode == 0, done.stderr
    assert printed_warnings(done.stdout) == []
    assert statistics(tmp_path)["warnings"] == []


def test_several_warnings_keep_the_order_they_were_found_in(tmp_path: Path, bundle) -> None:
    coarse = ortho(tmp_path, resolution=0.25)
    (tmp_path / "s2").mkdir()
    done = run_cli(tmp_path, coarse, bundle, "--sentinel2", "s2")
    assert done.returncode == 0, done.stderr
    warnings = printed_warnings(done.stdout)
    assert len(warnings) == 2
    assert "resampled to the model's 0.2 m" in warnings[0] and "aerial-only" in warnings[1]
    assert statistics(tmp_path)["warnings"] == warnings


# --- ground pixel size with the projection's scale factor ----------------------------------------------

PARIS = (2.35, 48.85)  # lon, lat


def projected(lonlat: tuple[float, float], crs: str) -> tuple[float, float]:
    xs, ys = rasterio.warp.transform("EPSG:4326", crs, [lonlat[0]], [lonlat[1]])
    return round(xs[0]), round(ys[0])


@pytest.mark.parametrize(
    ("crs", "lonlat", "expected", "tolerance"),
    [
        ("EPSG:32631", (3.0, 45.0), 0.9996, 1e-7),  # UTM's central meridian: its k0
        ("EPSG:2154", (3.0, 46.5), 0.99905, 1e-5),  # Lambert-93's central parallel: -1 m per km
        ("EPSG:3857", PARIS, 1 / math.cos(math.radians(PARIS[1])), 3e-3),  # the sphere's 1 / cos(lat)
    ],
)
def test_ground_scale_matches_the_projections_known_factors(crs, lonlat, expected, tolerance) -> None:
    assert ground_scale(crs, *projected(lonlat, crs)) == pytest.approx(expected, abs=tolerance)


def ground_area_m2(bounds: tuple[float, float, float, float], crs: str) -> float:
    """Area of a box of `crs` measured in Lambert-93 (whose scale in Paris is 0.99989)."""
    xmin, ymin, xmax, ymax = bounds
    ring = [[xmin + (xmax - xmin) * k / 50, ymin] for k in range(50)]
    ring += [[xmax, ymin + (ymax - ymin) * k / 50] for k in range(50)]
    ring += [[xmax - (xmax - xmin) * k / 50, ymax] for k in range(50)]
    ring += [[xmin, ymax - (ymax - ymin) * k / 50] for k in range(50)]
    xs, ys = rasterio.warp.transform(crs, "EPSG:2154", [p[0] for p in ring], [p[1] for p in ring])
    return abs(sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(xs)))) / 2


def test_web_mercator_over_france_maps_ground_pixels_and_ground_hectares(tmp_path: Path, bundle) -> None:
    x, y = projected(PARIS, "EPSG:3857")
    data = np.random.default_rng(3).integers(0, 256, (5, 80, 100), dtype=np.uint8)
    aerial = write_raster(tmp_path / "mercator.tif", data, crs="EPSG:3857", resolution=0.3, origin=(x, y))
    done = run_cli(tmp_path, aerial, bundle)
    assert done.returncode == 0, done.stderr

    with rasterio.open(tmp_path / "map.tif") as written:
        bounds, shape, classes = written.bounds, written.shape, written.read(1)
    # Lambert-93 measures the ground to 0.02 % in Paris: the model saw 0.2 m pixels there (EPSG:3857
    # stretches east-west and north-south distances 0.3 % apart: their mean is the gsd).
    xs, ys = rasterio.warp.transform(
        "EPSG:3857",
        "EPSG:2154",
        [bounds.left, bounds.right, bounds.left],
        [bounds.top, bounds.top, bounds.bottom],
    )
    across = math.hypot(xs[1] - xs[0], ys[1] - ys[0]) / shape[1]
    down = math.hypot(xs[2] - xs[0], ys[2] - ys[0]) / shape[0]
    assert across == pytest.approx(0.2, rel=3e-3) and down == pytest.approx(0.2, rel=3e-3)
    assert math.sqrt(across * down) == pytest.approx(0.2, rel=3e-4)

    document = statistics(tmp_path)
    assert document["classified_pixels"] == classes.size  # every pixel has data
    assert document["classified_hectares"] == pytest.approx(
        ground_area_m2(bounds, "EPSG:3857") / 1e4, rel=1e-3
    )
    assert document["pixel_area_m2"] == pytest.approx(0.04, rel=1e-3)
    warnings = printed_warnings(done.stdout)
    assert any(w.startswith("EPSG:3857 stretches ground distances by 1.52 here") for w in warnings), warnings
    assert document["warnings"] == warnings


@pytest.mark.parametrize(
    ("crs", "lonlat"),
    [("EPSG:2154", (9.2, 41.5)), ("EPSG:2154", (2.5, 51.0)), ("EPSG:32631", (6.0, 45.0))],
    ids=["lambert93-corsica", "lambert93-dunkirk", "utm31-zone-edge"],
)
def test_lambert93_and_utm_maps_do_not_change_where_their_scale_is_furthest_from_1(
    tmp_path: Path, bundle, crs: str, lonlat: tuple[float, float]
) -> None:
    origin = projected(lonlat, crs)
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    aerial = write_raster(tmp_path / "ortho.tif", data, crs=crs, origin=origin)
    done = run_cli(tmp_path, aerial, bundle)
    assert done.returncode == 0, done.stderr
    with rasterio.open(tmp_path / "map.tif") as written:
        assert written.transform == grid_transform(0.2, origin)
        np.testing.assert_array_equal(written.read(1), expected_classes(data))
    document = statistics(tmp_path)
    assert document["pixel_area_m2"] == 0.2 * 0.2 * 1.0  # the CRS's own area, as before
    assert document["warnings"] == []


# --- the values looked at against the bundle's declared range (0..255) ----------------------------------


def warned(tmp_path: Path, aerial: Path, bundle: Path, *extra: str) -> list[str]:
    """The warnings of a successful CLI run, checked to be the statistics file's too."""
    done = run_cli(tmp_path, aerial, bundle, "--overwrite", *extra)
    assert done.returncode == 0, done.stderr
    warnings = printed_warnings(done.stdout)
    assert statistics(tmp_path)["warnings"] == warnings
    return warnings


def values(dtype: str, low: float, high: float, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (5, 70, 90)).astype(dtype)


def test_8_bit_values_in_a_16_bit_file_are_257_times_too_dark(tmp_path: Path, bundle) -> None:
    aerial = write_raster(tmp_path / "ortho16.tif", values("uint16", 0, 255))
    [warning] = warned(tmp_path, aerial, bundle)
    assert (
        "ortho16.tif: its values lie in 0..254" in warning
        and "what its uint16 type holds (0..65535)" in warning
    )
    assert "scaled to the model's 0..255" in warning
    assert "257 times too dark" in warning and "gdal_translate -ot Byte" in warning


def test_12_bit_values_in_a_16_bit_file_are_too_dark_until_declared(tmp_path: Path, bundle) -> None:
    data = values("uint16", 0, 4095)
    [warning] = warned(tmp_path, write_raster(tmp_path / "ortho12.tif", data), bundle)
    assert "in 0..4094" in warning and "16 times too dark" in warning and "NBITS=12" in warning
    assert warned(tmp_path, write_raster(tmp_path / "nbits12.tif", data, nbits=12), bundle) == []


def test_reflectance_between_0_and_1_is_far_too_dark(tmp_path: Path, bundle) -> None:
    [warning] = warned(tmp_path, write_raster(tmp_path / "float.tif", values("float32", 0, 1)), bundle)
    assert re.search(r"float\.tif: its values lie in 0\.\d+\.\.1 but the model expects 0\.\.255", warning)
    assert "far too dark" in warning and "gdal_translate -scale 0 1 0 255" in warning


def test_floats_beyond_the_models_range_are_clipped(tmp_path: Path, bundle) -> None:
    data = values("float32", 0, 1000)
    [warning] = warned(tmp_path, write_raster(tmp_path / "wide.tif", data), bundle)
    assert "wide.tif: 7" in warning and "outside the model's 0..255" in warning and "clipped" in warning


def test_a_constant_band_is_named(tmp_path: Path, bundle) -> None:
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    data[3] = 0  # an empty NIR band
    [warning] = warned(tmp_path, write_raster(tmp_path / "no_nir.tif", data), bundle)
    assert "no_nir.tif: band 4 (the model's 'nir') holds the single value 0 all over the area" in warning


def test_nodata_and_pixels_outside_the_area_are_left_out_of_the_sample(tmp_path: Path, bundle) -> None:
    data = values("uint16", 0, 255)
    data[:, :, 45:] = 65535  # nodata on the right half
    aerial = write_raster(tmp_path / "half.tif", data, nodata=65535)
    [warning] = warned(tmp_path, aerial, bundle)
    assert "in 0..254" in warning
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    data[3, :, 45:] = 0  # the NIR band is empty on the right half only: outside the area
    aerial = write_raster(tmp_path / "left.tif", data)
    assert warned(tmp_path, aerial, bundle, "--area", "650000,6859986,650009,6860000") == []
    assert len(warned(tmp_path, aerial, bundle, "--area", "650009,6859986,650018,6860000")) == 1


def test_reflectance_in_a_16_bit_file_for_a_reflectance_model_is_too_dark_until_float(tmp_path: Path) -> None:
    spec = make_aerial_bundle(tmp_path / "probe.onnx", tile_size=32).to_dict()
    spec["inputs"]["aerial"].update(value_range=[0.0, 10000.0], scale=[1e-4] * 5)
    make_aerial_bundle(tmp_path / "reflectance.onnx", tile_size=32, metadata=json.dumps(spec))
    bundle = tmp_path / "reflectance.onnx"
    data = values("uint16", 0, 10000)
    [warning] = warned(tmp_path, write_raster(tmp_path / "reflectance16.tif", data), bundle)
    assert "scaled to the model's 0..10000" in warning and "6.55 times too dark" in warning
    assert "gdal_translate -ot Float32" in warning
    as_float = write_raster(tmp_path / "reflectance32.tif", data.astype("float32"))
    assert warned(tmp_path, as_float, bundle) == []
    eight_bit = write_raster(tmp_path / "ortho8.tif", values("uint8", 0, 255))
    assert warned(tmp_path, eight_bit, bundle) == []  # 0..255 is scaled onto 0..10000


# --- empty results: refused, nothing written, a previous map kept ----------------------------------------


def refused(tmp_path: Path, aerial: Path, bundle: Path, *extra: str) -> str:
    """stderr of a CLI run that must be refused with one clear error and a hint, leaving no new file."""
    before = sorted(p.name for p in tmp_path.iterdir())
    done = run_cli(tmp_path, aerial, bundle, *extra)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("Error: ") and "\nHint: " in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    return done.stderr


def test_an_all_nodata_aerial_is_refused_and_the_previous_map_kept(tmp_path: Path, bundle) -> None:
    empty = write_raster(tmp_path / "empty.tif", np.zeros((5, 70, 90), np.uint8), nodata=0)
    (tmp_path / "map.tif").write_bytes(b"the previous map")
    error = refused(tmp_path, empty, bundle, "--overwrite")
    assert "No aerial pixel has data in the area: the map would be empty; nothing was written." in error
    assert "nodata value" in error
    assert (tmp_path / "map.tif").read_bytes() == b"the previous map"


def test_an_area_where_every_pixel_is_nodata_is_refused(tmp_path: Path, bundle) -> None:
    data = np.random.default_rng(2).integers(1, 256, (5, 70, 90), dtype=np.uint8)
    data[:, :, :45] = 0  # nodata on the left half (x < 650009)
    aerial = write_raster(tmp_path / "half.tif", data, nodata=0)
    error = refused(tmp_path, aerial, bundle, "--area", "650001,6859990,650008,6859999")
    assert "No aerial pixel has data in the area" in error


def test_an_area_mostly_without_data_gives_a_warning(tmp_path: Path, bundle) -> None:
    data = np.random.default_rng(2).integers(1, 256, (5, 70, 90), dtype=np.uint8)
    data[:, :, :45] = 0
    aerial = write_raster(tmp_path / "half.tif", data, nodata=0)
    warnings = warned(tmp_path, aerial, bundle, "--area", "650000,6859986,650012,6860000")
    assert warnings == [
        "Only 25% of the area has aerial data: the rest of the map is nodata. Check the image's nodata value "
        "and that the area lies on the image."
    ]


def area_file(tmp_path: Path, ring: list[list[float]]) -> Path:
    path = tmp_path / "area.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "Feature",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "ring",
    [
        [[650001, 6859999], [650005, 6859995], [650009, 6859991], [650001, 6859999]],  # on one line
        [[650001, 6859999], [650001, 6859999], [650001, 6859999], [650001, 6859999]],  # one point
    ],
    ids=["line", "point"],
)
def test_a_zero_area_polygon_is_refused_naming_the_problem(tmp_path: Path, bundle, ring) -> None:
    aerial = ortho(tmp_path)
    error = refused(tmp_path, aerial, bundle, "--area-file", str(area_file(tmp_path, ring)))
    assert "area's polygon has no area: its points lie on one line or one point" in error


def test_a_degenerate_box_is_refused(tmp_path: Path, bundle) -> None:
    error = refused(tmp_path, ortho(tmp_path), bundle, "--area", "650001,6859990,650001,6859999")
    assert "The area's bounds are empty or inverted" in error


def test_an_area_narrower_than_a_pixel_is_refused(tmp_path: Path, bundle) -> None:
    sliver = [[650001.01, 6859999], [650001.05, 6859999], [650001.05, 6859990], [650001.01, 6859990]]
    error = refused(tmp_path, ortho(tmp_path), bundle, "--area-file", str(area_file(tmp_path, sliver)))
    assert "The area of interest covers no pixel of the map: it is narrower than a pixel (0.2 m)" in error


# --- a VRT whose source is missing ------------------------------------------------------------------------


def write_mosaic(tmp_path: Path) -> Path:
    """A VRT mosaic of two real GeoTIFFs side by side (left.tif x < 650009, right.tif beyond), as
    gdalbuildvrt writes it, sources relative to the VRT."""
    data = np.random.default_rng(2).integers(0, 256, (5, 70, 90), dtype=np.uint8)
    (tmp_path / "tiles").mkdir()
    write_raster(tmp_path / "tiles" / "left.tif", data[:, :, :45])
    write_raster(tmp_path / "tiles" / "right.tif", data[:, :, 45:], origin=(650009.0, 6860000.0))
    bands = []
    for band in range(1, 6):
        sources = "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="1">tiles/{name}</SourceFilename>'
            f"<SourceBand>{band}</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="45" ySize="70"/>'
            f'<DstRect xOff="{offset}" yOff="0" xSize="45" ySize="70"/></SimpleSource>'
            for name, offset in (("left.tif", 0), ("right.tif", 45))
        )
        bands.append(f'<VRTRasterBand dataType="Byte" band="{band}">{sources}</VRTRasterBand>')
    vrt = tmp_path / "mosaic.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="90" rasterYSize="70"><SRS>EPSG:2154</SRS>'
        "<GeoTransform>650000, 0.2, 0, 6860000, 0, -0.2</GeoTransform>" + "".join(bands) + "</VRTDataset>"
    )
    return vrt


@pytest.fixture
def mosaic(tmp_path: Path) -> Path:
    return write_mosaic(tmp_path)


def test_a_vrt_whose_source_was_deleted_names_the_missing_file(tmp_path: Path, bundle, mosaic) -> None:
    assert run_cli(tmp_path, mosaic, bundle, out="whole.tif").returncode == 0
    (tmp_path / "tiles" / "right.tif").unlink()
    error = refused(tmp_path, mosaic, bundle)
    assert (
        f"Reading {mosaic} failed: it refers to {tmp_path / 'tiles' / 'right.tif'}, which does not exist"
        in error
    )
    assert "(GDAL: " in error and "No such file or directory" in error
    assert "Put the missing file back where the VRT expects it, or rebuild the VRT" in error
    assert "See previous exception" not in error and "corrupt" not in error
    # The part of the mosaic whose source is there is still mapped.
    assert run_cli(tmp_path, mosaic, bundle, "--area", "650001,6859990,650008,6859999").returncode == 0


def test_the_read_error_keeps_gdals_error_as_its_cause(tmp_path: Path, mosaic) -> None:
    (tmp_path / "tiles" / "left.tif").unlink()
    with (
        RasterioSource(mosaic) as source,
        pytest.raises(InputError, match=r"left\.tif, which does not") as caught,
    ):
        source.read([1], "EPSG:2154", (650000, 6859986, 650018, 6860000), (70, 90))
    assert isinstance(caught.value.__cause__, rasterio.errors.RasterioIOError)


# --- more values a clumsy user or a broken export gives ---------------------------------------------------


def test_several_constant_bands_give_one_warning(tmp_path: Path, bundle) -> None:
    black = write_raster(tmp_path / "black.tif", np.zeros((5, 70, 90), np.uint8))
    assert warned(tmp_path, black, bundle) == [
        f"{black}: bands 1, 2, 3, 4, 5 (the model's 'red', 'green', 'blue', 'nir', 'elevation') each hold a "
        "single value (0, 0, 0, 0, 0) all over the area: check that these are the right bands and that they "
        "have data (empty bands give a wrong map)."
    ]


def test_infinite_and_negative_values_are_reported_as_clipped(tmp_path: Path, bundle) -> None:
    data = values("float32", 0, 255)
    data[:, :, :30] = np.inf
    [warning] = warned(tmp_path, write_raster(tmp_path / "inf.tif", data), bundle)
    assert re.search(r"inf\.tif: 3\d% of its values are infinite; they are clipped", warning)
    assert "Set them to the file's nodata value" in warning
    signed = values("int16", -300, 255)
    [warning] = warned(tmp_path, write_raster(tmp_path / "signed.tif", signed), bundle)
    assert re.search(
        r"signed\.tif: \d+% of its values lie outside the model's 0\.\.255 \(they lie in -29", warning
    )


def test_a_float_image_of_nan_without_a_nodata_value_is_refused_as_empty(tmp_path: Path, bundle) -> None:
    nan = write_raster(tmp_path / "nan.tif", np.full((5, 70, 90), np.nan, np.float32))
    assert "No aerial pixel has data in the area" in refused(tmp_path, nan, bundle)


@pytest.mark.parametrize(
    ("dtype", "low", "high", "fill", "then"),
    [
        ("uint16", 0, 255, 65535, "257 times too dark"),  # 8-bit values in a 16-bit file with a white collar
        ("float32", 0, 1, -9999, "far too dark"),  # reflectance with an undeclared -9999
    ],
)
def test_an_undeclared_fill_value_is_named_and_left_out_of_the_range(
    tmp_path: Path, bundle, dtype, low, high, fill, then
) -> None:
    data = values(dtype, low, high)
    data[:, :20, :] = fill  # a collar without data, no nodata value declared
    warnings = warned(tmp_path, write_raster(tmp_path / "collar.tif", data), bundle)
    assert len(warnings) == 2, warnings
    assert re.search(rf"collar\.tif: 2\d% of its pixels hold {fill}, far from its other values", warnings[0])
    assert f"gdal_edit -a_nodata {fill} FILE" in warnings[0]
    assert then in warnings[1]


def test_real_16_bit_imagery_saturated_at_its_top_is_not_taken_for_a_fill(tmp_path: Path, bundle) -> None:
    data = values("uint16", 0, 65535)
    data[:, :20, :] = 65535  # saturated, next to values up to 65534
    assert warned(tmp_path, write_raster(tmp_path / "bright.tif", data), bundle) == []


def test_an_image_of_two_values_has_no_fill_value_to_guess(tmp_path: Path, bundle) -> None:
    data = np.full((5, 70, 90), 40, np.uint16)
    data[:, :, 60:] = 200  # 8-bit values in a 16-bit file, two of them: neither is taken for a fill
    [warning] = warned(tmp_path, write_raster(tmp_path / "two.tif", data), bundle)
    assert "its values lie in 40..200" in warning and "257 times too dark" in warning


def test_web_mercator_sentinel2_windows_cover_the_models_ground(tmp_path: Path) -> None:
    """In EPSG:3857 the Sentinel-2 grid of a run is 10 m on the ground (15.2 CRS units at Paris), not 10
    CRS units: each window covers the 400 m of ground the model was trained on, as in Lambert-93."""
    from flair_qgis.core.aerial import open_aerial
    from flair_qgis.core.bundle_spec import flair2_aerial_input, flair2_sentinel2_input
    from flair_qgis.core.sentinel2 import load_series, on_ground
    from tests.data.sentinel2.generate import write_geotiff_date

    x, y = projected(PARIS, "EPSG:3857")
    data = np.random.default_rng(4).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    aerial = write_raster(tmp_path / "mercator.tif", data, crs="EPSG:3857", resolution=0.3, origin=(x, y))
    spec = flair2_sentinel2_input(40)
    with open_aerial(flair2_aerial_input(64), aerial) as composition:
        grid = composition.grid_for(None)
    assert grid.scale == pytest.approx(1.52, rel=0.01)
    folder = tmp_path / "s2"
    folder.mkdir()
    centre_x, centre_y = rasterio.warp.transform("EPSG:3857", "EPSG:2154", [x], [y])
    box = (centre_x[0] - 600, centre_y[0] - 600, centre_x[0] + 600, centre_y[0] + 600)
    write_geotiff_date(
        folder / "S2_2021-06-18.tif", "EPSG:2154", box, np.full((10, 120, 120), 900, np.float32)
    )

    series = load_series(folder, grid.crs, grid.bounds, on_ground(spec, grid.scale))

    assert series.grid.gsd == pytest.approx(10 * grid.scale)
    window_ground = spec.window_size * series.grid.gsd / grid.scale
    assert window_ground == pytest.approx(400.0)
    assert on_ground(spec, 1.0) is spec  # Lambert-93 and UTM runs are unchanged
