"""`make demo`: the main job end to end, on a synthetic scene, on this machine's CPU.

1. draws a scene of about 1 km²: a 5-band 0.2 m aerial GeoTIFF in Lambert-93 and a year of Sentinel-2
   Level-2A products in ESA SAFE format (JPEG 2000, UTM 31N) covering it, some of them cloudy;
2. runs the Processing algorithm `flair:landcover` through the real `qgis_process` on the scene, with the
   demo model bundle (trained once on synthetic data by scripts/build_demo_bundle.py and cached under
   ~/.cache/flair_qgis/; the first `make demo` on a machine builds it, see its provenance);
3. renders a quick-look PNG with QGIS (aerial image, styled prediction, legend) and prints where
   everything is, how long each step took, and the map's agreement with the scene's true classes.

`make demo-train` (`--train`) first makes its own bundle as the cached one was made: a synthetic
dataset in the exact FLAIR #2 layout (`flair-train synth`), the quick U-T&T preset trained on it
(`flair-train fit --config quick`) and exported (`flair-train export`, checked against torch).

The model is trained on synthetic data: its map shows that the chain works, not what a model trained on
FLAIR #2 would predict on real imagery.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "training"), str(REPO / "scripts")]

SCENE_CRS = "EPSG:2154"
SENTINEL2_CRS = "EPSG:32631"  # UTM 31N, the zone of MGRS tile 31TCJ
SENTINEL2_TILE = "31TCJ"
# A scene near Toulouse, in Lambert-93 metres (south-west corner).
SCENE_ORIGIN = (570_000.0, 6_278_000.0)
CLOUDY_DATES = (3, 9, 15)  # indices of acquisitions with a large cloud over the scene


class Step:
    """Prints a numbered step with its duration, so progress is visible throughout; keeps the durations
    for the summary."""

    count = 0
    total = 0
    started = time.perf_counter()
    durations: ClassVar[list[tuple[str, float]]] = []

    def __init__(self, title: str) -> None:
        Step.count += 1
        self.title = title
        print(f"\n==> [{Step.count}/{Step.total}] {title}", flush=True)
        self.start = time.perf_counter()

    def done(self, message: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        total = time.perf_counter() - Step.started
        Step.durations.append((self.title, elapsed))
        print(f"    done in {elapsed:.0f} s (total {total / 60:.1f} min) {message}", flush=True)


def timed_step(title: str):
    """A Step as a callable ending it (the form scripts/build_demo_bundle.py takes)."""
    return Step(title).done


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run a command, its output shown as it comes; stop the demo if it fails."""
    print("    $ " + " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], env=env, check=False)
    if completed.returncode != 0:
        raise SystemExit(
            f"demo: the step failed (exit {completed.returncode}): {' '.join(map(str, command))}"
        )


def _sentinel2_generator():
    """The writers of real Sentinel-2 product layouts kept beside the test fixtures."""
    path = REPO / "tests" / "data" / "sentinel2" / "generate.py"
    spec = importlib.util.spec_from_file_location("sentinel2_generate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_scene(folder: Path, size_m: float, dates_count: int, seed: int) -> tuple[Path, Path]:
    """Draw the aerial GeoTIFF and the SAFE products of one synthetic scene; return their paths."""
    import numpy as np
    from rasterio.warp import transform as transform_points
    from rasterio.warp import transform_bounds

    from flair_training import synth

    folder.mkdir(parents=True, exist_ok=True)
    xmin, ymin = SCENE_ORIGIN
    bounds = (xmin, ymin, xmin + size_m, ymin + size_m)
    scene = synth.LandCoverScene.random(bounds, seed=seed)
    aerial = synth.write_aerial_scene(folder / "aerial_rgbie_20cm.tif", scene, bounds, seed=seed)
    print(
        f"    aerial image: {aerial} ({size_m / 1000:.2f} km x {size_m / 1000:.2f} km at 0.2 m)", flush=True
    )

    generator = _sentinel2_generator()
    margin = 500.0  # metres of Sentinel-2 around the scene, more than half a model window
    utm = transform_bounds(SCENE_CRS, SENTINEL2_CRS, *(bounds[0] - margin, bounds[1] - margin,
                                                       bounds[2] + margin, bounds[3] + margin))  # fmt: skip
    utm = (
        np.floor(utm[0] / 60) * 60,
        np.floor(utm[1] / 60) * 60,
        np.ceil(utm[2] / 60) * 60,
        np.ceil(utm[3] / 60) * 60,
    )
    sentinel2 = folder / "sentinel2"
    sentinel2.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    dates = synth.acquisition_dates(dates_count, seed=seed)

    def classes_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lx, ly = transform_points(SENTINEL2_CRS, SCENE_CRS, x.ravel(), y.ravel())
        return scene.classes_at(np.asarray(lx), np.asarray(ly)).reshape(x.shape)

    for index, day in enumerate(dates):
        doy = day.timetuple().tm_yday
        cloudy = index in CLOUDY_DATES
        cloud_centre = (rng.uniform(utm[0], utm[2]), rng.uniform(utm[1], utm[3]))

        def cloud_fn(x, y, cloudy=cloudy, centre=cloud_centre):
            if not cloudy:
                return np.zeros(x.shape)
            return np.where(np.hypot(x - centre[0], y - centre[1]) < 0.6 * (utm[2] - utm[0]), 95, 0)

        def band_values(band: str, x, y, doy=doy, cloud_fn=cloud_fn):
            codes = classes_at(x, y)
            position = synth.SENTINEL2_BANDS.index(band)
            values = np.zeros(x.shape)
            for code in np.unique(codes):
                values[codes == code] = synth.sentinel2_reflectance(int(code), doy)[position]
            cloud = cloud_fn(x, y) > 50
            values[cloud] = 7000.0
            return values * rng.normal(1.0, 0.02, size=x.shape)

        generator.write_safe_product(
            sentinel2,
            day.strftime("%Y%m%d"),
            SENTINEL2_TILE,
            SENTINEL2_CRS,
            utm,
            band_values,
            cloud_fn=cloud_fn,
        )
    print(
        f"    Sentinel-2: {len(dates)} SAFE products in {sentinel2} ({len(CLOUDY_DATES)} cloudy)", flush=True
    )
    return aerial, sentinel2


def agreement_with_truth(classes_path: Path, size_m: float, seed: int) -> tuple[float, dict[str, float]]:
    """Pixel agreement and per-class IoU of the predicted map against the scene's true classes (known,
    since the scene is drawn from them), read block by block."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from flair_qgis.core.nomenclature import FLAIR_13, flair19_to_flair13
    from flair_training import synth

    xmin, ymin = SCENE_ORIGIN
    scene = synth.LandCoverScene.random((xmin, ymin, xmin + size_m, ymin + size_m), seed=seed)
    to13 = np.array([0] + [flair19_to_flair13(code) for code in range(1, 20)], np.uint8)
    confusion = np.zeros((14, 14), np.int64)
    with rasterio.open(classes_path) as src:
        gsd, left, top = src.transform.a, src.transform.c, src.transform.f
        for row in range(0, src.height, 1024):
            height = min(1024, src.height - row)
            predicted = src.read(1, window=Window(0, row, src.width, height))
            truth = to13[scene.rasterize(from_origin(left, top - row * gsd, gsd, gsd), src.width, height)]
            inside = predicted > 0
            np.add.at(confusion, (truth[inside], predicted[inside]), 1)
    accuracy = np.trace(confusion) / confusion.sum()
    ious = {}
    for cls in FLAIR_13.classes:
        union = confusion[cls.code].sum() + confusion[:, cls.code].sum() - confusion[cls.code, cls.code]
        if confusion[cls.code].sum():  # classes present in the scene
            ious[cls.name] = confusion[cls.code, cls.code] / union
    return float(accuracy), ious


def qgis_process_env(profiles: Path) -> dict[str, str]:
    """qgis_process runs QGIS's own Python: give it this environment's packages and a throw-away profile."""
    import site

    paths = [*site.getsitepackages(), str(REPO), str(REPO / "training")]
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QGIS_CUSTOM_CONFIG_PATH": str(profiles),
        "PYTHONPATH": os.pathsep.join(paths),
        "XDG_RUNTIME_DIR": str(profiles / "runtime"),
    }


def install_plugin(profiles: Path) -> None:
    import package

    profile = profiles / "profiles" / "default"
    package.install(profile / "python" / "plugins")
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("[PythonPlugins]\nflair_qgis=true\n", encoding="utf-8")
    (profiles / "runtime").mkdir(mode=0o700, exist_ok=True)


def render_quicklook(aerial: Path, classes: Path, png: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    runtime = png.parent / ".qgis_runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        from flair_qgis.quicklook import write_quicklook

        write_quicklook(aerial, classes, png, title="FLAIR land cover (demo model trained on synthetic data)")
    finally:
        app.exitQgis()


def review_steps(classes: Path, results: Path) -> list[Path]:
    """Review aids for the map (polygons with a minimum mapping unit, review zones): not written yet.

    PLACE FOR THE REVIEW STEPS: run `flair:polygonize` and `flair:review_zones` through qgis_process on
    `classes` here, each as a timed Step (count them in Step.total in main), write their outputs under
    `results`, return their paths so the summary lists them and the quick-look (or a second picture) can
    show them.
    """
    return []


def main(argv: list[str] | None = None) -> int:
    from build_demo_bundle import Recipe, build_bundle, cached_bundle, train_and_export

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "demo_output", help="folder for everything the demo makes"
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help="make the bundle first (synthetic dataset, quick training, export) instead of the cached one",
    )
    parser.add_argument(
        "--bundle", type=Path, default=None, help="model bundle to run (default: the cached demo bundle)"
    )
    parser.add_argument("--scene-size", type=float, default=1000.0, help="side of the square scene, metres")
    parser.add_argument("--dates", type=int, default=20, help="Sentinel-2 acquisitions in the scene's year")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs, help="training epochs (with --train)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    args = parser.parse_args(argv)

    recipe = Recipe(seed=args.seed, epochs=args.epochs)
    bundle = (args.bundle or cached_bundle(recipe)).resolve()
    if args.bundle is not None and not bundle.is_file():
        raise SystemExit(f"demo: no model bundle at {bundle}: give the path of a .onnx bundle.")
    build_once = not args.train and not bundle.is_file()
    out = args.out.resolve()
    if out.exists():
        print(f"demo: clearing the previous demo output in {out}")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    scene_dir, results = out / "scene", out / "results"
    results.mkdir()
    Step.total = 3 + (3 if args.train or build_once else 0)

    if args.train:
        bundle = out / "model" / "flair_utt_demo.onnx"
        train_and_export(out, bundle, recipe, steps=timed_step)
    elif build_once:
        print(
            f"demo: the demo bundle is not built on this machine yet: building it once (about 10 minutes "
            f"on 2 idle cores), cached as {bundle}; later runs go straight to the scene.",
            flush=True,
        )
        build_bundle(bundle, recipe, steps=timed_step)
    print(f"\nmodel bundle: {bundle}", flush=True)

    step = Step(
        "Drawing the scene: aerial GeoTIFF (Lambert-93, 0.2 m) and Sentinel-2 SAFE products (UTM 31N)"
    )
    aerial, sentinel2 = write_scene(scene_dir, args.scene_size, dates_count=args.dates, seed=args.seed)
    step.done()

    step = Step("Running flair:landcover through the real qgis_process")
    profiles = out / "qgis_profile"
    install_plugin(profiles)
    classes = results / "land_cover.tif"
    device = {"auto": 0, "gpu": 1, "cpu": 2}[args.device]
    run(
        [
            "/usr/bin/qgis_process.bin", "run", "flair:landcover", "--",
            f"AERIAL={aerial}", f"SENTINEL2={sentinel2}", f"BUNDLE={bundle}", f"DEVICE={device}",
            "OVERLAP=16", "BATCH_SIZE=32", f"OUTPUT={classes}",
            f"CONFIDENCE={results / 'confidence.tif'}",
        ],
        env=qgis_process_env(profiles),
    )  # fmt: skip
    step.done()

    review = review_steps(classes, results)

    step = Step("Rendering the quick-look with QGIS")
    png = results / "quicklook.png"
    render_quicklook(aerial, classes, png)
    step.done()

    accuracy, ious = agreement_with_truth(classes, args.scene_size, args.seed)
    print("\nAgainst the scene's true classes (known: the scene is drawn from them):")
    print(f"  pixel agreement {accuracy:.1%}; IoU per class present in the scene:")
    for name, iou in ious.items():
        print(f"  {name:>24}  {iou:.2f}")
    stats = json.loads(classes.with_suffix(".stats.json").read_text(encoding="utf-8"))
    print("\nClass areas:")
    for row in stats.get("classes", []):
        print(f"  {row['class']:>24}  {row['hectares']:9.2f} ha  {row['percent']:5.1f} %")
    print("\nTime per step:")
    for title, seconds in Step.durations:
        print(f"  {seconds:6.0f} s  {title}")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    training_note = (
        f"  training logs: {out / 'training_run'}\n"
        if args.train
        else "  (the bundle's provenance says how it was trained; `make demo-train` trains one itself)\n"
    )
    print(
        f"""
Done in {(time.perf_counter() - Step.started) / 60:.1f} minutes (load average now {load} on {cores} cores).
Look at:
  quick-look (aerial, prediction, legend): {png}
  land-cover map (open in QGIS, styled by its .qml): {classes}
  confidence: {results / "confidence.tif"}
  statistics: {classes.with_suffix(".stats.csv")}, {classes.with_suffix(".stats.json")}
"""
        + "".join(f"  {path}\n" for path in review)
        + f"""  model bundle: {bundle}   (inspect: python -m flair_qgis info {bundle})
  inputs: {aerial} and {sentinel2}
{training_note}
The demo model was trained for a few minutes on SYNTHETIC data: its map shows that the whole chain works
(Sentinel-2 products, U-T&T fusion, tiling, styled output in QGIS), not the accuracy of a FLAIR #2 model
on real imagery. Train on the real dataset with `flair-train fit --config utt_baseline` (see README).
"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
