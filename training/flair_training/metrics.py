"""Per-class IoU and mIoU from a confusion matrix, as FLAIR #2 reports them ("other" left out)."""

from __future__ import annotations

import numpy as np

from flair_qgis.core.nomenclature import FLAIR_13, FLAIR_13_OTHER, Nomenclature

#: Index of "other" in FLAIR_13's channel order.
OTHER_INDEX = FLAIR_13.codes.index(FLAIR_13_OTHER)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """confusion: K x K (rows = reference, columns = prediction) -> K IoUs, NaN where a class is
    neither in the reference nor predicted."""
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positive / np.maximum(union, 1), np.nan)


def mean_iou(ious: np.ndarray, exclude: tuple[int, ...] = (OTHER_INDEX,)) -> float:
    """Mean of the defined IoUs over the classes not excluded (FLAIR #2 leaves "other" out)."""
    keep = [i for i in range(len(ious)) if i not in exclude and not np.isnan(ious[i])]
    return float(np.mean([ious[i] for i in keep])) if keep else float("nan")


def class_names(nomenclature: Nomenclature = FLAIR_13) -> list[str]:
    return [c.name for c in nomenclature.classes]
