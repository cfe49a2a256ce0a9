"""Synthetic land-cover scenes and a small dataset in the exact FLAIR #2 layout, for tests and demos.

Some classes look the same from the air and differ only in their yearly Sentinel-2 profile (herbaceous
vegetation, agricultural land and plowed land share one aerial texture; meadows stay green, crops green
up in spring and are harvested in summer, plowed fields stay bare), so only a model that fuses both
modalities can tell them apart. The drawing functions also serve the demo, which draws a large
georeferenced aerial scene and Sentinel-2 products from the same profiles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine, from_origin

from flair_qgis.core.bundle_spec import SENTINEL2_BANDS

CRS = "EPSG:2154"
AERIAL_GSD = 0.2
SENTINEL2_GSD = 10.0
YEAR = 2021

#: FLAIR-19 codes of the classes that only the Sentinel-2 profile separates.
SENTINEL2_ONLY_CLASSES = (10, 11, 12)

# Spectra (reflectance x 10000, bands B2 B3 B4 B5 B6 B7 B8 B8A B11 B12) mixed into every profile.
_SOIL = np.array([900, 1150, 1450, 1700, 1800, 1850, 1900, 1950, 3000, 2500], dtype=np.float64)
_WET_SOIL = _SOIL * 0.65
_VEGETATION = np.array([300, 620, 320, 950, 2500, 3200, 3650, 3750, 1800, 850], dtype=np.float64)
_WATER = np.array([650, 520, 320, 220, 160, 130, 110, 95, 55, 35], dtype=np.float64)
_URBAN = np.array([1250, 1300, 1400, 1600, 1750, 1850, 1950, 2000, 2400, 2200], dtype=np.float64)
_CLOUD = np.array([7200, 7000, 6900, 6900, 6800, 6800, 6700, 6700, 5200, 4200], dtype=np.float64)
_SNOW = np.array([9000, 8800, 8600, 8200, 7800, 7600, 7400, 7300, 1200, 900], dtype=np.float64)


def _bump(day: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A smooth seasonal bump (0..1) centred on a day of year."""
    return np.exp(-0.5 * ((day - centre) / width) ** 2)


def vegetation_fraction(code: int, day_of_year: np.ndarray | float) -> np.ndarray:
    """How green a FLAIR-19 class is on a day of year (0 bare .. 1 full canopy)."""
    day = np.asarray(day_of_year, dtype=np.float64)
    season = 0.5 - 0.5 * np.cos(2 * np.pi * (day - 15) / 365.0)  # 0 in January, 1 in July
    if code == 10:  # herbaceous vegetation: green all year
        return 0.72 + 0.12 * season
    if code == 11:  # agricultural land: sown in spring, peak in June, harvested in August
        return 0.08 + 0.85 * _bump(day, 165, 35)
    if code == 12:  # plowed land: bare all year
        return 0.04 + 0.0 * day
    if code == 7:  # deciduous
        return 0.2 + 0.72 * _bump(day, 190, 60)
    if code == 6:  # coniferous
        return 0.82 + 0.0 * day
    if code == 8:  # brushwood
        return 0.45 + 0.25 * season
    if code == 9:  # vineyard
        return 0.15 + 0.5 * _bump(day, 200, 45)
    if code in (2, 15, 16, 17):
        return 0.4 + 0.2 * season
    return 0.0 * day


def sentinel2_reflectance(code: int, day_of_year: np.ndarray | float) -> np.ndarray:
    """The yearly profile of a FLAIR-19 class: reflectance x 10000, shape (days..., 10), FLAIR band order."""
    day = np.asarray(day_of_year, dtype=np.float64)
    if code == 5 or code == 13:
        base = np.broadcast_to(_WATER, (*day.shape, 10)).copy()
        return base
    if code in (1, 3, 18):
        return np.broadcast_to(_URBAN * (1.1 if code == 1 else 1.0), (*day.shape, 10)).copy()
    soil = _WET_SOIL if code == 12 else _SOIL
    green = vegetation_fraction(code, day)[..., None]
    canopy = _VEGETATION * (0.8 if code == 6 else 1.0)
    return green * canopy + (1 - green) * soil


def sentinel2_profiles(
    days_of_year: np.ndarray, codes: range | list[int] = range(1, 20)
) -> dict[int, np.ndarray]:
    """Profiles of several classes: code -> len(days) x 10 reflectance x 10000."""
    return {code: sentinel2_reflectance(code, np.asarray(days_of_year)) for code in codes}


# Aerial appearance per FLAIR-19 class: mean R, G, B, NIR, texture amplitude, height above ground (m).
_AERIAL = {
    1: (170, 90, 80, 110, 14, 9.0),
    2: (120, 140, 95, 150, 16, 0.2),
    3: (110, 110, 115, 95, 10, 0.0),
    4: (160, 130, 95, 120, 14, 0.0),
    5: (40, 65, 90, 25, 5, 0.0),
    6: (35, 70, 45, 120, 20, 18.0),
    7: (70, 120, 60, 190, 24, 15.0),
    8: (110, 120, 70, 160, 22, 2.0),
    9: (130, 120, 80, 140, 30, 1.5),
    10: (100, 130, 75, 165, 14, 0.2),
    13: (60, 170, 210, 40, 4, 0.0),
}
for _code in SENTINEL2_ONLY_CLASSES:  # one aerial texture for all three: only Sentinel-2 separates them
    _AERIAL[_code] = _AERIAL[10]

#: Parcel classes and their share of a scene's area (an "urban" parcel holds buildings, roads, gardens).
_PARCEL_WEIGHTS = {
    10: 0.14,
    11: 0.14,
    12: 0.14,
    0: 0.16,  # urban block
    6: 0.07,
    7: 0.08,
    5: 0.06,
    4: 0.05,
    8: 0.06,
    9: 0.05,
    2: 0.05,
}
URBAN_BLOCK = 16.0  # metres, the period of the building pattern inside urban parcels


@dataclass
class LandCoverScene:
    """A land-cover map defined everywhere inside `bounds` (EPSG:2154 metres): a grid of parcels.

    Parcel i, j spans x_edges[j]..x_edges[j+1], y_edges[i]..y_edges[i+1] (y increasing northwards) with
    class parcel_codes[i, j] (FLAIR-19 code, or 0 for an urban block of buildings, roads and gardens).
    """

    bounds: tuple[float, float, float, float]
    x_edges: np.ndarray
    y_edges: np.ndarray
    parcel_codes: np.ndarray
    seed: int

    @classmethod
    def random(
        cls,
        bounds: tuple[float, float, float, float],
        seed: int = 0,
        parcel_size: tuple[float, float] = (30.0, 100.0),
    ) -> LandCoverScene:
        rng = np.random.default_rng(seed)
        xmin, ymin, xmax, ymax = bounds

        def edges(low: float, high: float) -> np.ndarray:
            steps = [low]
            while steps[-1] < high:
                steps.append(steps[-1] + rng.uniform(*parcel_size))
            return np.array(steps)

        x_edges, y_edges = edges(xmin, xmax), edges(ymin, ymax)
        codes = np.array(list(_PARCEL_WEIGHTS))
        weights = np.array(list(_PARCEL_WEIGHTS.values()))
        parcels = rng.choice(codes, size=(len(y_edges) - 1, len(x_edges) - 1), p=weights / weights.sum())
        return cls(bounds, x_edges, y_edges, parcels.astype(np.uint8), seed)

    def classes_at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """FLAIR-19 codes (uint8) at map coordinates xs, ys (same shapes)."""
        col = np.clip(np.searchsorted(self.x_edges, xs, side="right") - 1, 0, self.parcel_codes.shape[1] - 1)
        row = np.clip(np.searchsorted(self.y_edges, ys, side="right") - 1, 0, self.parcel_codes.shape[0] - 1)
        codes = self.parcel_codes[row, col].copy()
        urban = codes == 0
        if urban.any():
            codes[urban] = _urban_pattern(
                xs[urban] - self.x_edges[col[urban]], ys[urban] - self.y_edges[row[urban]]
            )
        return codes

    def rasterize(self, transform: Affine, width: int, height: int) -> np.ndarray:
        """The class map on a raster grid (pixel centres): height x width uint8 FLAIR-19 codes."""
        cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        xs, ys = transform * (cols, rows)
        return self.classes_at(np.asarray(xs), np.asarray(ys))

    def fractions(self, transform: Affine, width: int, height: int, samples: int = 5) -> np.ndarray:
        """Share of each FLAIR-19 class in every pixel of a coarse grid: 20 x height x width (index = code)."""
        counts = np.zeros((20, height, width), dtype=np.float32)
        offsets = (np.arange(samples) + 0.5) / samples
        cols, rows = np.meshgrid(np.arange(width), np.arange(height))
        for dy in offsets:
            for dx in offsets:
                xs, ys = transform * (cols + dx, rows + dy)
                codes = self.classes_at(np.asarray(xs), np.asarray(ys))
                np.add.at(counts, (codes, rows, cols), 1.0)
        return counts / samples**2


def _urban_pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Buildings on a 16 m lattice with roads and gardens around them, and a pool in some gardens."""
    a, b = np.mod(u, URBAN_BLOCK), np.mod(v, URBAN_BLOCK)
    block = (np.floor(u / URBAN_BLOCK) * 7 + np.floor(v / URBAN_BLOCK) * 3).astype(np.int64)
    codes = np.full(u.shape, 2, dtype=np.uint8)  # gardens: pervious surface
    codes[(a < 2.5) | (b < 2.5)] = 3  # roads
    codes[(a > 4) & (a < 12) & (b > 4) & (b < 11)] = 1  # buildings
    codes[(a > 12.5) & (a < 15) & (b > 12.5) & (b < 14.5) & (block % 3 == 0)] = 13  # swimming pools
    return codes


def draw_aerial(codes: np.ndarray, xs: np.ndarray, ys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The aerial image of a class map: 5 x H x W uint8 (R, G, B, NIR, elevation as height x 5).

    xs, ys: the map coordinates of the pixels (texture follows the ground, so tiles join seamlessly).
    """
    height, width = codes.shape
    image = np.zeros((5, height, width), dtype=np.float32)
    # ground-anchored texture: a few sinusoids plus per-pixel noise
    texture = np.sin(xs * 1.7 + np.sin(ys * 0.9)) * np.cos(ys * 1.3) + 0.5 * np.sin(xs * 0.37 - ys * 0.53)
    texture = texture.astype(np.float32)
    rows_pattern = np.sin(xs * 2 * np.pi / 2.5).astype(np.float32)  # vine rows every 2.5 m
    for code, (r, g, b, nir, amplitude, height_m) in _AERIAL.items():
        where = codes == code
        if not where.any():
            continue
        pattern = rows_pattern[where] if code == 9 else texture[where]
        for band, value in enumerate((r, g, b, nir)):
            image[band][where] = value + amplitude * pattern
        image[4][where] = height_m * 5 * (0.9 + 0.1 * texture[where])
    other = ~np.isin(codes, list(_AERIAL))
    image[:4, other] = 128
    image[:4] += rng.normal(0, 6, size=(4, height, width)).astype(np.float32)
    image[4] += np.abs(rng.normal(0, 1, size=(height, width))).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def acquisition_dates(count: int = 20, year: int = YEAR, seed: int = 0) -> list[date]:
    """Roughly regular acquisitions over a year (about one every 18 days), jittered by a few days."""
    rng = np.random.default_rng(seed)
    step = 365.0 / count
    days = sorted({int(np.clip(i * step + 5 + rng.integers(-3, 4), 0, 364)) for i in range(count)})
    return [date(year, 1, 1) + timedelta(days=d) for d in days]


def product_name(day: date, index: int) -> str:
    """An ESA L2A product name for a date, as listed in FLAIR #2's `_products.txt`."""
    stamp = day.strftime("%Y%m%d")
    return f"S2{'AB'[index % 2]}_MSIL2A_{stamp}T105031_N0300_R051_T31TCJ_{stamp}T130208"


def draw_sentinel2(
    scene: LandCoverScene,
    transform: Affine,
    width: int,
    height: int,
    dates: list[date],
    rng: np.random.Generator,
    cloudy: set[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A Sentinel-2 series of the scene on a 10 m grid: data T x 10 x H x W uint16 (reflectance x 10000)
    and masks T x 2 x H x W uint8 (snow, cloud probabilities). Dates whose index is in `cloudy` get a
    large cloud over part of the grid; a January date gets some snow."""
    fractions = scene.fractions(transform, width, height)
    present = [code for code in range(20) if fractions[code].any()]
    cloudy = cloudy or set()
    data = np.zeros((len(dates), 10, height, width), dtype=np.float32)
    masks = np.zeros((len(dates), 2, height, width), dtype=np.uint8)
    for t, day in enumerate(dates):
        doy = day.timetuple().tm_yday
        frame = np.zeros((10, height, width), dtype=np.float32)
        for code in present:
            frame += (
                sentinel2_reflectance(code, doy).astype(np.float32)[:, None, None] * fractions[code][None]
            )
        frame *= rng.normal(1.0, 0.03, size=(1, height, width)).astype(np.float32)
        frame += rng.normal(0, 40, size=frame.shape).astype(np.float32)
        if t in cloudy:
            cloud = _blob(rng, height, width, coverage=rng.uniform(0.6, 1.0))
            frame = frame * (1 - cloud) + _CLOUD[:, None, None].astype(np.float32) * cloud
            masks[t, 1] = np.clip(cloud * 100 + rng.integers(0, 5, size=cloud.shape), 0, 100).astype(np.uint8)
        if day.month == 1:
            snow = _blob(rng, height, width, coverage=0.25)
            frame = frame * (1 - snow) + _SNOW[:, None, None].astype(np.float32) * snow
            masks[t, 0] = np.clip(snow * 100, 0, 100).astype(np.uint8)
        data[t] = frame
    return np.clip(np.rint(data), 0, 65535).astype(np.uint16), masks


def _blob(rng: np.random.Generator, height: int, width: int, coverage: float) -> np.ndarray:
    """A soft-edged blob (0..1) covering about `coverage` of the grid."""
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    rows, cols = np.mgrid[0:height, 0:width]
    distance = np.hypot(rows - cy, cols - cx)
    radius = math.sqrt(coverage * height * width / math.pi) * 1.2
    return np.clip((radius - distance) / 3.0, 0.0, 1.0).astype(np.float32)


def write_aerial(path: Path, image: np.ndarray, transform: Affine, crs: str = CRS) -> None:
    """A FLAIR #2 aerial patch: 5-band uint8 GeoTIFF."""
    profile = dict(driver="GTiff", width=image.shape[2], height=image.shape[1], count=image.shape[0])
    with rasterio.open(path, "w", **profile, dtype="uint8", crs=crs, transform=transform) as dst:
        dst.write(image)


def write_labels(path: Path, codes: np.ndarray, transform: Affine, crs: str = CRS) -> None:
    """A FLAIR #2 label patch: 1-band uint8 GeoTIFF of codes 1..19."""
    with rasterio.open(
        path, "w", driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
        crs=crs, transform=transform,
    ) as dst:  # fmt: skip
        dst.write(codes[None])


def write_aerial_scene(
    path: Path, scene: LandCoverScene, bounds: tuple[float, float, float, float], gsd: float = AERIAL_GSD,
    block: int = 1024, seed: int = 0,
) -> Path:  # fmt: skip
    """Draw a large aerial GeoTIFF of `scene` over `bounds` block by block (bounded memory), tiled and
    compressed. Returns the path."""
    xmin, ymin, xmax, ymax = bounds
    width, height = round((xmax - xmin) / gsd), round((ymax - ymin) / gsd)
    transform = from_origin(xmin, ymax, gsd, gsd)
    rng = np.random.default_rng(seed)
    profile = dict(driver="GTiff", width=width, height=height, count=5, dtype="uint8", crs=CRS)
    profile |= dict(transform=transform, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, height, block):
            for col in range(0, width, block):
                h, w = min(block, height - row), min(block, width - col)
                cols, rows = np.meshgrid(np.arange(col, col + w) + 0.5, np.arange(row, row + h) + 0.5)
                xs, ys = (np.asarray(a) for a in transform * (cols, rows))
                image = draw_aerial(scene.classes_at(xs, ys), xs, ys, rng)
                dst.write(image, window=rasterio.windows.Window(col, row, w, h))
    return path


def _layout(patches: int, per_zone: int, test_zones: int) -> list[tuple[str, str, str]]:
    zones = max(4, math.ceil(patches / per_zone))
    layout = []
    for z in range(zones):
        split = "test" if z >= zones - test_zones else "train"
        domain = f"D{z // 2 + 1 if split == 'train' else 90 + z:03d}_2021"
        layout.append((split, domain, f"Z{z + 1}_{'UN'[z % 2]}{'AN'[z % 2]}"))
    return layout


def _zone_folders(out: Path, split: str, domain: str, zone: str) -> tuple[Path, Path, Path]:
    """The zone's img/, msk/ and sen/ folders, named as in FLAIR #2 (test split: flair_2_*_test)."""
    prefix = "flair_2" if split == "test" else "flair"
    folders = (
        out / f"{prefix}_aerial_{split}" / domain / zone / "img",
        out / f"{prefix}_labels_{split}" / domain / zone / "msk",
        out / f"{prefix}_sen_{split}" / domain / zone / "sen",
    )
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _write_super_area(
    sen_dir: Path, prefix: str, scene: LandCoverScene, transform: Affine, pixels: int, dates: list[date],
    rng: np.random.Generator,
) -> None:  # fmt: skip
    """`<prefix>_data.npy`, `_masks.npy` and `_products.txt` of one zone, a fifth of the dates cloudy."""
    cloudy = set(rng.choice(len(dates), size=max(2, len(dates) // 5), replace=False).tolist())
    data, masks = draw_sentinel2(scene, transform, pixels, pixels, dates, rng, cloudy)
    np.save(sen_dir / f"{prefix}_data.npy", data)
    np.save(sen_dir / f"{prefix}_masks.npy", masks)
    names = [product_name(day, i) for i, day in enumerate(dates)]
    (sen_dir / f"{prefix}_products.txt").write_text("\n".join(names) + "\n", encoding="utf-8")


def _patch_metadata(
    centre_x: float, centre_y: float, domain: str, zone: str, rng: np.random.Generator
) -> dict:
    """An entry of flair_aerial_metadata.json."""
    return {
        "patch_centroid_x": round(centre_x, 2),
        "patch_centroid_y": round(centre_y, 2),
        "patch_centroid_z": round(float(rng.uniform(20, 400)), 1),
        "camera": "UCE-M3-f120-s06",
        "date": f"{YEAR}-{int(rng.integers(5, 9)):02d}-{int(rng.integers(1, 28)):02d}",
        "time": f"{int(rng.integers(9, 16))}h{int(rng.integers(0, 60)):02d}",
        "domain": domain,
        "zone": zone,
    }


def _write_patch(
    scene: LandCoverScene, left: float, top: float, size: int, patch_id: int, aerial_dir: Path, label_dir: Path,
    rng: np.random.Generator,
) -> None:  # fmt: skip
    """IMG_<id>.tif and MSK_<id>.tif of the size x size patch whose upper-left corner is (left, top)."""
    transform = from_origin(left, top, AERIAL_GSD, AERIAL_GSD)
    cols, rows = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    xs, ys = (np.asarray(a) for a in transform * (cols, rows))
    codes = scene.classes_at(xs, ys)
    write_aerial(aerial_dir / f"IMG_{patch_id:06d}.tif", draw_aerial(codes, xs, ys, rng), transform)
    write_labels(label_dir / f"MSK_{patch_id:06d}.tif", codes, transform)


def write_dataset(
    out: Path,
    patches: int = 48,
    size: int = 512,
    per_zone: int = 8,
    window: int = 40,
    dates: int = 20,
    seed: int = 0,
) -> dict[str, int]:
    """Write a synthetic dataset in the FLAIR #2 layout under `out` (see module docstring).

    Patches are spread evenly over max(4, patches / per_zone) zones, each with its own scene and
    Sentinel-2 super-area (covering the patches plus half a `window` of margin); a fifth of the zones (at
    least one) form the test split, the others go to train domains of two zones each. Returns the number
    of patches per split.
    """
    out = Path(out)
    layout = _layout(patches, per_zone, test_zones=max(1, math.ceil(patches / per_zone) // 5))
    centroids: dict[str, list[int]] = {}
    metadata: dict[str, dict] = {}
    counts = {"train": 0, "test": 0}
    patch_metres = size * AERIAL_GSD
    spacing = max(patch_metres, 60.0)
    grid = math.ceil(math.sqrt(math.ceil(patches / len(layout))))
    margin = (window // 2 + 2) * SENTINEL2_GSD
    extent = grid * spacing + 2 * margin
    series_dates = acquisition_dates(dates, seed=seed)
    next_id = 1
    for z, (split, domain, zone) in enumerate(layout):
        zone_seed = seed * 1000 + z
        rng = np.random.default_rng(zone_seed)
        x0, y0 = 600_000.0 + 5_000.0 * z, 6_800_000.0 + 3_000.0 * (z % 4)
        scene = LandCoverScene.random((x0, y0 - extent, x0 + extent, y0), seed=zone_seed)
        aerial_dir, label_dir, sen_dir = _zone_folders(out, split, domain, zone)
        sen_transform = from_origin(x0, y0, SENTINEL2_GSD, SENTINEL2_GSD)
        pixels = round(extent / SENTINEL2_GSD)
        _write_super_area(
            sen_dir, f"SEN2_sp_{domain}-{zone}", scene, sen_transform, pixels, series_dates, rng
        )
        zone_patches = patches // len(layout) + (1 if z < patches % len(layout) else 0)
        for k in range(zone_patches):
            gx, gy = k % grid, k // grid
            left = x0 + margin + gx * spacing + rng.uniform(0, spacing - patch_metres)
            top = y0 - margin - gy * spacing - rng.uniform(0, spacing - patch_metres)
            left, top = round(left / AERIAL_GSD) * AERIAL_GSD, round(top / AERIAL_GSD) * AERIAL_GSD
            _write_patch(scene, left, top, size, next_id, aerial_dir, label_dir, rng)
            centre_x, centre_y = left + patch_metres / 2, top - patch_metres / 2
            col, row = ~sen_transform * (centre_x, centre_y)
            centroids[f"IMG_{next_id:06d}.tif"] = [round(row), round(col)]
            metadata[f"IMG_{next_id:06d}"] = _patch_metadata(centre_x, centre_y, domain, zone, rng)
            counts[split] += 1
            next_id += 1
    (out / "flair-2_centroids_sp_to_patch.json").write_text(json.dumps(centroids, indent=1), encoding="utf-8")
    (out / "flair_aerial_metadata.json").write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    return counts


__all__ = [
    "SENTINEL2_BANDS",
    "SENTINEL2_ONLY_CLASSES",
    "LandCoverScene",
    "acquisition_dates",
    "draw_aerial",
    "draw_sentinel2",
    "product_name",
    "sentinel2_profiles",
    "sentinel2_reflectance",
    "vegetation_fraction",
    "write_aerial_scene",
    "write_dataset",
]
