"""The FLAIR #2 reference's aerial metadata encoding value by value, the bundle fields that name it and
record parity figures, and predictions written the way IGN's FLAIR #2 scorer reads them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from PIL import Image

from flair_qgis.core.bundle_spec import BundleSpec, MetadataInput, ParityRecord
from flair_qgis.core.errors import BundleError, InputError
from flair_training.config import aerial_spec, load_config, sentinel2_spec
from flair_training.data.flair2 import (
    Flair2Dataset,
    find_patches,
    metadata_vector,
    reference_metadata_vector,
)
from flair_training.evaluate import evaluate
from flair_training.export import bundle_spec, export_bundle
from flair_training.lightning_module import build_model
from tests.bundles import make_spec

pytestmark = pytest.mark.usefixtures("one_thread")

#: Entries shaped like FLAIR #2's flair_aerial_metadata.json (Lambert-93 metres, altitude in metres,
#: camera names, "YYYY-MM-DD" dates and "HHhMM" times); the values are made up.
ENTRIES = {
    "IMG_061946": {"domain": "D064_2021", "zone": "Z1_NF", "patch_centroid_x": 398848.4,
                   "patch_centroid_y": 6254032.4, "patch_centroid_z": 227.77, "camera": "UCE-M3-f120-s06",
                   "date": "2021-07-18", "time": "10h53"},
    "IMG_000812": {"domain": "D013_2020", "zone": "Z4_AU", "patch_centroid_x": 843627.6,
                   "patch_centroid_y": 6525880.4, "patch_centroid_z": 1812.3, "camera": "UCE-M1-f100-s06",
                   "date": "2020-09-03", "time": "14h07"},
    "IMG_077413": {"domain": "D077_2018", "zone": "Z9_UA", "patch_centroid_x": 689210.0,
                   "patch_centroid_y": 6839110.0, "patch_centroid_z": 0.0, "camera": "DMC-III-f92-s05",
                   "date": "2018-04-30", "time": "08h00"},
    "IMG_023001": {"domain": "D034_2019", "zone": "Z2_UN", "patch_centroid_x": 765431.9,
                   "patch_centroid_y": 6279001.1, "patch_centroid_z": 3164.9099121094,
                   "camera": "UCE-M3-f120-s06", "date": "2019-12-31", "time": "23h59"},
}  # fmt: skip


def reference_formulas(entry: dict) -> list[float]:
    """The 45 values as IGNF/FLAIR-2's src/load_data.py (adding_encoded_metadata) computes them, written
    out term by term: coordenc_opt, norm_alti, format_cam, cyclical_enc_datetime."""
    values = [0.0] * 32
    for i in range(8):  # d = 16, d_i = 0..7, freq = 1 / (10e7 ** (2 d_i / d)), x / 10e7
        frequency = 1 / (10e7 ** (2 * i / 16))
        x, y = entry["patch_centroid_x"] / 10e7, entry["patch_centroid_y"] / 10e7
        values[2 * i] = math.sin(x * frequency)
        values[2 * i + 1] = math.cos(x * frequency)
        values[16 + 2 * i] = math.sin(y * frequency)
        values[16 + 2 * i + 1] = math.cos(y * frequency)
    values.append((entry["patch_centroid_z"] - 0) / (3164.9099121094 - 0))
    values += [1, 0] if "UCE" in entry["camera"] else [0, 1]
    year, month, day = entry["date"].split("-")
    values += {"2018": [1, 0, 0, 0], "2019": [0, 1, 0, 0], "2020": [0, 0, 1, 0], "2021": [0, 0, 0, 1]}[year]
    h, m = entry["time"].split("h")
    seconds = int(h) * 3600 + int(m) * 60

    def norm(v: float) -> float:
        return (v - (-1)) / (1 - (-1))

    for angle in (
        2 * math.pi * (int(month) - 1 / 12),
        2 * math.pi * (int(day) / 31),
        2 * math.pi * (seconds / 86400),
    ):
        values += [norm(math.sin(angle)), norm(math.cos(angle))]
    return values


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_reference_encoding_matches_the_reference_formulas_value_by_value(name: str) -> None:
    entry = ENTRIES[name]
    expected = np.asarray(reference_formulas(entry), dtype=np.float32)  # the reference's torch float
    actual = reference_metadata_vector(entry)
    assert actual.shape == (45,) and actual.dtype == np.float32
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert a == pytest.approx(e, abs=1e-7), f"value {index}"
    assert np.array_equal(metadata_vector(entry, "flair2-reference"), actual)


def test_reference_encoding_differs_from_the_projects_own() -> None:
    entry = ENTRIES["IMG_061946"]
    own = metadata_vector(entry)  # the default, what `fit` trains with
    assert np.abs(own - reference_metadata_vector(entry)).max() > 0.5
    assert reference_metadata_vector(entry)[35:39].tolist() == [0, 0, 0, 1]  # the year one-hot


def test_reference_encoding_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(InputError, match=r"knows the years .* not 2023"):
        reference_metadata_vector({**ENTRIES["IMG_061946"], "date": "2023-06-01"})
    with pytest.raises(InputError, match="is not 'YYYY-MM-DD' and 'HHhMM'"):
        reference_metadata_vector({**ENTRIES["IMG_061946"], "time": "10:53"})
    with pytest.raises(InputError, match="Unknown aerial metadata encoding"):
        metadata_vector(ENTRIES["IMG_061946"], "mine")


def test_dataset_builds_vectors_in_the_encoding_it_is_given(synthetic_root) -> None:
    config = load_config("quick", [f"data.root={synthetic_root}", "data.tile_size=32"])
    patches = find_patches(synthetic_root, "train")[:2]
    entries = json.loads((synthetic_root / "flair_aerial_metadata.json").read_text())
    for encoding in ("flair2-reference", "flair-qgis-sinusoidal"):
        dataset = Flair2Dataset(
            synthetic_root, patches, aerial_spec(config), with_metadata=True, metadata_encoding=encoding
        )
        sample = dataset[1]
        assert np.array_equal(sample["metadata"].numpy(), metadata_vector(entries[patches[1].name], encoding))


def test_metadata_encoding_and_parity_are_validated_bundle_fields() -> None:
    data = make_spec().to_dict()
    data["inputs"]["aerial_metadata"] = {"name": "aerial_metadata", "size": 45}
    assert BundleSpec.from_dict(data).aerial_metadata == MetadataInput(
        "aerial_metadata", 45, "flair-qgis-sinusoidal"
    )
    data["inputs"]["aerial_metadata"]["encoding"] = "flair2-reference"
    read = BundleSpec.from_dict(data)
    assert read.aerial_metadata.encoding == "flair2-reference"
    assert BundleSpec.from_json(read.to_json()) == read
    data["inputs"]["aerial_metadata"]["encoding"] = "guess"
    with pytest.raises(BundleError, match=r"inputs\.aerial_metadata\.encoding"):
        BundleSpec.from_dict(data)
    del data["inputs"]["aerial_metadata"]
    record = ParityRecord(0.9999, 0.999, 2e-6, 1e-4, 312.0, 1.2e-4, 3, 786432, "fp32")
    data["provenance"] = {"parity": record.to_dict()}
    assert BundleSpec.from_dict(data).parity == record
    data["provenance"]["parity"]["class_agreement"] = 1.5
    with pytest.raises(BundleError, match=r"provenance\.parity\.class_agreement"):
        BundleSpec.from_dict(data)
    del data["provenance"]["parity"]["tolerance"]
    with pytest.raises(BundleError, match=r"provenance\.parity"):
        BundleSpec.from_dict(data)


def ign_scorer(truth_files: list, prediction_files: list) -> tuple[float, np.ndarray]:
    """IGN's FLAIR #2 scorer (IGNF/FLAIR-2 src/metrics.py, generate_miou) re-derived: labels - 1, values
    above 12 set to 12, a 13 x 13 confusion matrix of PIL-read files, mIoU over all classes but the last."""
    confusion = np.zeros((13, 13), dtype=np.int64)
    for truth, prediction in zip(truth_files, prediction_files, strict=True):
        target = np.array(Image.open(truth)).astype(np.int64) - 1
        target[target > 12] = 12
        predicted = np.array(Image.open(prediction)).astype(np.int64)
        assert predicted.min() >= 0 and predicted.max() <= 12
        confusion += np.bincount(target.ravel() * 13 + predicted.ravel(), minlength=169).reshape(13, 13)
    with np.errstate(divide="ignore", invalid="ignore"):
        ious = np.diag(confusion) / (confusion.sum(0) + confusion.sum(1) - np.diag(confusion))
    return float(np.nansum(ious[:-1]) / np.logical_not(np.isnan(ious[:-1])).sum()), ious[:-1]


def test_ign_format_predictions_score_with_ign_scorer_as_evaluate_does(tmp_path, synthetic_root) -> None:
    """Both formats hold the same classes; IGN's scorer reads the `ign` files and finds the mIoU
    `evaluate` reports (the `codes` files, codes 1..13, would be off by one class everywhere)."""
    config = load_config("quick", ["data.tile_size=32"])
    model = build_model(config).eval()
    bundle = tmp_path / "quick.onnx"
    export_bundle(model, bundle_spec(aerial_spec(config), sentinel2_spec(config)), bundle)
    codes = evaluate(bundle, synthetic_root, tmp_path / "codes", prediction_format="codes")
    ign = evaluate(bundle, synthetic_root, tmp_path / "ign", prediction_format="ign")
    assert ign.miou == pytest.approx(codes.miou)
    names = sorted(p.name for p in (tmp_path / "ign" / "predictions").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "codes" / "predictions").iterdir()) and names
    for name in names:
        with (
            rasterio.open(tmp_path / "codes" / "predictions" / name) as a,
            rasterio.open(tmp_path / "ign" / "predictions" / name) as b,
        ):
            assert a.nodata == 0 and b.nodata is None and b.crs == a.crs and b.transform == a.transform
            assert np.array_equal(a.read(1), b.read(1) + 1)
    patches = sorted(find_patches(synthetic_root, "test"), key=lambda p: int(p.name.split("_")[-1]))
    truths = [p.labels for p in patches]
    predictions = [
        tmp_path / "ign" / "predictions" / f"PRED_{p.name.removeprefix('IMG_')}.tif" for p in patches
    ]
    miou, ious = ign_scorer(truths, predictions)
    assert miou == pytest.approx(ign.miou, abs=1e-9)
    assert np.allclose(ious, ign.ious[:12], equal_nan=True)
    assert json.loads((tmp_path / "ign" / "metrics.json").read_text())["prediction_format"] == "ign"
