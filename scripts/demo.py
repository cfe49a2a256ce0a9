"""`make demo`: the main job end to end, on a synthetic scene, on this machine's CPU.

1. draws a scene of about 1 km²: a 5-band 0.2 m aerial GeoTIFF in Lambert-93 and a year of Sentinel-2
   Level-2A products in ESA SAFE format (JPEG 2000, UTM 31N) covering it, some of them cloudy;
2. runs the Processing algorithm `flair:landcover` through the real `qgis_process` on the scene, with the
   demo model bundle (trained once on synthetic data by scripts/build_demo_bundle.py and cached under
   ~/.cache/flair_qgis/; the first `make demo` on a machine builds it, see its provenance);
3. runs the review algorithms through `qgis_process` on the map: `flair:polygonize` (land-cover polygons
   of at least 100 m², with their mean confidence) and `flair:review_zones` (the ranked low-confidence
   zones a photo-interpreter steps through in the plugin's review dock);
4. renders a quick-look PNG with QGIS (aerial image, styled prediction, legend) and a review picture (the
   ranked zones over the aerial image and over the polygons), and prints where everything is, how long
   each step took, and the map's agreement with the scene's true classes.

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
from contextlib import contextmanager
from dataclasses import dataclass
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
# The review aids: polygons no smaller than a minimum mapping unit, and the zones whose confidence is under
# the algorithm's default threshold, as large as that unit or more (about 50 of them on the 1 km² scene).
# The polygons keep their pixel outlines: a simplification of 0.3 m split some of the demo's polygons and
# left slivers under the unit.
MMU_M2 = 100.0
SIMPLIFY_M = 0.0
REVIEW_THRESHOLD = 0.5
REVIEW_MIN_AREA_M2 = MMU_M2
REVIEW_PANEL = 640  # pixels per side of each map of the review picture (as in the quick-look)


class Step:
    """Prints a numbered step with its duration and the machine's load when it ended (other work on the
    machine slows every step), so progress is visible throughout; keeps them for the summary."""

    count = 0
    total = 0
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    durations: ClassVar[list[tuple[str, float, float]]] = []  # title, seconds, 1-minute load average

    def __init__(self, title: str) -> None:
        Step.count += 1
        self.title = title
        print(f"\n==> [{Step.count}/{Step.total}] {title}", flush=True)
        self.start = time.perf_counter()

    def done(self, message: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        total = time.perf_counter() - Step.started
        load = os.getloadavg()[0]
        Step.durations.append((self.title, elapsed, load))
        print(
            f"    done in {elapsed:.0f} s (total {total / 60:.1f} min, load {load:.1f}) {message}", flush=True
        )


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


@contextmanager
def qgis_application(runtime: Path):
    """A headless QgsApplication for the pictures, closed when done (one per process)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        yield app
    finally:
        app.exitQgis()


def render_quicklook(aerial: Path, classes: Path, png: Path) -> None:
    """The quick-look PNG: aerial image, styled prediction, legend. Needs a running QgsApplication."""
    from flair_qgis.adapters.quicklook import write_quicklook

    write_quicklook(aerial, classes, png, title="FLAIR land cover (demo model trained on synthetic data)")


@dataclass(frozen=True)
class ReviewOutputs:
    """What the review steps wrote, and what the review picture says of it."""

    polygons: Path
    zones: Path
    polygon_count: int
    zone_count: int
    zone_area_m2: float


def geopackage_rows(path: Path, layer_name: str, fields: tuple[str, ...]) -> list[dict]:
    """The attribute values `fields` of every feature of one GeoPackage layer, read with OGR."""
    from osgeo import ogr

    dataset = ogr.Open(str(path))
    if dataset is None or dataset.GetLayerByName(layer_name) is None:
        raise SystemExit(f"demo: {path} has no layer {layer_name}: the review step wrote no result.")
    return [{name: feature[name] for name in fields} for feature in dataset.GetLayerByName(layer_name)]


def review_steps(classes: Path, confidence: Path, results: Path, profiles: Path) -> ReviewOutputs:
    """The review aids of the map, through qgis_process as a user would run them: the land-cover polygons
    with a minimum mapping unit and their mean confidence (`flair:polygonize`), then the ranked queue of
    low-confidence zones (`flair:review_zones`); each a timed step with a one-line summary."""
    from flair_qgis.review import schema

    env = qgis_process_env(profiles)
    step = Step(f"Land-cover polygons (MMU {MMU_M2:g} m²) with flair:polygonize through qgis_process")
    polygons = results / "land_cover.polygons.gpkg"
    run(
        ["/usr/bin/qgis_process.bin", "run", "flair:polygonize", "--",
         f"CLASSES={classes}", f"CONFIDENCE={confidence}", f"MMU={MMU_M2}",
         f"SIMPLIFY={SIMPLIFY_M}", f"OUTPUT={polygons}"],
        env=env,
    )  # fmt: skip
    areas = [
        row[schema.FIELD_AREA]
        for row in geopackage_rows(polygons, schema.POLYGON_LAYER_NAME, (schema.FIELD_AREA,))
    ]
    step.done(f"{len(areas)} polygons, the smallest {min(areas):.0f} m²")

    step = Step(
        f"Zones to review (confidence < {REVIEW_THRESHOLD:g}, {REVIEW_MIN_AREA_M2:g} m² or more) "
        "with flair:review_zones through qgis_process"
    )
    zones = results / "land_cover.review.gpkg"
    run(
        ["/usr/bin/qgis_process.bin", "run", "flair:review_zones", "--",
         f"CLASSES={classes}", f"CONFIDENCE={confidence}", f"THRESHOLD={REVIEW_THRESHOLD}",
         f"MIN_AREA={REVIEW_MIN_AREA_M2}", f"OUTPUT={zones}"],
        env=env,
    )  # fmt: skip
    rows = geopackage_rows(zones, schema.REVIEW_LAYER_NAME, (schema.FIELD_AREA,))
    area = sum(row[schema.FIELD_AREA] for row in rows)
    step.done(f"{len(rows)} zones to review, {area:.0f} m² ({area / 1e4:.2f} ha) of low confidence")
    return ReviewOutputs(polygons, zones, len(areas), len(rows), area)


def rank_labels():
    """Labels of the zones to review: their rank, bold, with a white halo to read over any colour."""
    from qgis.core import (
        QgsPalLayerSettings,
        QgsTextBufferSettings,
        QgsTextFormat,
        QgsVectorLayerSimpleLabeling,
    )
    from qgis.PyQt.QtGui import QColor, QFont

    from flair_qgis.review import schema

    text = QgsTextFormat()
    text.setFont(QFont("Sans", 10, QFont.Weight.Bold))
    text.setSize(10)
    text.setColor(QColor("black"))
    halo = QgsTextBufferSettings()
    halo.setEnabled(True)
    halo.setSize(1.2)
    halo.setColor(QColor("white"))
    text.setBuffer(halo)
    settings = QgsPalLayerSettings()
    settings.fieldName = schema.FIELD_RANK
    settings.placement = QgsPalLayerSettings.Placement.AroundPoint
    settings.displayAll = True  # every zone gets its number, even where labels crowd
    settings.setFormat(text)
    return QgsVectorLayerSimpleLabeling(settings)


def render_map(layers: list, extent, side: int):
    """Render `layers` (top first) over `extent` (a square) into an image of `side` x `side` pixels."""
    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(side, side))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def render_review(aerial: Path, classes: Path, review: ReviewOutputs, png: Path) -> None:
    """The review picture: the ranked zones to review over the aerial image (left) and over the land-cover
    polygons (right), each layer in the style its algorithm gives it in QGIS (flair_qgis.review.vector_style),
    the zones' ranks labelled, with a title and a legend. Needs a running QgsApplication."""
    from qgis.core import QgsRasterLayer, QgsVectorLayer
    from qgis.PyQt.QtGui import QColor

    from flair_qgis.review import schema
    from flair_qgis.review.result import read_class_result
    from flair_qgis.review.vector_style import polygon_renderer, review_renderer

    nomenclature = read_class_result(classes).nomenclature
    base = QgsRasterLayer(str(aerial), "aerial")
    polygons = QgsVectorLayer(f"{review.polygons}|layername={schema.POLYGON_LAYER_NAME}", "polygons", "ogr")
    zones = QgsVectorLayer(f"{review.zones}|layername={schema.REVIEW_LAYER_NAME}", "zones", "ogr")
    for layer in (base, polygons, zones):
        if not layer.isValid():
            raise SystemExit(f"demo: QGIS cannot open {layer.source()}")
    polygons.setRenderer(polygon_renderer(nomenclature))
    zones.setRenderer(review_renderer())
    zones.setLabeling(rank_labels())
    zones.setLabelsEnabled(True)
    extent = base.extent()
    panels = [render_map(layers, extent, REVIEW_PANEL) for layers in ([zones, base], [zones, polygons])]

    present = {feature[schema.FIELD_CODE] for feature in polygons.getFeatures()}
    classes_shown = [(QColor(cls.colour), cls.name) for cls in nomenclature.classes if cls.code in present]
    title = (
        f"Review aids: {review.polygon_count} land-cover polygons (MMU {MMU_M2:g} m²) and "
        f"{review.zone_count} zones to review ({review.zone_area_m2 / 1e4:.2f} ha)"
    )
    subtitle = (
        f"Zones: connected pixels of confidence under {REVIEW_THRESHOLD:g}, {REVIEW_MIN_AREA_M2:g} m² or "
        "more, ranked by area x (1 - mean confidence): 1 is the most urgent."
    )
    compose_review_picture(panels, title, subtitle, classes_shown, png)


def compose_review_picture(panels: list, title: str, subtitle: str, classes_shown: list, png: Path) -> None:
    """Save the rendered maps side by side with their title lines and a legend: the zone symbol, then the
    classes."""
    from qgis.PyQt.QtCore import QRectF, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter, QPen

    from flair_qgis.review import schema
    from flair_qgis.review.vector_style import STATUS_COLOURS

    margin, legend_width, top = 16, 280, 60
    side = panels[0].width()
    width = (len(panels) + 1) * margin + len(panels) * side + legend_width
    height = top + max(side, 24 * len(classes_shown) + 140) + margin
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(QFont("Sans", 13, QFont.Weight.Bold))
        painter.drawText(QRectF(margin, 4, width - 2 * margin, 26), Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(QFont("Sans", 10))
        painter.drawText(QRectF(margin, 30, width - 2 * margin, 22), Qt.AlignmentFlag.AlignVCenter, subtitle)
        for index, panel in enumerate(panels):
            painter.drawImage(margin + index * (side + margin), top, panel)
        x = (len(panels) + 1) * margin + len(panels) * side
        painter.setFont(QFont("Sans", 10, QFont.Weight.Bold))
        painter.drawText(QRectF(x, top, legend_width, 20), Qt.AlignmentFlag.AlignLeft, "Zones to review")
        painter.setFont(QFont("Sans", 10))
        painter.setPen(QPen(QColor(STATUS_COLOURS[schema.STATUS_TO_REVIEW]), 3))
        painter.drawRect(QRectF(x + 1, top + 29, 16, 16))
        painter.setPen(QColor("black"))
        painter.drawText(
            QRectF(x + 26, top + 28, legend_width - 26, 40),
            Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
            "its outline; the number is its rank (1: look first)",
        )
        y = top + 76
        painter.setFont(QFont("Sans", 10, QFont.Weight.Bold))
        painter.drawText(QRectF(x, y, legend_width, 20), Qt.AlignmentFlag.AlignLeft, "Land-cover polygons")
        painter.setFont(QFont("Sans", 10))
        for row, (colour, name) in enumerate(classes_shown):
            cell = QRectF(x, y + 28 + 24 * row, 18, 18)
            painter.fillRect(cell, colour)
            painter.drawRect(cell)
            painter.drawText(
                QRectF(x + 26, cell.top(), legend_width - 26, 18), Qt.AlignmentFlag.AlignVCenter, name
            )
    finally:
        painter.end()
    if not image.save(str(png), "PNG"):
        raise SystemExit(f"demo: cannot write {png}")


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
    Step.total = 6 + (3 if args.train or build_once else 0)

    if args.train:
        bundle = out / "model" / "flair_utt_demo.onnx"
        train_and_export(out, bundle, recipe, steps=timed_step)
    elif build_once:
        print(
            f"demo: the demo bundle is not built on this machine yet: building it once (about 5 minutes "
            f"on 2 idle cores, longer on a busy machine), cached as {bundle}; later runs go straight to the scene.",
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

    review = review_steps(classes, results / "confidence.tif", results, profiles)

    png, review_png = results / "quicklook.png", results / "review.png"
    with qgis_application(results / ".qgis_runtime"):
        step = Step("Rendering the quick-look with QGIS")
        render_quicklook(aerial, classes, png)
        step.done()
        step = Step("Rendering the review picture with QGIS (polygons and zones to review)")
        render_review(aerial, classes, review, review_png)
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
    print("\nTime per step (and the 1-minute load average as it ended):")
    for title, seconds, load in Step.durations:
        print(f"  {seconds:6.0f} s  (load {load:4.1f})  {title}")
    load, load_at_start = (
        ", ".join(f"{value:.1f}" for value in loads) for loads in (os.getloadavg(), Step.load_at_start)
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    training_note = (
        f"  training logs: {out / 'training_run'}\n"
        if args.train
        else "  (the bundle's provenance says how it was trained; `make demo-train` trains one itself)\n"
    )
    print(
        f"""
Done in {(time.perf_counter() - Step.started) / 60:.1f} minutes (load average {load_at_start} at the start, {load} now,
on {cores} cores).
Look at:
  quick-look (aerial, prediction, legend): {png}
  land-cover map (open in QGIS, styled by its .qml): {classes}
  confidence: {results / "confidence.tif"}
  statistics: {classes.with_suffix(".stats.csv")}, {classes.with_suffix(".stats.json")}
"""
        + f"""  review picture (aerial, polygons, ranked zones to review): {review_png}
  land-cover polygons (MMU {MMU_M2:g} m², mean confidence): {review.polygons}
  zones to review (open with the plugin's review dock): {review.zones}
"""
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
