"""Screenshots for the README: a real QGIS window under Xvfb, with the plugin installed in a throw-away
profile, running the dialog on a small synthetic scene and showing the styled result.

    python scripts/screenshots.py [--out docs/images] [--keep DIR]

Writes dialog.png (the dialog after a run, with its statistics), result.png (the QGIS window with the
styled land-cover layer and its legend), review_dock.png (the review dock walking the review zones the
run wrote, one zone confirmed and one corrected), polygons.png (the run's land-cover polygons over the
ortho), inspect.png (the inspect tool's panel at a clicked pixel) and corrections.png (that pixel's region
reclassified into the map's corrections). The run is the dialog's own, with polygons and review zones ticked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

#: Scene size in pixels at 0.2 m (102.4 m across) and the test bundle's tile size.
SCENE = 512
TILE = 128

# Runs inside QGIS (--code): open the dialog from the plugin's action, run it, grab the windows, quit.
QGIS_SCRIPT = r"""
import json
from pathlib import Path
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtGui import QImage
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface, plugins

CONFIG = json.loads(Path(__CONFIG__).read_text())
state = {}


def save(image, path):
    # 8-bit palette images keep the PNGs small enough for the repository.
    image.convertToFormat(QImage.Format.Format_Indexed8).save(path)


def fail(message):
    Path(CONFIG["out"], "error.txt").write_text(message)
    QgsApplication.exit(1)


def start():
    try:
        for path, name in CONFIG["layers"]:
            QgsProject.instance().addMapLayer(QgsRasterLayer(path, name))
        plugin = plugins["flair_qgis"]
        plugin.action.trigger()
        dialog = plugin.dialog
        dialog.model.file_widget.setFilePath(CONFIG["bundle"])
        dialog.outputs.file_widget.setFilePath(CONFIG["output"])
        dialog.sentinel2.folder_widget.setFilePath(CONFIG["sentinel2"])
        dialog.outputs.checks["confidence"].setChecked(True)
        dialog.outputs.checks["probabilities"].setChecked(True)
        review = CONFIG["review"]
        dialog.outputs.checks["polygons"].setChecked(True)
        dialog.outputs.mmu_spin.setValue(review["mmu_m2"])
        dialog.outputs.checks["review_zones"].setChecked(True)
        dialog.outputs.threshold_spin.setValue(review["threshold"])
        dialog.outputs.min_zone_spin.setValue(review["min_zone_m2"])
        dialog.resize(1180, 1120)
        dialog.move(20, 10)
        state["dialog"] = dialog
        QTimer.singleShot(500, scanned)
    except Exception as exc:
        import traceback
        fail(traceback.format_exc())


def scanned():
    dialog = state["dialog"]
    if dialog.sentinel2.scan_task is not None:  # the folder is read in the background
        QTimer.singleShot(500, scanned)
        return
    try:
        problems = dialog.check()
        if problems:
            return fail("\n".join(problems))
        dialog.show_cloud_cover()
        QTimer.singleShot(500, wait_clouds)
    except Exception as exc:
        import traceback
        fail(traceback.format_exc())


def wait_clouds():
    dialog = state["dialog"]
    if dialog.sentinel2.cloud_task is not None:
        QTimer.singleShot(500, wait_clouds)
        return
    dialog.run()
    QTimer.singleShot(500, wait)


def wait():
    dialog = state["dialog"]
    if dialog.task is not None:
        QTimer.singleShot(500, wait)
        return
    task = dialog.last_task
    if task is None or task.result is None:
        return fail(f"the run failed: {task.error if task else 'no task'}")
    if task.review is None or task.review.errors or task.zones_layer is None:
        return fail(f"no review outputs: {task.review.errors if task.review else 'none asked'}")
    QTimer.singleShot(1000, grab_dialog)


def grab_dialog():
    dialog = state["dialog"]
    save(dialog.grab().toImage(), str(Path(CONFIG["out"], "dialog.png")))
    dialog.hide()
    window = iface.mainWindow()
    window.setGeometry(0, 0, 1400, 900)  # no window manager under Xvfb: size it by hand
    for dock in window.findChildren(QDockWidget):
        if dock.objectName() == "Browser":
            dock.hide()
    root = QgsProject.instance().layerTreeRoot()
    for node in root.children():
        node.setExpanded(False)
    group = dialog.last_task.group
    group.setExpanded(True)
    layer = next(item for item in dialog.last_task.layers if item.name().endswith(" - classes"))
    state["classes"] = layer
    state["group"] = group
    state["zones"] = dialog.last_task.zones_layer
    state["polygons"] = next(item for item in dialog.last_task.layers if item.name().endswith(" - polygons"))
    for node in group.children():
        node.setExpanded(node.layer() is layer)
    show_only(layer)
    plugins["flair_qgis"].review_dock.hide()  # opened by the run on its zones: shown in the next picture
    canvas = iface.mapCanvas()
    canvas.setExtent(layer.extent().buffered(layer.extent().width() * 0.05))
    canvas.refresh()
    QTimer.singleShot(3000, grab_window)


def show_only(*layers):
    # Tick `layers` of the result's group and untick its other layers.
    for node in state["group"].findLayers():
        node.setItemVisibilityChecked(node.layer() in layers)


def grab_window():
    window = iface.mainWindow()
    save(window.grab().toImage(), str(Path(CONFIG["out"], "result.png")))
    try:
        review()
    except Exception:
        import traceback
        fail(traceback.format_exc())


def review():
    show_only(state["classes"], state["zones"])
    dock = plugins["flair_qgis"].review_dock
    dock.show()
    dock.set_layer(state["zones"])
    dock.note_edit.setText("hedge along the field")
    dock.confirm_button.click()  # the first zone confirmed: the dock moves on to the second
    dock.class_combo.setCurrentIndex(dock.class_combo.findData(CONFIG["correct_zone_as"]))
    dock.note_edit.setText("meadow, not a road")
    if dock.correct_as() is None:  # the second corrected: copied into the corrections, on to the third
        return fail("correct as: " + dock.progress_label.text())
    state["dock"] = dock
    QTimer.singleShot(3000, grab_review)


def grab_review():
    window = iface.mainWindow()
    save(window.grab().toImage(), str(Path(CONFIG["out"], "review_dock.png")))
    try:
        state["dock"].hide()
        polygons = state["polygons"]
        polygons.setOpacity(0.55)  # the ortho shows through the class colours
        show_only(polygons)
        group = state["group"]
        for node in group.children():
            node.setExpanded(node.layer() is polygons)
        canvas = iface.mapCanvas()
        extent = polygons.extent()
        canvas.setExtent(extent.buffered(extent.width() * 0.05))
        canvas.refresh()
        QTimer.singleShot(3000, grab_polygons)
    except Exception:
        import traceback
        fail(traceback.format_exc())


def grab_polygons():
    window = iface.mainWindow()
    save(window.grab().toImage(), str(Path(CONFIG["out"], "polygons.png")))
    try:
        from qgis.core import QgsPointXY
        show_only(state["classes"])
        plugin = plugins["flair_qgis"]
        iface.setActiveLayer(state["classes"])
        plugin.inspect_action.trigger()
        canvas = iface.mapCanvas()
        extent = state["classes"].extent()
        canvas.setExtent(extent.buffered(extent.width() * 0.05))
        canvas.refresh()
        x, y = CONFIG["inspect_point"]
        plugin.inspect_tool.inspect(QgsPointXY(x, y))
        QTimer.singleShot(3000, grab_inspect)
    except Exception:
        import traceback
        fail(traceback.format_exc())


def grab_inspect():
    window = iface.mainWindow()
    save(window.grab().toImage(), str(Path(CONFIG["out"], "inspect.png")))
    try:
        # The clicked region reclassified from the inspect panel: it lands in the map's corrections.
        panel = plugins["flair_qgis"].inspect_panel
        panel.class_combo.setCurrentIndex(panel.class_combo.findData(CONFIG["reclassify_as"]))
        if plugins["flair_qgis"].inspect_tool.reclassify() is None:
            return fail("reclassify: " + panel.correction_label.text())
        corrections = QgsProject.instance().mapLayersByName("landcover - corrections")[0]
        show_only(state["classes"], corrections)
        for node in state["group"].children():
            node.setExpanded(node.layer() is corrections)
        iface.mapCanvas().refreshAllLayers()
        QTimer.singleShot(3000, grab_corrections)
    except Exception:
        import traceback
        fail(traceback.format_exc())


def grab_corrections():
    window = iface.mainWindow()
    save(window.grab().toImage(), str(Path(CONFIG["out"], "corrections.png")))
    iface.mapCanvas().unsetMapTool(plugins["flair_qgis"].inspect_tool)
    QgsProject.instance().removeAllMapLayers()
    QgsApplication.exit(0)


QTimer.singleShot(3000, start)
QTimer.singleShot(180000, lambda: fail("timed out"))
"""


def scene_bands(size: int = SCENE, seed: int = 7) -> np.ndarray:
    """5 x size x size uint8 (R, G, B, NIR, elevation) of a made-up place: fields, a river, a wood and
    a few buildings, each painted so that the test bundle (class i+1 where band i is the brightest) maps
    it to a distinct class."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    bands = np.full((5, size, size), 60.0)
    bands[2] += 90  # blue brightest by default: class 3 "impervious surface" (roads, yards)
    fields = (rows // 128 + cols // 160) % 2 == 0
    bands[1][fields] += 150  # green brightest: class 2 "pervious surface"
    wood = (rows - 380) ** 2 + (cols - 120) ** 2 < 95**2
    bands[3][wood] += 200  # NIR brightest: class 4 "bare soil"... the test bundle's 4th class
    river = np.abs(rows - (0.35 * cols + 40 + 18 * np.sin(cols / 40))) < 14
    bands[4][river] += 230  # elevation channel brightest: class 5 "water"
    for _ in range(14):
        r, c = rng.integers(20, size - 60, 2)
        h, w = rng.integers(14, 40, 2)
        bands[0][r : r + h, c : c + w] += 240  # red brightest: class 1 "building"
    bands += rng.normal(0, 6, bands.shape)
    return np.clip(bands, 0, 255).astype(np.uint8)


def write_scene(folder: Path) -> dict:
    """GeoTIFFs of the scene (an RGB ortho, an IRC ortho, an elevation model) and a test bundle."""
    import rasterio
    from affine import Affine

    from tests.bundles import make_utt_bundle

    bands = scene_bands()
    transform = Affine(0.2, 0.0, 651000.0, 0.0, -0.2, 6862000.0)
    layers = []
    for name, picks in (("mns_2021", [4]), ("ortho_irc_2021", [3, 0, 1]), ("ortho_rvb_2021", [0, 1, 2])):
        path = folder / f"{name}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=SCENE, height=SCENE, count=len(picks), dtype="uint8",
            crs="EPSG:2154", transform=transform,
        ) as dst:  # fmt: skip
            dst.write(bands[picks])
        layers.append((str(path), name))
    bundle = folder / "flair_demo_utt.onnx"
    make_utt_bundle(
        bundle, tile_size=TILE, sentinel2_window=40, model_name="FLAIR demo U-T&T (synthetic weights)"
    )
    return {
        "layers": layers,
        "bundle": str(bundle),
        "sentinel2": str(write_sentinel2(folder / "sentinel2")),
        "output": str(folder / "landcover.tif"),
    }


def write_sentinel2(folder: Path) -> Path:
    """A year of per-date Sentinel-2 GeoTIFFs (10 m) around the scene, one of them cloudy."""
    from tests.data.sentinel2.generate import write_geotiff_date

    folder.mkdir(exist_ok=True)
    bounds = (650600.0, 6861500.0, 651500.0, 6862400.0)  # 90 x 90 px: the scene and a 300 m margin
    rng = np.random.default_rng(3)
    for day in ("2021-01-19", "2021-03-10", "2021-04-14", "2021-05-24", "2021-06-18", "2021-07-23",
                "2021-08-17", "2021-09-21", "2021-10-11", "2021-12-05"):  # fmt: skip
        data = rng.normal(900, 60, (10, 90, 90)).astype(np.float32)
        masks = np.zeros((2, 90, 90), np.uint8)
        if day.startswith("2021-10"):
            masks[1] = 95  # a cloudy date, dropped by the cloud filter
        write_geotiff_date(folder / f"S2_{day}.tif", "EPSG:2154", bounds, data, masks)
    return folder


def make_profile(root: Path) -> Path:
    """A QGIS profiles folder whose default profile has the plugin installed and enabled."""
    profile = root / "profiles" / "default"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "package.py"),
            "install",
            str(profile / "python" / "plugins"),
        ],
        check=True,
        capture_output=True,
    )
    (profile / "QGIS").mkdir(parents=True, exist_ok=True)
    (profile / "QGIS" / "QGIS3.ini").write_text(
        "[PythonPlugins]\nflair_qgis=true\n\n[qgis]\nshowTips322=false\ncheckVersion=false\n"
        "[UI]\nUITheme=default\n[locale]\noverrideFlag=true\nuserLocale=en_GB\n",
        encoding="utf-8",
    )
    return root


def qgis_environment() -> dict[str, str]:
    """QGIS runs the system Python: give it this environment's packages (onnxruntime, rasterio)."""
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # a real window on the virtual X display
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, *site.getsitepackages()])
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (for debugging)")
    args = parser.parse_args(argv)
    # A fixed, short folder name: its paths show in the dialog's screenshot.
    work = args.keep or Path(tempfile.gettempdir()) / "flair_demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        raw = work / "images"
        raw.mkdir(exist_ok=True)
        config = write_scene(work)
        config["out"] = str(raw)
        config["scripts"] = str(REPO / "scripts")
        config["inspect_point"] = (651000.0 + 0.2 * 300, 6862000.0 - 0.2 * 200)  # pixel (200, 300)
        # The test bundle's confidence lies between 26 % and 30 % on this scene: a threshold of 0.27
        # leaves about a quarter of it (11 zones of 10 m² or more) to review.
        config["review"] = {"mmu_m2": 20.0, "threshold": 0.27, "min_zone_m2": 10.0}
        config["reclassify_as"] = 7  # deciduous
        config["correct_zone_as"] = 10  # herbaceous vegetation
        (work / "config.json").write_text(json.dumps(config), encoding="utf-8")
        script = work / "screenshots_in_qgis.py"
        script.write_text(
            QGIS_SCRIPT.replace("__CONFIG__", repr(str(work / "config.json"))), encoding="utf-8"
        )
        profiles = make_profile(work / "qgis")
        command = [
            "xvfb-run", "-a", "-s", "-screen 0 1400x900x24",
            "qgis", "--profiles-path", str(profiles), "--nologo", "--noversioncheck", "--code", str(script),
        ]  # fmt: skip
        result = subprocess.run(command, env=qgis_environment(), capture_output=True, text=True, timeout=300)
        error = raw / "error.txt"
        if error.exists() or result.returncode != 0:
            detail = error.read_text() if error.exists() else result.stderr[-3000:]
            print(f"QGIS failed (exit {result.returncode}):\n{detail}", file=sys.stderr)
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        for name in (
            "dialog.png",
            "result.png",
            "review_dock.png",
            "polygons.png",
            "inspect.png",
            "corrections.png",
        ):
            shutil.copyfile(raw / name, args.out / name)
            print(f"{args.out / name}  {(args.out / name).stat().st_size // 1024} kB")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
