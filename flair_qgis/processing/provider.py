"""The `flair` Processing provider: the plugin's algorithms in the toolbox, batch mode, models and
`qgis_process`."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..adapters.paths import resource


class FlairProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "flair"

    def name(self) -> str:
        return "FLAIR land cover"

    def longName(self) -> str:
        return "FLAIR land cover (aerial imagery and Sentinel-2)"

    def icon(self) -> QIcon:
        return QIcon(str(resource("icon.svg")))

    def loadAlgorithms(self) -> None:
        for algorithm in _algorithms():
            self.addAlgorithm(algorithm)


def _algorithms() -> list:
    """The provider's algorithms; each module under processing/ contributes its own."""
    from .apply_corrections_algorithm import ApplyCorrectionsAlgorithm
    from .export_patches_algorithm import ExportTrainingPatchesAlgorithm
    from .plan_algorithm import PlanShardsAlgorithm
    from .polygonize_algorithm import PolygonizeAlgorithm
    from .predict_algorithm import LandCoverAlgorithm
    from .review_zones_algorithm import ReviewZonesAlgorithm
    from .zonal_statistics_algorithm import ZonalStatisticsAlgorithm

    return [
        LandCoverAlgorithm(),
        PlanShardsAlgorithm(),
        PolygonizeAlgorithm(),
        ReviewZonesAlgorithm(),
        ZonalStatisticsAlgorithm(),
        ApplyCorrectionsAlgorithm(),
        ExportTrainingPatchesAlgorithm(),
    ]
