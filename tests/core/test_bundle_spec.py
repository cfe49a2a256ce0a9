"""The bundle's self-description round-trips and refuses incomplete or contradictory metadata,
naming the field."""

from __future__ import annotations

import copy
import json

import pytest

from flair_qgis.core.bundle_spec import (
    AERIAL_BANDS,
    SENTINEL2_BANDS,
    BundleSpec,
    OutputSpec,
    flair2_aerial_input,
    flair2_sentinel2_input,
)
from flair_qgis.core.errors import BundleError
from flair_qgis.core.nomenclature import FLAIR_13, FLAIR_19, flair19_to_flair13


def _utt_spec() -> BundleSpec:
    return BundleSpec(
        model_name="FLAIR #2 U-T&T",
        model_version="1.0",
        architecture="utt",
        aerial=flair2_aerial_input(),
        sentinel2=flair2_sentinel2_input(),
        aerial_metadata=None,
        output=OutputSpec("logits", "logits"),
        nomenclature=FLAIR_13,
        provenance={"dataset": "FLAIR #2"},
    )


def test_round_trip() -> None:
    spec = _utt_spec()
    again = BundleSpec.from_json(spec.to_json())
    assert again == spec
    assert again.needs_sentinel2
    assert again.sentinel2.reference_month_day == (5, 15)
    assert again.aerial.bands == AERIAL_BANDS and again.sentinel2.bands == SENTINEL2_BANDS
    assert again.nomenclature.by_code(7).colour == "#46e483"


def test_precision_round_trips_and_older_bundles_read_it_from_their_parity_record() -> None:
    import dataclasses

    int8 = dataclasses.replace(_utt_spec(), precision="int8")
    assert json.loads(int8.to_json())["model"]["precision"] == "int8"
    assert BundleSpec.from_json(int8.to_json()).precision == "int8"
    older = json.loads(_utt_spec().to_json())
    del older["model"]["precision"]
    assert BundleSpec.from_dict(older).precision == "fp32"
    parity = dict(class_agreement=0.999, min_class_agreement=0.99, max_relative_logit_difference=1e-3,
                  tolerance=1e-2, logit_scale=9.0, max_probability_difference=1e-3, sample_sets=3,
                  pixels=100, precision="fp16")  # fmt: skip
    older["provenance"]["parity"] = parity
    assert BundleSpec.from_dict(older).precision == "fp16"


def test_aerial_only_bundle_needs_no_sentinel2() -> None:
    data = _utt_spec().to_dict()
    data["model"]["architecture"] = "unet"
    del data["inputs"]["sentinel2"]
    spec = BundleSpec.from_dict(data)
    assert not spec.needs_sentinel2


def _broken(mutate) -> BundleError:
    data = copy.deepcopy(_utt_spec().to_dict())
    mutate(data)
    with pytest.raises(BundleError) as caught:
        BundleSpec.from_dict(json.loads(json.dumps(data)))
    return caught.value


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("format"), "format"),
        (lambda d: d["model"].pop("name"), "model.name"),
        (lambda d: d["model"].update(architecture="resnet"), "model.architecture"),
        (lambda d: d["model"].update(precision="int4"), "model.precision"),
        (lambda d: d["inputs"]["aerial"].pop("tile_size"), "inputs.aerial.tile_size"),
        (lambda d: d["inputs"]["aerial"].update(tile_size=-4), "inputs.aerial.tile_size"),
        (lambda d: d["inputs"]["aerial"].update(mean=[0, 0, 0]), "inputs.aerial.mean"),
        (lambda d: d["inputs"]["aerial"].update(std=[1, 1, 0, 1, 1]), "inputs.aerial.std"),
        (lambda d: d["inputs"]["aerial"].update(bands=["red", "red"]), "inputs.aerial.bands"),
        (lambda d: d["inputs"]["aerial"].update(bands=["red", "swir"]), "inputs.aerial.bands"),
        (lambda d: d["inputs"]["aerial"].update(value_range=[255, 0]), "inputs.aerial.value_range"),
        (lambda d: d["inputs"]["aerial"].update(gsd="0.2"), "inputs.aerial.gsd"),
        (lambda d: d["inputs"].pop("sentinel2"), "inputs.sentinel2"),
        (
            lambda d: d["inputs"]["sentinel2"].update(reference_date="15/05"),
            "inputs.sentinel2.reference_date",
        ),
        (
            lambda d: d["inputs"]["sentinel2"].update(reference_date="02-30"),
            "inputs.sentinel2.reference_date",
        ),
        (
            lambda d: d["inputs"]["sentinel2"].update(reference_date="13-01"),
            "inputs.sentinel2.reference_date",
        ),
        (lambda d: d["inputs"]["aerial"].update(gsd=float("inf")), "inputs.aerial.gsd"),
        (lambda d: d["inputs"]["aerial"].update(value_range=[0, float("inf")]), "inputs.aerial.value_range"),
        (lambda d: d["inputs"]["aerial"].update(mean=[0, 0, float("nan"), 0, 0]), "inputs.aerial.mean"),
        (lambda d: d["inputs"]["sentinel2"].update(pad_value=float("nan")), "inputs.sentinel2.pad_value"),
        (lambda d: d["inputs"]["sentinel2"].update(date_encoding="doy"), "inputs.sentinel2.date_encoding"),
        (
            lambda d: d["inputs"]["sentinel2"].update(monthly_average="yes"),
            "inputs.sentinel2.monthly_average",
        ),
        (
            lambda d: d["inputs"]["sentinel2"]["cloud_filter"].update(probability_threshold=160),
            "inputs.sentinel2.cloud_filter.probability_threshold",
        ),
        (lambda d: d["inputs"]["sentinel2"].update(name="aerial"), "inputs"),
        (lambda d: d["output"].update(kind="scores"), "output.kind"),
        (lambda d: d["nomenclature"]["classes"][0].update(colour="red"), "nomenclature.classes[0].colour"),
        (lambda d: d["nomenclature"]["classes"][1].update(code=1), "nomenclature.classes"),
        (lambda d: d["nomenclature"]["classes"][2].update(code=0), "nomenclature.classes[2].code"),
        (lambda d: d["nomenclature"].update(classes=[]), "nomenclature.classes"),
    ],
)
def test_validator_names_the_field(mutate, field: str) -> None:
    error = _broken(mutate)
    assert error.field == field
    assert f"'{field}'" in str(error)


def test_29_february_is_a_valid_reference_date() -> None:
    data = _utt_spec().to_dict()
    data["inputs"]["sentinel2"]["reference_date"] = "02-29"
    assert BundleSpec.from_dict(data).sentinel2.reference_month_day == (2, 29)


def test_newer_format_is_refused_with_a_hint() -> None:
    error = _broken(lambda d: d.update(format_version=99))
    assert error.field == "format_version"
    assert "Update the plugin" in str(error)


def test_not_json() -> None:
    with pytest.raises(BundleError, match="not valid JSON"):
        BundleSpec.from_json("{nope")


def test_nomenclatures() -> None:
    assert FLAIR_13.codes == list(range(1, 14))
    assert FLAIR_19.codes == list(range(1, 20))
    assert FLAIR_13.by_code(3).rgb == (0xF8, 0x0C, 0x00)
    assert FLAIR_13.by_code(10).label("fr_FR") == "pelouse"
    assert FLAIR_13.by_code(10).label("en") == "herbaceous vegetation"
    assert [flair19_to_flair13(c) for c in (1, 12, 13, 18, 19)] == [1, 12, 13, 13, 13]
    with pytest.raises(ValueError):
        flair19_to_flair13(0)


def test_one_scaling_rule_for_the_engine_and_training():
    """The aerial composition, the Sentinel-2 preparation and the training dataset normalise through
    BandScaling.apply: the same values, bit for bit, wherever a model's inputs are made."""
    import numpy as np

    from flair_qgis.core.bundle_spec import BandScaling, flair2_sentinel2_input
    from flair_qgis.core.sentinel2.preprocess import normalise

    scaling = BandScaling(scale=(0.5, 0.25, 2.0), mean=(1.0, 0.0, -3.0), std=(2.0, 0.5, 4.0))
    raw = np.random.default_rng(0).uniform(0, 255, (3, 4, 5)).astype(np.float32)
    expected = np.stack(
        [(raw[i] * s - m) / d for i, (s, m, d) in enumerate(zip(*scaling.to_dict().values(), strict=True))]
    )
    assert np.allclose(scaling.apply(raw), expected, rtol=1e-6)
    assert scaling.apply(raw).dtype == np.float32
    frames = np.random.default_rng(1).uniform(0, 10000, (2, 10, 3, 3)).astype(np.float32)
    spec = flair2_sentinel2_input(3)
    indices = list(range(10))
    by_hand = ((frames.astype(np.float64) * np.asarray(spec.scaling.scale)[None, :, None, None]
                - np.asarray(spec.scaling.mean)[None, :, None, None])
               / np.asarray(spec.scaling.std)[None, :, None, None]).astype(np.float32)  # fmt: skip
    assert np.array_equal(normalise(frames, spec, indices), by_hand)
