"""Default band mapping from the project's raster layers."""

from __future__ import annotations

from flair_qgis.adapters.bands import LayerBands, default_mapping, engine_bands, missing_bands


def test_one_five_band_image_gives_every_band_in_order():
    layers = [LayerBands("ortho", "D075_2021_rgbie", 5), LayerBands("other", "scan", 1)]
    assert default_mapping(layers) == {
        "red": ("ortho", 1), "green": ("ortho", 2), "blue": ("ortho", 3),
        "nir": ("ortho", 4), "elevation": ("ortho", 5),
    }  # fmt: skip


def test_rgb_ortho_irc_ortho_and_elevation_model_are_composed():
    layers = [
        LayerBands("mns", "MNS correlation 2021", 1),
        LayerBands("irc", "ORTHO IRC 20cm", 3),
        LayerBands("rgb", "ORTHO RVB 20cm", 3),
    ]
    mapping = default_mapping(layers)
    assert mapping == {
        "red": ("rgb", 1), "green": ("rgb", 2), "blue": ("rgb", 3),
        "nir": ("irc", 1), "elevation": ("mns", 1),
    }  # fmt: skip
    assert missing_bands(mapping, ("red", "green", "blue", "nir", "elevation")) == []


def test_four_band_image_named_nir_is_still_the_colour_image():
    layers = [LayerBands("o", "ortho_rgb_nir", 4), LayerBands("h", "nDSM", 1)]
    mapping = default_mapping(layers)
    assert mapping["red"] == ("o", 1) and mapping["nir"] == ("o", 4)
    assert mapping["elevation"] == ("h", 1)


def test_missing_bands_and_model_subsets():
    mapping = default_mapping([LayerBands("rgb", "photo", 3)], bands=("red", "green", "blue", "nir"))
    assert set(mapping) == {"red", "green", "blue"}
    assert missing_bands(mapping, ("red", "green", "blue", "nir")) == ["nir"]
    assert default_mapping([]) == {}


def test_engine_bands_follow_the_bundle_order():
    mapping = {"red": ("a", 1), "green": ("a", 2), "nir": ("b", 1)}
    assert engine_bands(mapping, ("nir", "red", "green"), {"a": "/x/a.tif", "b": "/x/b.tif"}) == [
        ("/x/b.tif", 1), ("/x/a.tif", 1), ("/x/a.tif", 2),
    ]  # fmt: skip
