"""The FLAIR #2 dataset on disk (IGN's challenge layout) as PyTorch samples for U-T&T and the U-Net.

Layout: `flair_aerial_train/<domain>/<zone>/img/IMG_<id>.tif` (5-band uint8, 512 x 512, 0.2 m),
`flair_labels_train/.../msk/MSK_<id>.tif` (codes 1..19), `flair_sen_train/.../sen/SEN2_sp_<domain>-<zone>_
{data.npy,masks.npy,products.txt}` (the zone's Sentinel-2 super-area), `flair-2_centroids_sp_to_patch.json`
(each patch's centre in its super-area) and `flair_aerial_metadata.json`; the test split uses the
`flair_2_*_test` folders. Sentinel-2 windows are prepared by flair_qgis.core.sentinel2.prepare_window, the
code the plugin runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import rasterio
import torch
from torch.utils.data import Dataset

from flair_qgis.core.bundle_spec import (
    DEFAULT_METADATA_ENCODING,
    METADATA_ENCODINGS,
    AerialInput,
    Sentinel2Input,
)
from flair_qgis.core.errors import InputError
from flair_qgis.core.nomenclature import FLAIR_13, flair19_to_flair13
from flair_qgis.core.sentinel2 import (
    FlairSuperArea,
    patch_window,
    prepare_window,
    read_centroids,
    super_area_for_patch,
)
from flair_qgis.core.sentinel2.flair_npy import CENTROIDS_NAME

from .augment import random_transform

METADATA_NAME = "flair_aerial_metadata.json"
#: Label value the losses and metrics ignore (pixels whose code is outside 1..19).
IGNORE_INDEX = -100
#: Size of the aerial metadata vector (the FLAIR #2 baseline's 32 + 13).
METADATA_SIZE = 45

SPLIT_FOLDERS = {
    "train": ("flair_aerial_train", "flair_labels_train", "flair_sen_train"),
    "test": ("flair_2_aerial_test", "flair_2_labels_test", "flair_2_sen_test"),
}


def label_lookup() -> np.ndarray:
    """Pixel code (0..255) -> class index in FLAIR_13 (0..12), IGNORE_INDEX outside 1..19."""
    table = np.full(256, IGNORE_INDEX, dtype=np.int64)
    for code in range(1, 20):
        table[code] = FLAIR_13.codes.index(flair19_to_flair13(code))
    return table


@dataclass(frozen=True)
class Flair2Patch:
    """One aerial patch of the dataset and where its labels and Sentinel-2 super-area are."""

    name: str  # "IMG_<id>"
    domain: str
    zone: str
    aerial: Path
    labels: Path | None
    sentinel2: Path  # the zone's `sen` folder


def find_patches(root: str | Path, split: str = "train") -> list[Flair2Patch]:
    """Every aerial patch of a split ("train" or "test") under the dataset root, sorted by name."""
    root = Path(root)
    if split not in SPLIT_FOLDERS:
        raise InputError(f"Unknown FLAIR #2 split '{split}'", f"Use one of {sorted(SPLIT_FOLDERS)}.")
    aerial_root, labels_root, sen_root = (root / folder for folder in SPLIT_FOLDERS[split])
    if not aerial_root.is_dir():
        raise InputError(
            f"No FLAIR #2 {split} aerial folder at {aerial_root}",
            "Point data.root at the folder holding flair_aerial_train/, flair_sen_train/, ... "
            "(`flair-train synth OUT` writes a small one).",
        )
    patches = []
    for image in sorted(aerial_root.glob("*/*/img/IMG_*.tif")):
        zone_dir = image.parent.parent
        domain, zone = zone_dir.parent.name, zone_dir.name
        patch_id = image.stem.removeprefix("IMG_")
        labels = labels_root / domain / zone / "msk" / f"MSK_{patch_id}.tif"
        patches.append(
            Flair2Patch(
                name=image.stem,
                domain=domain,
                zone=zone,
                aerial=image,
                labels=labels if labels.is_file() else None,
                sentinel2=sen_root / domain / zone / "sen",
            )
        )
    if not patches:
        raise InputError(f"No IMG_*.tif patch under {aerial_root}/<domain>/<zone>/img/")
    return sorted(patches, key=lambda p: p.name)


def split_by_domain(
    patches: list[Flair2Patch], val_domains: list[str] | None = None, val_fraction: float = 0.2
) -> tuple[list[Flair2Patch], list[Flair2Patch]]:
    """Train and validation patches with no domain in both. Without `val_domains`, the last
    ceil(val_fraction x number of domains) domains in sorted order are held out (at least one)."""
    domains = sorted({p.domain for p in patches})
    if val_domains is None:
        if len(domains) < 2:
            raise InputError(
                f"A split by domain needs two domains or more, found {domains}",
                "Hold out zones instead: data.split_by=zone (a corrections dataset is one domain).",
            )
        count = min(len(domains) - 1, max(1, math.ceil(val_fraction * len(domains))))
        val_domains = domains[-count:]
    unknown = sorted(set(val_domains) - set(domains))
    if unknown:
        raise InputError(f"Validation domains {unknown} are not in the dataset", f"Known domains: {domains}")
    held = set(val_domains)
    return [p for p in patches if p.domain not in held], [p for p in patches if p.domain in held]


def zone_key(patch: Flair2Patch) -> str:
    """A patch's zone as `<domain>/<zone>` (zone names repeat across FLAIR #2 domains)."""
    return f"{patch.domain}/{patch.zone}"


def split_by_zone(
    patches: list[Flair2Patch], val_zones: list[str] | None = None, val_fraction: float = 0.2
) -> tuple[list[Flair2Patch], list[Flair2Patch]]:
    """Train and validation patches with no zone (one Sentinel-2 super-area) in both. `val_zones` names
    zones as `<domain>/<zone>`; without it, in every domain of two zones or more, the last
    ceil(val_fraction x its zones) zones in sorted order are held out (at least one, never all)."""
    zones = sorted({zone_key(p) for p in patches})
    if val_zones is None:
        by_domain: dict[str, list[str]] = {}
        for key in zones:
            by_domain.setdefault(key.split("/")[0], []).append(key)
        val_zones = []
        for members in by_domain.values():
            if len(members) >= 2:
                count = min(len(members) - 1, max(1, math.ceil(val_fraction * len(members))))
                val_zones += members[-count:]
        if not val_zones:
            raise InputError(
                f"A split by zone needs a domain with two zones or more, found {zones}",
                "Give more patches (corrections in more than one zone), or name a root with more zones.",
            )
    unknown = sorted(set(val_zones) - set(zones))
    if unknown:
        raise InputError(
            f"Validation zones {unknown} are not in the dataset",
            f"Name zones as <domain>/<zone>; known zones: {zones}",
        )
    held = set(val_zones)
    if held == set(zones):
        raise InputError("Every zone is held out for validation: none is left to train on")
    return [p for p in patches if zone_key(p) not in held], [p for p in patches if zone_key(p) in held]


def sinusoidal_metadata_vector(entry: dict) -> np.ndarray:
    """This project's own 45-value encoding ("flair-qgis-sinusoidal") of a patch's aerial metadata:
    32 sinusoids of the centroid coordinates (8 periods from 1 km to 128 km, x and y, sin and cos),
    then altitude / 1000, year offset from 2020 / 5, month, day of year and time of day as sin/cos pairs,
    and 5 zeros kept for a camera code."""
    x, y = float(entry["patch_centroid_x"]), float(entry["patch_centroid_y"])
    values = []
    for k in range(8):
        period = 1000.0 * 2**k
        for coordinate in (x, y):
            angle = 2 * math.pi * coordinate / period
            values += [math.sin(angle), math.cos(angle)]
    day = date.fromisoformat(entry["date"])
    hours, _, minutes = str(entry.get("time", "12h00")).partition("h")
    hour = int(hours or 12) + int(minutes or 0) / 60
    month_angle = 2 * math.pi * (day.month - 1) / 12
    doy_angle = 2 * math.pi * (day.timetuple().tm_yday - 1) / 365
    time_angle = 2 * math.pi * hour / 24
    values += [float(entry.get("patch_centroid_z", 0.0)) / 1000.0, (day.year - 2020) / 5.0]
    values += [math.sin(month_angle), math.cos(month_angle), math.sin(doy_angle), math.cos(doy_angle)]
    values += [math.sin(time_angle), math.cos(time_angle), 0.0, 0.0, 0.0, 0.0, 0.0]
    return np.asarray(values, dtype=np.float32)


#: Highest patch altitude of the FLAIR #2 dataset, in metres: the reference scales altitudes by it.
REFERENCE_MAX_ALTITUDE = 3164.9099121094
#: The years the reference encodes as a one-hot (its dataset's acquisition years).
REFERENCE_YEARS = (2018, 2019, 2020, 2021)


def _unit(value: float) -> float:
    """-1..1 mapped onto 0..1, as the reference does with every date and time sinusoid."""
    return (value + 1.0) / 2.0


def reference_metadata_vector(entry: dict) -> np.ndarray:
    """The FLAIR #2 baseline's 45-value encoding ("flair2-reference") of a patch's aerial metadata,
    reproduced from IGN's code (IGNF/FLAIR-2, src/load_data.py, `adding_encoded_metadata`) so that
    checkpoints trained with it see the values they were trained on:

    - 32 values of the centroid (x, y in metres): with frequencies f_i = 1e8 ** (-i / 8), i = 0..7,
      sin(x / 1e8 * f_i) at even and cos at odd positions 0..15, then the same for y at 16..31;
    - altitude / 3164.9099121094 (the dataset's highest patch), lowest altitude 0;
    - camera: (1, 0) when its name contains "UCE", (0, 1) otherwise;
    - the year as a one-hot over 2018, 2019, 2020, 2021;
    - month, day and time as (sin + 1) / 2 and (cos + 1) / 2 of 2 pi (month - 1/12), 2 pi day / 31 and
      2 pi seconds / 86400. The month term is the reference's as written: 2 pi (month - 1/12) makes it
      the same for every month, and the weights were trained with that constant.

    Raises InputError for a year outside 2018..2021 (the reference has no code for it) or a malformed
    date or time.
    """
    x, y = float(entry["patch_centroid_x"]), float(entry["patch_centroid_y"])
    frequencies = 1.0 / (1e8 ** (2 * np.arange(8) / 16))
    coordinates = np.zeros(32)
    for offset, value in ((0, x / 1e8), (16, y / 1e8)):
        coordinates[offset : offset + 16 : 2] = np.sin(value * frequencies)
        coordinates[offset + 1 : offset + 16 : 2] = np.cos(value * frequencies)
    altitude = float(entry["patch_centroid_z"]) / REFERENCE_MAX_ALTITUDE
    camera = [1.0, 0.0] if "UCE" in str(entry["camera"]) else [0.0, 1.0]
    try:
        year, month, day = (int(part) for part in str(entry["date"]).split("-"))
        hours, minutes = (int(part) for part in str(entry["time"]).split("h"))
    except ValueError as exc:
        raise InputError(
            f"Aerial metadata date '{entry.get('date')}' or time '{entry.get('time')}' is not "
            "'YYYY-MM-DD' and 'HHhMM'"
        ) from exc
    if year not in REFERENCE_YEARS:
        raise InputError(
            f"The FLAIR #2 reference metadata encoding knows the years {list(REFERENCE_YEARS)}, not {year}",
            "A model trained with that encoding has never seen another year; run it without metadata.",
        )
    one_hot = [1.0 if year == known else 0.0 for known in REFERENCE_YEARS]
    angles = (
        2 * np.pi * (month - 1 / 12),
        2 * np.pi * (day / 31),
        2 * np.pi * ((hours * 3600 + minutes * 60) / 86400),
    )
    temporal = [_unit(f(angle)) for angle in angles for f in (np.sin, np.cos)]
    values = [*coordinates, altitude, *camera, *one_hot, *temporal]
    return np.asarray(values, dtype=np.float32)


#: Every metadata encoding by its bundle name (flair_qgis.core.bundle_spec.METADATA_ENCODINGS).
METADATA_ENCODERS = {
    "flair2-reference": reference_metadata_vector,
    "flair-qgis-sinusoidal": sinusoidal_metadata_vector,
}
assert set(METADATA_ENCODERS) == set(METADATA_ENCODINGS)


def metadata_vector(entry: dict, encoding: str = DEFAULT_METADATA_ENCODING) -> np.ndarray:
    """A patch's 45-value aerial metadata vector in the named encoding (see METADATA_ENCODERS)."""
    if encoding not in METADATA_ENCODERS:
        raise InputError(
            f"Unknown aerial metadata encoding '{encoding}'", f"Known encodings: {sorted(METADATA_ENCODERS)}"
        )
    return METADATA_ENCODERS[encoding](entry)


def normalise_aerial(raw: np.ndarray, spec: AerialInput) -> np.ndarray:
    """C x H x W raw values -> model values, by the very rule the engine applies (BandScaling.apply)."""
    return spec.scaling.apply(raw, axis=0)


class Flair2Dataset(Dataset):
    """Samples of FLAIR #2 patches: a dict with
    aerial C x S x S float32 (normalised per the aerial spec), labels S x S int64 (FLAIR_13 index or
    IGNORE_INDEX; absent for unlabelled patches), and with a Sentinel-2 spec, sentinel2 T x 10 x W x W
    float32 and positions T float32 (prepare_window's output), plus metadata (45,) when asked (in
    `metadata_encoding`, a name of METADATA_ENCODERS), and name.
    """

    def __init__(
        self,
        root: str | Path,
        patches: list[Flair2Patch],
        aerial: AerialInput,
        sentinel2: Sentinel2Input | None = None,
        augment: bool = False,
        with_metadata: bool = False,
        metadata_encoding: str = DEFAULT_METADATA_ENCODING,
    ) -> None:
        self.root = Path(root)
        self.patches = patches
        self.aerial = aerial
        self.sentinel2 = sentinel2
        self.augment = augment
        self.with_metadata = with_metadata
        self.metadata_encoding = metadata_encoding
        self.lookup = label_lookup()
        self._super_areas: dict[Path, FlairSuperArea] = {}
        self._centroids: dict[str, tuple[int, int]] | None = None
        self._metadata: dict[str, dict] | None = None

    def __len__(self) -> int:
        return len(self.patches)

    @property
    def centroids(self) -> dict[str, tuple[int, int]]:
        if self._centroids is None:
            path = self.root / CENTROIDS_NAME
            if not path.is_file():
                raise InputError(
                    f"Missing {CENTROIDS_NAME} in {self.root}",
                    "It maps each patch to its Sentinel-2 super-area.",
                )
            self._centroids = read_centroids(path)
        return self._centroids

    @property
    def metadata(self) -> dict[str, dict]:
        if self._metadata is None:
            path = self.root / METADATA_NAME
            if not path.is_file():
                raise InputError(
                    f"Missing {METADATA_NAME} in {self.root}",
                    "Set data.aerial_metadata: false to train without it.",
                )
            self._metadata = json.loads(path.read_text(encoding="utf-8"))
        return self._metadata

    def read_aerial(self, patch: Flair2Patch) -> np.ndarray:
        with rasterio.open(patch.aerial) as src:
            bands = len(self.aerial.bands)
            if src.count < bands:
                raise InputError(
                    f"{patch.aerial} has {src.count} bands, the model needs {bands} ({', '.join(self.aerial.bands)})"
                )
            if (src.height, src.width) != (self.aerial.tile_size, self.aerial.tile_size):
                raise InputError(
                    f"{patch.aerial} is {src.width} x {src.height} px, the model takes {self.aerial.tile_size} x {self.aerial.tile_size}",
                    "Set data.tile_size to the patch size.",
                )
            return src.read(list(range(1, bands + 1)))

    def read_labels(self, patch: Flair2Patch) -> np.ndarray | None:
        if patch.labels is None:
            return None
        with rasterio.open(patch.labels) as src:
            return self.lookup[src.read(1)]

    def read_sentinel2(self, patch: Flair2Patch) -> tuple[np.ndarray, np.ndarray]:
        assert self.sentinel2 is not None
        super_area = self._super_areas.get(patch.sentinel2)
        if super_area is None:
            super_area = self._super_areas[patch.sentinel2] = super_area_for_patch(patch.sentinel2)
        data, masks, dates = patch_window(
            super_area, self.centroids, patch.aerial.name, self.sentinel2.window_size
        )
        prepared = prepare_window(data, masks, dates, self.sentinel2)
        if prepared.no_data:  # one padded frame: the model then relies on the aerial image alone
            w = self.sentinel2.window_size
            empty = np.full((1, len(self.sentinel2.bands), w, w), self.sentinel2.pad_value, dtype=np.float32)
            return empty, np.zeros(1, dtype=np.float32)
        return prepared.values, prepared.positions

    def __getitem__(self, index: int) -> dict:
        patch = self.patches[index]
        aerial = self.read_aerial(patch)
        labels = self.read_labels(patch)
        sample: dict = {"name": patch.name}
        series = self.read_sentinel2(patch) if self.sentinel2 is not None else None
        if self.augment:
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))
            transform = random_transform(rng)
            aerial = transform.apply(aerial)
            labels = transform.apply(labels) if labels is not None else None
            series = (transform.apply(series[0]), series[1]) if series is not None else None
        sample["aerial"] = torch.from_numpy(normalise_aerial(aerial, self.aerial))
        if labels is not None:
            sample["labels"] = torch.from_numpy(np.ascontiguousarray(labels))
        if series is not None:
            sample["sentinel2"] = torch.from_numpy(np.ascontiguousarray(series[0], dtype=np.float32))
            sample["positions"] = torch.from_numpy(np.asarray(series[1], dtype=np.float32))
        if self.with_metadata:
            sample["metadata"] = torch.from_numpy(
                metadata_vector(self.metadata[patch.name], self.metadata_encoding)
            )
        return sample


def collate(samples: list[dict], pad_value: float = 0.0) -> dict:
    """Stack samples into a batch, padding each Sentinel-2 series to the longest with pad_value frames
    (positions 0): sentinel2 B x T x C x W x W, positions B x T."""
    batch: dict = {
        "name": [s["name"] for s in samples],
        "aerial": torch.stack([s["aerial"] for s in samples]),
    }
    if all("labels" in s for s in samples):
        batch["labels"] = torch.stack([s["labels"] for s in samples])
    if "sentinel2" in samples[0]:
        longest = max(s["sentinel2"].shape[0] for s in samples)
        first = samples[0]["sentinel2"]
        series = torch.full((len(samples), longest, *first.shape[1:]), pad_value, dtype=first.dtype)
        positions = torch.zeros(len(samples), longest)
        for i, s in enumerate(samples):
            t = s["sentinel2"].shape[0]
            series[i, :t] = s["sentinel2"]
            positions[i, :t] = s["positions"]
        batch["sentinel2"], batch["positions"] = series, positions
    if "metadata" in samples[0]:
        batch["metadata"] = torch.stack([s["metadata"] for s in samples])
    return batch
