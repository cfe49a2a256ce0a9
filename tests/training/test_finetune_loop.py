"""The whole loop from a reviewer's corrections to a better model, on a synthetic scene: a model trained
with coniferous labelled as deciduous maps every conifer stand as deciduous; a reviewer redraws the
conifer stands of the scene's top half in a corrections GeoPackage; training patches are exported from
them (with the map's confident predictions around them); a short fine-tune from the first model's bundle
and `flair-train export` give a new bundle, which the plugin's engine runs on the whole scene. Where no
one corrected (the bottom half), its map agrees with the true classes by a clear margin more."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio
from rasterio.transform import from_origin

from flair_qgis import cli as engine_cli
from flair_qgis.core.bundle_spec import METADATA_KEY, BundleSpec
from flair_qgis.core.predict import PredictionRequest, predict
from flair_qgis.review.training_patches import PatchExport, export_training_patches
from flair_training import cli
from flair_training.synth import draw_aerial, write_aerial, write_labels
from tests.training.test_correction_patches import write_corrections as write_geopackage

pytestmark = pytest.mark.slow

CRS = "EPSG:2154"
ORIGIN = (652000.0, 6861000.0)
GSD = 0.2
TILE = 32
WIDTH, HEIGHT = 24 * TILE, 8 * TILE  # 3 zones of 8 x 8 patches side by side
CORRECTED_ROWS = HEIGHT // 2  # the reviewer corrects the top half
CONIFEROUS, DECIDUOUS = 6, 7
CLASSES = (2, 4, 5, CONIFEROUS, DECIDUOUS)
SHARES = (0.15, 0.15, 0.15, 0.3, 0.25)
#: Least rise of the agreement with the true classes on the uncorrected half. Measured: 0.741 -> 0.980
#: with this scene (seed 12); +0.300 and +0.239 with seeds 13 and 14.
MARGIN = 0.10


def parcels(rng: np.random.Generator) -> list[tuple[int, int, int, int, int]]:
    """Rectangular parcels tiling the scene: (col0, row0, col1, row1, code) in pixels."""

    def edges(size: int) -> list[int]:
        cuts = [0]
        while cuts[-1] < size:
            cuts.append(min(size, cuts[-1] + int(rng.integers(24, 57))))
        return cuts

    cols, rows = edges(WIDTH), edges(HEIGHT)
    return [
        (c0, r0, c1, r1, int(rng.choice(CLASSES, p=SHARES)))
        for r0, r1 in itertools.pairwise(rows)
        for c0, c1 in itertools.pairwise(cols)
    ]


def fit_args(root, out, *extra: str) -> list[str]:
    return [
        "fit", "--config", "unet_aerial", f"data.root={root}", f"output_dir={out}",
        "model.encoder_name=resnet18", f"data.tile_size={TILE}", "data.split_by=zone",
        "data.batch_size=16", "data.eval_batch_size=16", "data.num_workers=0", "trainer.accelerator=cpu",
        "trainer.devices=1", "trainer.progress_bar=false", "trainer.threads=1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("loop")
    rng = np.random.default_rng(12)
    truth = np.zeros((HEIGHT, WIDTH), np.uint8)
    layout = parcels(rng)
    for c0, r0, c1, r1, code in layout:
        truth[r0:r1, c0:c1] = code
    transform = from_origin(*ORIGIN, GSD, GSD)
    cols, rows = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
    xs, ys = (np.asarray(a) for a in transform * (cols, rows))
    aerial = draw_aerial(truth, xs, ys, rng)
    write_aerial(folder / "ortho.tif", aerial, transform, CRS)
    return {"folder": folder, "truth": truth, "parcels": layout, "aerial": folder / "ortho.tif"}


def write_base_dataset(scene: dict, root: Path) -> None:
    """The scene's patches in the FLAIR #2 layout, labelled with coniferous merged into deciduous."""
    labels = np.where(scene["truth"] == CONIFEROUS, DECIDUOUS, scene["truth"]).astype(np.uint8)
    with rasterio.open(scene["aerial"]) as src:
        aerial = src.read()
    for row in range(HEIGHT // TILE):
        for col in range(WIDTH // TILE):
            zone = f"Z{col // 8}"
            image_dir = root / "flair_aerial_train" / "D001_2021" / zone / "img"
            label_dir = root / "flair_labels_train" / "D001_2021" / zone / "msk"
            image_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            window = (slice(row * TILE, (row + 1) * TILE), slice(col * TILE, (col + 1) * TILE))
            transform = from_origin(ORIGIN[0] + col * TILE * GSD, ORIGIN[1] - row * TILE * GSD, GSD, GSD)
            name = f"{row * 100 + col:06d}"
            write_aerial(image_dir / f"IMG_{name}.tif", aerial[(slice(None), *window)], transform, CRS)
            write_labels(label_dir / f"MSK_{name}.tif", labels[window], transform, CRS)


def write_corrections(scene: dict, path: Path) -> int:
    """The reviewer's corrections: every conifer stand of the top half, redrawn as coniferous."""
    rows = []
    for c0, r0, c1, r1, code in scene["parcels"]:
        if code != CONIFEROUS or r0 >= CORRECTED_ROWS:
            continue
        r1 = min(r1, CORRECTED_ROWS)
        x0, x1 = ORIGIN[0] + c0 * GSD, ORIGIN[0] + c1 * GSD
        y0, y1 = ORIGIN[1] - r0 * GSD, ORIGIN[1] - r1 * GSD
        wkt = f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
        rows.append((wkt, CONIFEROUS, f"2026-12-02T10:{len(rows):02d}:00"))
    write_geopackage(path, rows, author="A. Reviewer")
    return len(rows)


def run_bundle(scene: dict, bundle: Path, output: Path) -> np.ndarray:
    predict(
        PredictionRequest(
            aerial=scene["aerial"], bundle=bundle, output=output, outputs={"confidence"}, device="cpu"
        )
    )
    with rasterio.open(output) as src:
        return src.read(1)


def agreement(classes: np.ndarray, truth: np.ndarray) -> float:
    return float((classes == truth).mean())


def test_corrections_make_a_better_model_where_no_one_corrected(scene, tmp_path, capsys) -> None:
    truth = scene["truth"]
    uncorrected = (slice(CORRECTED_ROWS, None), slice(None))
    assert (truth[uncorrected] == CONIFEROUS).mean() > 0.15  # enough conifers where no one corrects

    base_root = tmp_path / "base_data"
    write_base_dataset(scene, base_root)
    assert cli.main(fit_args(base_root, tmp_path / "base_run", "optim.lr=0.003", "trainer.max_epochs=6")) == 0
    base_checkpoint = next((tmp_path / "base_run" / "checkpoints").glob("unet-*.ckpt"))
    base_bundle = tmp_path / "base.onnx"
    assert cli.main(["export", str(base_checkpoint), str(base_bundle), "--name", "base-unet"]) == 0
    base_map = run_bundle(scene, base_bundle, scene["folder"] / "base_map.tif")
    before = agreement(base_map[uncorrected], truth[uncorrected])
    conifers_before = float((base_map[uncorrected] == CONIFEROUS)[truth[uncorrected] == CONIFEROUS].mean())

    corrections = scene["folder"] / "base_map.corrections.gpkg"
    drawn = write_corrections(scene, corrections)
    patches = tmp_path / "patches"
    summary = export_training_patches(
        PatchExport(
            classes=scene["folder"] / "base_map.tif",
            corrections=corrections,
            aerial=scene["aerial"],
            bundle=base_bundle,
            out=patches,
            confidence=scene["folder"] / "base_map.confidence.tif",
            confident=0.6,
            author="A. Reviewer",
        )
    )
    assert summary.zones == 3 and summary.corrected_pixels[CONIFEROUS] > 0
    capsys.readouterr()

    status = cli.main(
        [*fit_args(patches, tmp_path / "tuned_run", "optim.lr=0.003", "trainer.max_epochs=12", "data.batch_size=8"),
         "--init", str(base_bundle)]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "no example of" in printed.err  # buildings, water courses, ... are not in the patches
    tuned_checkpoint = next((tmp_path / "tuned_run" / "checkpoints").glob("unet-*.ckpt"))
    tuned_bundle = tmp_path / "tuned.onnx"
    assert cli.main(["export", str(tuned_checkpoint), str(tuned_bundle), "--name", "tuned-unet"]) == 0
    tuned_map = run_bundle(scene, tuned_bundle, scene["folder"] / "tuned_map.tif")
    after = agreement(tuned_map[uncorrected], truth[uncorrected])
    conifers_after = float((tuned_map[uncorrected] == CONIFEROUS)[truth[uncorrected] == CONIFEROUS].mean())

    print(
        f"\nfine-tuning loop: {drawn} corrections, {summary.patches} patches, "
        f"{sum(summary.corrected_pixels.values())} corrected and {sum(summary.predicted_pixels.values())} "
        f"predicted pixels; agreement with the true classes on the uncorrected half: {before:.3f} -> "
        f"{after:.3f} (+{after - before:.3f}); coniferous found there: {conifers_before:.3f} -> "
        f"{conifers_after:.3f}"
    )
    assert after >= before + MARGIN, (before, after)

    provenance = BundleSpec.from_json(
        next(p.value for p in onnx.load(str(tuned_bundle)).metadata_props if p.key == METADATA_KEY)
    ).provenance
    assert "base-unet 1" in provenance["base_model"] and "base.onnx" in provenance["base_model"]
    assert (
        "A. Reviewer" in provenance["training_data"]
        and f"{summary.patches} patches" in provenance["training_data"]
    )
    assert json.loads((patches / "manifest.json").read_text())["author"] == "A. Reviewer"
    out = io.StringIO()
    assert engine_cli.main(["info", str(tuned_bundle)], stdout=out) == 0
    assert "Base model: base-unet 1 (base.onnx" in out.getvalue()
    assert "Training data: corrections CORR-base_map at " in out.getvalue()
