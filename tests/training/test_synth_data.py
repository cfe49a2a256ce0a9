"""The synthetic FLAIR #2 dataset (exact layout, separable-only-by-Sentinel-2 classes) and the reader."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
import rasterio
import torch

from flair_qgis.core.bundle_spec import BandScaling, flair2_aerial_input, flair2_sentinel2_input
from flair_qgis.core.errors import InputError
from flair_qgis.core.sentinel2 import read_products
from flair_training.data.augment import DihedralTransform
from flair_training.data.flair2 import (
    IGNORE_INDEX,
    Flair2Dataset,
    collate,
    find_patches,
    label_lookup,
    metadata_vector,
    split_by_domain,
)
from flair_training.synth import draw_aerial, sentinel2_reflectance

S2_SCALING = BandScaling((1e-4,) * 10, (0.0,) * 10, (1.0,) * 10)
B4, B8 = 2, 6  # red and near infrared in FLAIR band order


def ndvi(reflectance: np.ndarray) -> float:
    return float((reflectance[B8] - reflectance[B4]) / (reflectance[B8] + reflectance[B4]))


def test_synth_writes_the_flair2_layout(synthetic_root) -> None:
    images = sorted(synthetic_root.glob("flair_aerial_train/*/*/img/IMG_*.tif"))
    tests = sorted(synthetic_root.glob("flair_2_aerial_test/*/*/img/IMG_*.tif"))
    assert len(images) == 64 and len(tests) == 16
    with rasterio.open(images[0]) as src:
        assert (src.count, src.width, src.height) == (5, 32, 32)
        assert src.dtypes == ("uint8",) * 5
        assert src.crs.to_epsg() == 2154
        assert src.res == pytest.approx((0.2, 0.2))
    domain, zone = images[0].parts[-4], images[0].parts[-3]
    label = (
        synthetic_root / "flair_labels_train" / domain / zone / "msk" / images[0].name.replace("IMG", "MSK")
    )
    with rasterio.open(label) as src:
        codes = src.read(1)
        assert src.count == 1 and src.dtypes == ("uint8",)
    assert codes.min() >= 1 and codes.max() <= 19
    sen = synthetic_root / "flair_sen_train" / domain / zone / "sen"
    data = np.load(sen / f"SEN2_sp_{domain}-{zone}_data.npy")
    masks = np.load(sen / f"SEN2_sp_{domain}-{zone}_masks.npy")
    names, dates = read_products(sen / f"SEN2_sp_{domain}-{zone}_products.txt")
    assert data.dtype == np.uint16 and data.ndim == 4 and data.shape[1] == 10
    assert masks.dtype == np.uint8 and masks.shape == (data.shape[0], 2, *data.shape[2:])
    assert len(names) == data.shape[0] == 20 and dates == sorted(dates) and dates[0].year == 2021
    cloudy = ((masks[:, 1] >= 60).mean(axis=(1, 2)) >= 0.5).sum()
    assert cloudy >= 2, "some dates must be cloudy enough for the filter to drop them"
    centroids = json.loads((synthetic_root / "flair-2_centroids_sp_to_patch.json").read_text())
    assert set(centroids) == {p.name for p in images + tests}
    row, col = centroids[images[0].name]
    assert 8 <= row <= data.shape[2] - 8 and 8 <= col <= data.shape[3] - 8
    metadata = json.loads((synthetic_root / "flair_aerial_metadata.json").read_text())
    assert {"patch_centroid_x", "patch_centroid_y", "patch_centroid_z", "camera", "date", "time"} <= set(
        metadata[images[0].stem]
    )


def test_sentinel2_only_classes_look_alike_from_the_air() -> None:
    """Herbaceous, agricultural and plowed land share one aerial texture; their yearly profiles differ."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:60, 0:90] * 0.2
    codes = np.repeat(np.array([10, 11, 12], dtype=np.uint8), 30)[None].repeat(60, axis=0)
    image = draw_aerial(codes, xs, ys, rng).astype(float)
    means = [image[:, codes == c].mean(axis=1) for c in (10, 11, 12)]
    assert np.abs(means[0] - means[1]).max() < 4 and np.abs(means[0] - means[2]).max() < 4
    january, june = 15, 165
    assert ndvi(sentinel2_reflectance(10, january)) > 0.5  # meadows green in winter
    assert ndvi(sentinel2_reflectance(11, january)) < 0.3  # crops not yet up
    assert ndvi(sentinel2_reflectance(11, june)) > 0.6  # crops at their peak
    assert ndvi(sentinel2_reflectance(12, june)) < 0.2  # plowed land bare all year


def test_sentinel2_window_is_centred_on_its_patch(synthetic_root) -> None:
    """Patches lying in one field show that field's profile at the centre of their Sentinel-2 window."""
    spec = flair2_sentinel2_input(16, S2_SCALING)
    patches = find_patches(synthetic_root)
    dataset = Flair2Dataset(synthetic_root, patches, flair2_aerial_input(32), spec)
    checked = 0
    for index, patch in enumerate(patches):
        with rasterio.open(patch.labels) as src:
            codes = src.read(1)
        values, counts = np.unique(codes, return_counts=True)
        if counts.max() < codes.size or values[0] not in (10, 11, 12):
            continue
        sample = dataset[index]
        centre = sample["sentinel2"][:, :, 7:9, 7:9].mean(dim=(-2, -1)).numpy() / 1e-4  # T' x 10
        days = [date(2021, 5, 15).toordinal() - int(p) for p in sample["positions"]]
        expected = np.stack(
            [sentinel2_reflectance(int(values[0]), date.fromordinal(d).timetuple().tm_yday) for d in days]
        )
        assert np.median(np.abs(centre - expected) / expected) < 0.2
        checked += 1
    assert checked >= 3


def test_labels_map_to_the_13_classes() -> None:
    lookup = label_lookup()
    assert lookup[1] == 0 and lookup[12] == 11
    assert all(lookup[code] == 12 for code in range(13, 20))  # merged into "other"
    assert lookup[0] == IGNORE_INDEX and lookup[20] == IGNORE_INDEX


def test_split_by_domain_never_shares_a_domain(synthetic_root) -> None:
    patches = find_patches(synthetic_root)
    train, val = split_by_domain(patches, val_fraction=0.2)
    assert train and val and len(train) + len(val) == len(patches)
    assert not {p.domain for p in train} & {p.domain for p in val}
    chosen = sorted({p.domain for p in patches})[:2]
    train, val = split_by_domain(patches, val_domains=chosen)
    assert {p.domain for p in val} == set(chosen)
    with pytest.raises(InputError, match="D999_2021"):
        split_by_domain(patches, val_domains=["D999_2021"])


def test_reader_errors_are_clear(tmp_path, synthetic_root) -> None:
    with pytest.raises(InputError, match="No FLAIR #2 train aerial folder"):
        find_patches(tmp_path)
    dataset = Flair2Dataset(synthetic_root, find_patches(synthetic_root), flair2_aerial_input(64))
    with pytest.raises(InputError, match="32 x 32 px, the model takes 64 x 64"):
        dataset[0]


def test_samples_and_batches(synthetic_root) -> None:
    spec = flair2_sentinel2_input(16, S2_SCALING)
    patches = find_patches(synthetic_root)
    dataset = Flair2Dataset(synthetic_root, patches, flair2_aerial_input(32), spec, with_metadata=True)
    sample = dataset[0]
    assert sample["aerial"].shape == (5, 32, 32) and sample["aerial"].dtype == torch.float32
    assert float(sample["aerial"].min()) >= 0 and float(sample["aerial"].max()) <= 1  # / 255
    assert sample["labels"].dtype == torch.int64 and sample["labels"].shape == (32, 32)
    t = sample["sentinel2"].shape[0]
    assert 1 <= t <= 12 and sample["sentinel2"].shape[1:] == (10, 16, 16)
    # monthly means dated on the 15th: days before 15 May are multiples of whole months
    assert set(sample["positions"].tolist()) <= {
        120.0,
        89.0,
        61.0,
        30.0,
        0.0,
        -31.0,
        -61.0,
        -92.0,
        -123.0,
        -153.0,
        -184.0,
        -214.0,
    }
    assert sample["metadata"].shape == (45,)
    short = dict(sample, sentinel2=sample["sentinel2"][:1], positions=sample["positions"][:1])
    batch = collate([sample, short])
    assert batch["sentinel2"].shape == (2, t, 10, 16, 16)
    assert torch.all(batch["sentinel2"][1, 1:] == 0) and torch.all(batch["positions"][1, 1:] == 0)
    assert torch.equal(batch["sentinel2"][0], sample["sentinel2"])


def test_metadata_vector_has_the_baseline_size() -> None:
    entry = {"patch_centroid_x": 650000.0, "patch_centroid_y": 6860000.0, "patch_centroid_z": 120.0,
             "camera": "UCE", "date": "2021-06-15", "time": "12h30"}  # fmt: skip
    vector = metadata_vector(entry)
    assert vector.shape == (45,) and np.isfinite(vector).all()
    assert vector[32] == pytest.approx(0.12)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_augmentation_moves_aerial_labels_and_sentinel2_together(flip: bool, turns: int) -> None:
    """A marker in the top-left quadrant of all three ends up in the same quadrant of all three."""
    aerial = np.zeros((5, 32, 32), dtype=np.uint8)
    aerial[:, :16, :16] = 200
    labels = np.full((32, 32), 3, dtype=np.int64)
    labels[:16, :16] = 7
    series = np.zeros((4, 10, 16, 16), dtype=np.float32)
    series[:, :, :8, :8] = 1.0
    transform = DihedralTransform(flip, turns)
    out_aerial, out_labels, out_series = (transform.apply(a) for a in (aerial, labels, series))

    def quadrant(plane: np.ndarray) -> tuple[int, int]:
        half = plane.shape[-1] // 2
        rows, cols = np.nonzero(plane)
        return int(rows.mean() >= half), int(cols.mean() >= half)

    assert quadrant(out_aerial[0]) == quadrant(out_labels == 7) == quadrant(out_series[2, 5])
    assert out_series.shape == series.shape and out_aerial.shape == aerial.shape
    expected = np.rot90(aerial[..., ::-1] if flip else aerial, k=turns, axes=(-2, -1))
    assert np.array_equal(out_aerial, expected)


def test_a_training_step_with_aerial_metadata(synthetic_root, one_thread) -> None:
    """The optional metadata vector flows from the dataset through the task to the metadata MLP."""
    from flair_training.config import load_config, sentinel2_spec
    from flair_training.lightning_module import SegmentationTask

    config = load_config(
        "quick", [f"data.root={synthetic_root}", "data.tile_size=32", "data.aerial_metadata=true"]
    )
    task = SegmentationTask(config)
    assert task.model.mtd_mlp is not None
    patches = find_patches(synthetic_root)[:3]
    dataset = Flair2Dataset(
        synthetic_root, patches, flair2_aerial_input(32), sentinel2_spec(config), with_metadata=True
    )
    batch = collate([dataset[i] for i in range(3)])
    loss, logits = task._loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and logits.shape == (3, 13, 32, 32)
    assert task.model.mtd_mlp.enc_mlp[0].weight.grad.abs().sum() > 0


def test_a_large_scene_is_drawn_block_by_block_for_the_demo(tmp_path) -> None:
    """write_aerial_scene: a tiled, compressed, georeferenced GeoTIFF whose pixels follow the scene's
    classes, drawn in blocks that join (the same as drawing it in one go)."""
    from flair_training.synth import LandCoverScene, sentinel2_profiles, write_aerial_scene

    bounds = (650_000.0, 6_860_000.0, 650_060.0, 6_860_040.0)
    scene = LandCoverScene.random(bounds, seed=3)
    path = write_aerial_scene(tmp_path / "scene.tif", scene, bounds, block=128)
    with rasterio.open(path) as src:
        assert (src.width, src.height, src.count) == (300, 200, 5)
        assert src.crs.to_epsg() == 2154 and src.transform.a == pytest.approx(0.2)
        assert (src.bounds.left, src.bounds.top) == pytest.approx((bounds[0], bounds[3]))
        assert src.profile["tiled"] and src.compression is not None
        image = src.read()
        codes = scene.rasterize(src.transform, src.width, src.height)
    assert (
        image[4][np.isin(codes, (1, 6, 7))].mean() > image[4][np.isin(codes, (3, 5, 10, 11, 12))].mean() + 20
    )
    if (codes == 5).any():  # water is dark in the near infrared
        assert image[3][codes == 5].mean() < 60
    profiles = sentinel2_profiles(np.arange(1, 366, 30), codes=[10, 11, 12])
    assert profiles[11].shape == (13, 10) and not np.allclose(profiles[10], profiles[11])
