"""The Processing algorithm `flair:plan_shards`: an analyst prepares, in QGIS, the plan of a large run (a
département) that workers then compute on a cluster (`python -m flair_qgis run-plan PLAN --scheduler ...`)
or as a job array (`run-shard PLAN N`); see flair_qgis/core/shards.py and docs/distributed.md."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtGui import QIcon

from ..adapters.paths import resource
from ..gui.tr import tr
from .aerial_parameters import (
    AREA,
    EXTENT,
    SENTINEL2,
    add_aerial_parameters,
    add_area_parameters,
    add_sentinel2_parameter,
    aerial_band_files,
    area_of_interest,
)
from .review_base import DOCS_URL, with_help


class PlanShardsAlgorithm(QgsProcessingAlgorithm):
    """The plan of a large run, split into shards that give the same map as one run."""

    SENTINEL2 = SENTINEL2
    BUNDLE = "BUNDLE"
    EXTENT, AREA = EXTENT, AREA
    SHARD_SIZE = "SHARD_SIZE"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    OUTPUT = "OUTPUT"
    SHARDS = "SHARDS"
    AREA_KM2 = "AREA_KM2"

    def name(self) -> str:
        return "plan_shards"

    def displayName(self) -> str:
        return tr("Plan a large run in shards (for a cluster)")

    def group(self) -> str:
        return tr("Land cover")

    def groupId(self) -> str:
        return "landcover"

    def shortDescription(self) -> str:
        return tr("Writes the plan of a large run, split into shards that workers compute on a cluster.")

    def shortHelpString(self) -> str:
        return tr(
            "Checks the inputs as a run would and writes the plan of a large run (a département): a JSON "
            "file listing the inputs, the model bundle and its SHA-256, the options and the shards, pieces of "
            "the area aligned on the tile grid that give, together, the very map one run would. The shards "
            "and the merged map are written beside the plan. Compute it outside QGIS: `python -m flair_qgis "
            "run-plan PLAN.json --scheduler local:4` (this machine's cores), `--scheduler slurm` (a SLURM "
            "cluster through Dask) or `run-shard PLAN.json N` per shard (a job array); then open the merged "
            "<plan>.vrt in QGIS, styled like a map of the dialog. The workers read files: every aerial layer "
            "must be a local raster file (a VRT of tiles is fine)."
        )

    def helpUrl(self) -> str:
        return f"{DOCS_URL}#processing-flairplan_shards"

    def icon(self) -> QIcon:
        return QIcon(str(resource("icon.svg")))

    def createInstance(self) -> PlanShardsAlgorithm:
        return PlanShardsAlgorithm()

    def initAlgorithm(self, config: dict | None = None) -> None:
        add_aerial_parameters(self)
        add_sentinel2_parameter(
            self, tr("A folder the workers can read, with the year's Level-2A acquisitions over the area.")
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterFile(self.BUNDLE, tr("Model bundle (.onnx)"), extension="onnx"),
                tr("The model every worker runs; its SHA-256 is recorded, so a changed file is refused."),
            )
        )
        add_area_parameters(
            self,
            tr(
                "Polygons to map (their union, e.g. a département), in any CRS; used when no extent is given."
            ),
        )
        self.addParameter(
            with_help(
                QgsProcessingParameterNumber(
                    self.SHARD_SIZE,
                    tr("Shard size (px of the map, about)"),
                    QgsProcessingParameterNumber.Type.Integer,
                    8192,
                    minValue=512,
                ),
                tr("Side of a shard in output pixels (8192 px: 1.6 km at 0.2 m); larger shards waste less."),
            )
        )
        for key, label, text in (
            (
                self.CONFIDENCE,
                tr("Also write the confidence"),
                tr("Each shard writes its confidence raster."),
            ),
            (
                self.PROBABILITIES,
                tr("Also write the class probabilities"),
                tr("One band per class, per shard."),
            ),
        ):
            self.addParameter(with_help(QgsProcessingParameterBoolean(key, label, False), text))
        self.addParameter(
            with_help(
                QgsProcessingParameterFileDestination(self.OUTPUT, tr("Plan"), tr("JSON files (*.json)")),
                tr("The plan file (.json); its folder receives the shards and the merged map."),
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.SHARDS, tr("Shards")))
        self.addOutput(QgsProcessingOutputNumber(self.AREA_KM2, tr("Area of the plan (km²)")))

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        from ..adapters.styling import qgis_language
        from ..core.bundle import load_bundle
        from ..core.errors import FlairError
        from ..core.shards import make_plan

        bundle = self.parameterAsFile(parameters, self.BUNDLE, context)
        path = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        size = self.parameterAsInt(parameters, self.SHARD_SIZE, context)
        try:
            spec = load_bundle(bundle).spec
            aerial = aerial_band_files(self, parameters, context, spec.aerial)
            plan = make_plan(
                path,
                aerial,
                bundle,
                sentinel2=self.parameterAsFile(parameters, self.SENTINEL2, context) or None,
                area=area_of_interest(self, parameters, context, self.EXTENT, self.AREA),
                shard_width=size,
                shard_height=size,
                confidence=self.parameterAsBoolean(parameters, self.CONFIDENCE, context),
                probabilities=self.parameterAsBoolean(parameters, self.PROBABILITIES, context),
                language=qgis_language(),
                overwrite=True,  # the path was chosen in Processing, which asked before replacing a file
            )
        except FlairError as exc:
            raise QgsProcessingException(str(exc)) from exc
        km2 = plan.grid.width * plan.grid.height * plan.grid.pixel_area_m2 / 1e6
        feedback.pushInfo(
            tr("{count} shards over {area:.3f} km² in {path}").format(
                count=len(plan.shards), area=km2, path=path
            )
        )
        feedback.pushInfo(
            tr("Compute it with: python -m flair_qgis run-plan {path} --scheduler local:N").format(path=path)
        )
        return {self.OUTPUT: str(plan.path), self.SHARDS: len(plan.shards), self.AREA_KM2: km2}
