"""Aerial input on real GeoTIFFs: band composition, resampling, value scaling, reprojection, areas of
interest, and a clear InputError for each kind of bad input."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from flair_qgis.core.aerial import AerialBand, AerialComposition, open_aerial
from flair_qgis.core.area import AreaOfInterest, parse_wkt
from flair_qgis.core.bundle_spec import BandScaling, flair2_aerial_input
from flair_qgis.core.errors import InputError
from flair_qgis.core.geometry import OutputGrid
from flair_qgis.core.rasters import RasterioSource
from tests.rasters import (
    LAMBERT93,
    ORIGIN,
    grid_transform,
    ramp,
    write_corrupt,
    write_raster,
    write_truncated,
)

X0, Y0 = ORIGIN
SPEC = flair2_aerial_input(tile_size=64)


def test_one_five_band_file_is_read_as_it_is(tmp_path):
    data = ramp(5, 8, 10)
    path = write_raster(tmp_path / "ortho.tif", data)
    with open_aerial(SPEC, path) as aerial:
        grid = aerial.grid_for()
        assert (grid.width, grid.height) == (10, 8)
        assert grid.transform == grid_transform(0.2)
        assert CRS.from_wkt(grid.crs) == CRS.from_epsg(2154)
        raw, valid = aerial.read(grid, Window(2, 1, 3, 2))
    assert raw.dtype == np.float32 and raw.shape == (5, 2, 3)
    np.testing.assert_array_equal(raw, data[:, 1:3, 2:5])
    assert valid.all()


def test_composition_from_three_files_lands_each_band(tmp_path):
    rgb = write_raster(tmp_path / "rgb.tif", np.stack([np.full((6, 6), v, np.uint8) for v in (11, 12, 13)]))
    irc = write_raster(tmp_path / "irc.tif", np.stack([np.full((6, 6), v, np.uint8) for v in (21, 22, 23)]))
    dem = write_raster(tmp_path / "dem.tif", np.full((6, 6), 31, np.uint8))
    bands = [(rgb, 1), (rgb, 2), (rgb, 3), (irc, 1), (dem, 1)]
    with open_aerial(SPEC, bands) as aerial:
        assert len(aerial.sources) == 3  # rgb.tif opened once for its three bands
        grid = aerial.grid_for()
        raw, valid = aerial.read(grid, grid.window)
    assert [float(band[0, 0]) for band in raw] == [11, 12, 13, 21, 31]
    assert valid.all()


def test_rgb_and_irc_jpeg2000_orthos_compose_with_an_elevation_geotiff(tmp_path):
    rgb_data, irc_data = ramp(3, 16, 16, start=1), ramp(3, 16, 16, start=50)
    rgb = write_raster(tmp_path / "ortho_rgb.jp2", rgb_data, driver="JP2OpenJPEG")
    irc = write_raster(tmp_path / "ortho_irc.jp2", irc_data, driver="JP2OpenJPEG")
    dem = write_raster(tmp_path / "dem.tif", ramp(1, 16, 16, start=7))
    with open_aerial(SPEC, [(rgb, 1), (rgb, 2), (rgb, 3), (irc, 1), (dem, 1)]) as aerial:
        grid = aerial.grid_for()
        raw, valid = aerial.read(grid, Window(3, 5, 8, 8))
    assert valid.all()
    np.testing.assert_array_equal(raw[:3], rgb_data[:, 5:13, 3:11])
    np.testing.assert_array_equal(raw[3], irc_data[0, 5:13, 3:11])  # IRC band 1 is near infrared
    np.testing.assert_array_equal(raw[4], ramp(1, 16, 16, start=7)[0, 5:13, 3:11])


def test_a_0_4_m_source_is_resampled_bilinearly_to_0_2_m(tmp_path):
    rows, cols = np.mgrid[0:4, 0:4]
    path = write_raster(tmp_path / "coarse.tif", (40 * rows + 10 * cols).astype(np.uint8), resolution=0.4)
    source = RasterioSource(path)
    with AerialComposition([AerialBand(source, 1)] * 5, SPEC) as aerial:
        grid = aerial.grid_for()
        assert (grid.width, grid.height, grid.resolution) == (8, 8, 0.2)
        raw, valid = aerial.read(grid, grid.window)
        assert any("resampled" in w for w in aerial.warnings)
    # Target pixel (r, c) has its centre at source position (r/2 - 1/4, c/2 - 1/4): on a linear ramp,
    # bilinear interpolation gives 40 * (r/2 - 1/4) + 10 * (c/2 - 1/4) inside the source's centres.
    assert raw[0, 1, 1] == pytest.approx(12.5)
    assert raw[0, 2, 3] == pytest.approx(42.5)
    assert raw[0, 6, 5] == pytest.approx(40 * 2.75 + 10 * 2.25)
    assert valid.all()


def test_resampled_windows_agree_inside_the_image_and_past_its_edge(tmp_path):
    rows, cols = np.mgrid[0:4, 0:4]
    path = write_raster(tmp_path / "coarse.tif", (40 * rows + 10 * cols).astype(np.uint8), resolution=0.4)
    with AerialComposition([AerialBand(RasterioSource(path), 1)] * 5, SPEC) as aerial:
        grid = aerial.grid_for()
        inside, _ = aerial.read(grid, grid.window)  # read as a resampled window of the file
        beyond, valid = aerial.read(grid, Window(-2, -2, 12, 12))  # warped: it reaches past the file
    assert valid[2:10, 2:10].all() and valid.sum() == 64
    np.testing.assert_allclose(beyond[:, 2:10, 2:10], inside, atol=1e-3)


def test_resampling_leaves_nodata_out_of_the_interpolation(tmp_path):
    coarse = np.full((4, 4), 100, np.uint8)
    coarse[0, 0] = 0
    path = write_raster(tmp_path / "coarse.tif", coarse, resolution=0.4, nodata=0)
    with AerialComposition([AerialBand(RasterioSource(path), 1)] * 5, SPEC) as aerial:
        grid = aerial.grid_for()
        raw, valid = aerial.read(grid, grid.window)
    expected = np.ones((8, 8), bool)
    expected[:2, :2] = False  # the four 0.2 m pixels inside the 0.4 m nodata pixel
    np.testing.assert_array_equal(valid, expected)
    assert (raw[:, valid] == 100).all()  # never blended with the nodata value


def test_16_bit_values_are_scaled_from_their_full_range_or_the_declared_one(tmp_path):
    values = np.array([[0, 257, 25700, 65535]], np.uint16)
    wide = write_raster(tmp_path / "wide.tif", values)
    twelve = write_raster(tmp_path / "twelve.tif", np.array([[0, 4095, 2048, 100]], np.uint16), nbits=12)
    wide_source, twelve_source = RasterioSource(wide), RasterioSource(twelve)
    bands = [
        AerialBand(wide_source, 1),
        AerialBand(twelve_source, 1),
        AerialBand(wide_source, 1, input_range=(0, 25700)),
        AerialBand(wide_source, 1),
        AerialBand(wide_source, 1),
    ]
    with AerialComposition(bands, SPEC) as aerial:
        grid = aerial.grid_for()
        raw, _ = aerial.read(grid, grid.window)
    np.testing.assert_allclose(raw[0, 0], [0, 1, 100, 255], atol=1e-4)
    np.testing.assert_allclose(raw[1, 0], [0, 255, 2048 * 255 / 4095, 100 * 255 / 4095], atol=1e-4)
    np.testing.assert_allclose(raw[2, 0], [0, 257 * 255 / 25700, 255, 255], atol=1e-4)  # clipped above


def test_a_source_in_another_crs_is_reprojected_with_a_warning(tmp_path):
    ortho = write_raster(tmp_path / "ortho.tif", np.full((4, 20, 20), 50, np.uint8))  # 4 m x 4 m
    # The elevation in UTM 31N, covering the ortho with two metres to spare.
    west, _, east, north = rasterio.warp.transform_bounds(LAMBERT93, "EPSG:32631", X0, Y0 - 4, X0 + 4, Y0)
    dem = write_raster(
        tmp_path / "dem_utm.tif",
        np.full((40, 40), 77, np.uint8),
        crs="EPSG:32631",
        origin=(west - 2, north + 2),
        resolution=(east - west + 4) / 40,
    )
    bands = [(ortho, 1), (ortho, 2), (ortho, 3), (ortho, 4), (dem, 1)]
    with open_aerial(SPEC, bands) as aerial:
        assert any("reprojected" in w and "dem_utm.tif" in w for w in aerial.warnings)
        grid = aerial.grid_for()
        assert (grid.transform.c, grid.transform.f, grid.width, grid.height) == (X0, Y0, 20, 20)
        raw, valid = aerial.read(grid, grid.window)
    assert valid.all()
    assert (raw[:4] == 50).all() and (raw[4] == 77).all()


def test_sources_handed_in_stay_open_and_opened_ones_are_closed(tmp_path):
    path = write_raster(tmp_path / "ortho.tif", ramp(5, 4, 4))
    mine = RasterioSource(path)
    with AerialComposition([AerialBand(mine, b) for b in range(1, 6)], SPEC) as aerial:
        aerial.read(aerial.grid_for(), Window(0, 0, 2, 2))
    assert not mine._handles[0].closed
    with open_aerial(SPEC, path) as aerial:
        aerial.read(aerial.grid_for(), Window(0, 0, 2, 2))
        opened = aerial.sources[0]
    assert opened._handles == []
    mine.close()


def test_a_south_up_first_raster_is_refused(tmp_path):
    flipped = Affine(0.2, 0, X0, 0, 0.2, Y0)
    path = write_raster(tmp_path / "flipped.tif", np.zeros((5, 4, 4), np.uint8), transform=flipped)
    with pytest.raises(InputError, match=r"flipped\.tif is not a north-up raster"):
        open_aerial(SPEC, path)


def test_a_crs_without_transformation_is_refused_with_its_reason(tmp_path):
    ortho = write_raster(tmp_path / "ortho.tif", np.zeros((4, 4, 4), np.uint8))
    local = 'LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    dem = write_raster(tmp_path / "dem_local.tif", np.zeros((4, 4), np.uint8), crs=local, origin=(0, 4))
    with pytest.raises(InputError, match=r"dem_local\.tif is in 'site grid', which cannot be transformed"):
        open_aerial(SPEC, [(ortho, 1), (ortho, 2), (ortho, 3), (ortho, 4), (dem, 1)])


def test_nodata_in_any_band_makes_the_pixel_invalid(tmp_path):
    data = np.full((5, 3, 3), 9, np.uint8)
    data[1, 0, 2] = 0
    path = write_raster(tmp_path / "ortho.tif", data, nodata=0)
    with open_aerial(SPEC, path) as aerial:
        grid = aerial.grid_for()
        raw, valid = aerial.read(grid, grid.window)
    expected = np.ones((3, 3), bool)
    expected[0, 2] = False
    np.testing.assert_array_equal(valid, expected)
    assert (raw[:, 0, 2] == 0).all() and (raw[:, valid] == 9).all()


def test_a_window_beyond_the_image_is_invalid_outside_it(tmp_path):
    data = ramp(5, 4, 4)
    path = write_raster(tmp_path / "ortho.tif", data)
    with open_aerial(SPEC, path) as aerial:
        grid = aerial.grid_for()
        raw, valid = aerial.read(grid, Window(-2, -1, 6, 6))
    assert valid[1:5, 2:6].all() and valid.sum() == 16
    np.testing.assert_array_equal(raw[:, 1:5, 2:6], data)


def test_normalisation_applies_scale_mean_and_std_per_band(tmp_path):
    scaling = BandScaling((1 / 255,) * 5, (0.5, 0.5, 0.5, 0.0, 0.0), (0.25, 0.25, 0.25, 0.5, 2.0))
    spec = flair2_aerial_input(tile_size=64, scaling=scaling)
    path = write_raster(tmp_path / "ortho.tif", np.full((5, 2, 2), 255, np.uint8))
    with open_aerial(spec, path) as aerial:
        raw, _ = aerial.read(aerial.grid_for(), Window(0, 0, 2, 2))
        model_input = aerial.normalise(raw)
    assert model_input.dtype == np.float32
    np.testing.assert_allclose(model_input[:, 0, 0], [2.0, 2.0, 2.0, 2.0, 0.5], rtol=1e-6)


def test_reads_from_another_thread_use_their_own_handle(tmp_path):
    data = ramp(5, 6, 6)
    path = write_raster(tmp_path / "ortho.tif", data)
    with open_aerial(SPEC, path) as aerial:
        grid = aerial.grid_for()
        results = {}
        thread = threading.Thread(target=lambda: results.update(raw=aerial.read(grid, grid.window)[0]))
        thread.start()
        thread.join()
        np.testing.assert_array_equal(results["raw"], data)
        assert len(aerial.sources[0]._handles) == 2


# --- areas of interest -------------------------------------------------------------------------------


def test_a_box_area_snaps_outward_to_the_aerial_grid(tmp_path):
    path = write_raster(tmp_path / "ortho.tif", np.zeros((5, 50, 50), np.uint8))
    area = AreaOfInterest.from_bounds((X0 + 1.03, Y0 - 3.05, X0 + 2.5, Y0 - 1.0), LAMBERT93)
    with open_aerial(SPEC, path) as aerial:
        grid = aerial.grid_for(area)
    assert grid.transform.c == pytest.approx(X0 + 1.0) and grid.transform.f == pytest.approx(Y0 - 1.0)
    assert (grid.width, grid.height) == (8, 11)  # x 1.0..2.6, y -3.2..-1.0
    assert area.mask(grid).all()
    # On a wider window, the mask marks exactly the grid's pixels.
    mask = area.mask(grid, Window(-1, -1, 10, 13))
    assert mask.sum() == 8 * 11 and mask[1:12, 1:9].all()


def test_a_box_area_is_clipped_to_the_image(tmp_path):
    path = write_raster(tmp_path / "ortho.tif", np.zeros((5, 10, 10), np.uint8))
    area = AreaOfInterest.from_bounds((X0 - 5, Y0 - 1, X0 + 1, Y0 + 5), LAMBERT93)
    with open_aerial(SPEC, path) as aerial:
        grid = aerial.grid_for(area)
    assert (grid.transform.c, grid.transform.f, grid.width, grid.height) == (X0, Y0, 5, 5)


def _triangle(crs: str) -> list[list[float]]:
    """The triangle (0, 0), (2.1, 0), (0, -2.1) m from the image's corner, its vertices in `crs`."""
    xs, ys = [X0, X0 + 2.1, X0, X0], [Y0, Y0, Y0 - 2.1, Y0]
    if crs != LAMBERT93:
        xs, ys = rasterio.warp.transform(LAMBERT93, crs, xs, ys)
    return [[x, y] for x, y in zip(xs, ys, strict=True)]


def test_a_polygon_area_masks_the_pixels_whose_centre_is_inside(tmp_path):
    path = write_raster(tmp_path / "ortho.tif", np.zeros((5, 20, 20), np.uint8))
    ring = _triangle(LAMBERT93)
    wkt = "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    rows, cols = np.mgrid[0:11, 0:11]
    expected = rows + cols <= 9  # centre (0.1 + 0.2 c, -0.1 - 0.2 r) inside when x - y < 2.1
    with open_aerial(SPEC, path) as aerial:
        area = AreaOfInterest.from_wkt(wkt, LAMBERT93)
        grid = aerial.grid_for(area)
        assert (grid.width, grid.height) == (11, 11)
        np.testing.assert_array_equal(area.mask(grid), expected)
        np.testing.assert_array_equal(area.mask(grid, Window(5, 0, 5, 10)), expected[:10, 5:10])


def test_a_geojson_polygon_in_wgs84_is_reprojected(tmp_path):
    path = write_raster(tmp_path / "ortho.tif", np.zeros((5, 20, 20), np.uint8))
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [_triangle("EPSG:4326")]},
    }
    geojson = tmp_path / "area.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    rows, cols = np.mgrid[0:11, 0:11]
    with open_aerial(SPEC, path) as aerial:
        area = AreaOfInterest.from_geojson_file(geojson)
        grid = aerial.grid_for(area)
        assert (grid.width, grid.height) == (11, 11)
        np.testing.assert_array_equal(area.mask(grid), rows + cols <= 9)


def test_a_geojson_crs_member_is_honoured():
    text = json.dumps(
        {
            "type": "Polygon",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
            "coordinates": [_triangle(LAMBERT93)],
        }
    )
    area = AreaOfInterest.from_geojson(text)
    assert area.crs == "EPSG:2154"
    assert area.bounds_in(LAMBERT93) == pytest.approx((X0, Y0 - 2.1, X0 + 2.1, Y0))


def test_wkt_multipolygons_with_z_are_read():
    geometry = parse_wkt("MULTIPOLYGON Z (((0 0 5, 1 0 5, 1 1 5, 0 0 5)), ((2 2 1, 3 2 1, 3 3 1, 2 2 1)))")
    assert geometry["type"] == "MultiPolygon"
    assert geometry["coordinates"][1][0][1] == [3, 2, 1]
    area = AreaOfInterest.from_wkt("SRID=2154;MULTIPOLYGON Z (((0 0 5, 1 0 5, 1 1 5, 0 0 5)))", LAMBERT93)
    assert area.geometry["coordinates"][0][0][1] == [1.0, 0.0]


# --- bad input: each a clear InputError --------------------------------------------------------------


def test_a_three_band_file_where_five_are_needed_is_refused(tmp_path):
    path = write_raster(tmp_path / "rgb_only.tif", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(
        InputError, match=r"rgb_only\.tif has 3 bands; the model needs 5 \(red, green"
    ) as info:
        open_aerial(SPEC, path)
    assert "compose" in info.value.hint


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.tif does not exist"):
        open_aerial(SPEC, tmp_path / "nowhere.tif")


def test_a_corrupt_file_is_refused(tmp_path):
    path = write_corrupt(tmp_path / "broken.tif")
    with pytest.raises(InputError, match=r"broken\.tif cannot be read as a raster"):
        open_aerial(SPEC, path)


def test_a_truncated_file_fails_on_read_with_its_name(tmp_path):
    path = write_truncated(tmp_path / "cut.tif")
    with open_aerial(SPEC, path) as aerial, pytest.raises(InputError, match=r"Reading .*cut\.tif failed"):
        grid = aerial.grid_for()
        aerial.read(grid, grid.window)


def test_a_band_index_out_of_range_is_refused(tmp_path):
    rgb = write_raster(tmp_path / "rgb.tif", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(InputError, match=r"Band 4 asked of .*rgb\.tif for 'nir', but it has 3 bands"):
        open_aerial(SPEC, [(rgb, 1), (rgb, 2), (rgb, 3), (rgb, 4), (rgb, 1)])


def test_an_area_outside_the_image_is_refused(tmp_path):
    path = write_raster(tmp_path / "ortho.tif", np.zeros((5, 4, 4), np.uint8))
    far = AreaOfInterest.from_bounds((X0 + 100, Y0 - 100, X0 + 110, Y0 - 90), LAMBERT93)
    with open_aerial(SPEC, path) as aerial, pytest.raises(InputError, match="outside the aerial image"):
        aerial.grid_for(far)


def test_sources_that_do_not_overlap_are_refused(tmp_path):
    ortho = write_raster(tmp_path / "ortho.tif", np.zeros((4, 4, 4), np.uint8))
    dem = write_raster(tmp_path / "dem_elsewhere.tif", np.zeros((4, 4), np.uint8), origin=(X0 + 500, Y0))
    with pytest.raises(InputError, match=r"do not overlap: .*dem_elsewhere\.tif"):
        open_aerial(SPEC, [(ortho, 1), (ortho, 2), (ortho, 3), (ortho, 4), (dem, 1)])


def test_a_raster_without_crs_or_in_degrees_is_refused(tmp_path):
    bare = write_raster(tmp_path / "bare.tif", np.zeros((5, 4, 4), np.uint8), crs=None)
    with pytest.raises(InputError, match=r"bare\.tif has no coordinate reference system"):
        open_aerial(SPEC, bare)
    degrees = write_raster(
        tmp_path / "wgs84.tif",
        np.zeros((5, 4, 4), np.uint8),
        crs="EPSG:4326",
        origin=(2, 48),
        resolution=1e-5,
    )
    with pytest.raises(InputError, match="geographic CRS"):
        open_aerial(SPEC, degrees)


@pytest.mark.parametrize(
    "make",
    [
        lambda: AreaOfInterest.from_wkt("POINT (1 2)", LAMBERT93),
        lambda: AreaOfInterest.from_geojson('{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}'),
        lambda: AreaOfInterest.from_geojson("{not json"),
        lambda: AreaOfInterest.from_bounds((5, 0, 1, 1), LAMBERT93),
    ],
)
def test_areas_that_are_not_polygons_are_refused(make):
    with pytest.raises(InputError):
        make()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: AreaOfInterest.from_wkt("POLYGON ((0 0, 1 1, 2 2, 0 0))", LAMBERT93),
            "The area's polygon has no area",
        ),
        (
            lambda: AreaOfInterest.from_geojson({"type": "MultiPolygon", "coordinates": [[[[3, 45]] * 4]]}),
            "The area's polygon has no area",
        ),
        (  # a hole as large as its polygon
            lambda: AreaOfInterest.from_wkt(
                "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (0 0, 0 4, 4 4, 4 0, 0 0))", LAMBERT93
            ),
            "The area's polygon has no area",
        ),
        (lambda: AreaOfInterest.from_bounds((5, 0, 5, 1), LAMBERT93), "The area's bounds are empty"),
    ],
    ids=["wkt-on-a-line", "geojson-one-point", "hole-as-large-as-polygon", "zero-width-box"],
)
def test_areas_without_area_are_refused_naming_the_problem(make, message):
    with pytest.raises(InputError, match=message) as info:
        make()
    assert "no area" in info.value.message or "empty or inverted" in info.value.message
    assert info.value.hint


def test_a_thin_but_real_polygon_is_kept():
    sliver = AreaOfInterest.from_wkt(
        f"POLYGON (({X0} {Y0}, {X0 + 100} {Y0}, {X0} {Y0 + 0.01}, {X0} {Y0}))", LAMBERT93
    )
    assert sliver.bounds_in(LAMBERT93) == pytest.approx((X0, Y0, X0 + 100, Y0 + 0.01))


def test_output_grid_pixel_area_and_bounds():
    grid = OutputGrid(CRS.from_epsg(2154).to_wkt(), grid_transform(0.2), 10, 5)
    assert grid.pixel_area_m2 == pytest.approx(0.04)
    assert grid.bounds == pytest.approx((X0, Y0 - 1.0, X0 + 2.0, Y0))
    assert grid.window_transform(Window(3, 2, 1, 1)).c == pytest.approx(X0 + 0.6)
