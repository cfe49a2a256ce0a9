"""Sentinel-2 time series for the U-T&T model: discovery of products, reading onto the aerial grid,
and the per-window preprocessing (cloud filter, monthly means, positions) shared with training."""

from .catalog import Acquisition, Sentinel2Catalog, discover
from .dates import parse_date, parse_tile
from .flair_npy import FlairSuperArea, patch_window, read_centroids, read_products, super_area_for_patch
from .layout import BANDS
from .load import Sentinel2Series, load_series, on_ground
from .preprocess import PreparedWindow, prepare_window, reference_date
from .regions import Region, RegionalSeries, tile_regions
from .warp import Sentinel2Grid, grid_for_bounds

__all__ = [
    "BANDS",
    "Acquisition",
    "FlairSuperArea",
    "PreparedWindow",
    "Region",
    "RegionalSeries",
    "Sentinel2Catalog",
    "Sentinel2Grid",
    "Sentinel2Series",
    "discover",
    "grid_for_bounds",
    "load_series",
    "on_ground",
    "parse_date",
    "parse_tile",
    "patch_window",
    "prepare_window",
    "read_centroids",
    "read_products",
    "reference_date",
    "super_area_for_patch",
    "tile_regions",
]
