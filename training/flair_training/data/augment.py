"""Flips and 90-degree rotations applied identically to the aerial patch, its labels and the
Sentinel-2 window (the FLAIR #2 baseline left the Sentinel-2 window unrotated)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DihedralTransform:
    """One of the 8 symmetries of the square: `turns` quarter turns after an optional left-right flip."""

    flip: bool
    turns: int

    def apply(self, array: np.ndarray) -> np.ndarray:
        """Transform the last two axes (H x W) of any array, e.g. C x H x W or T x C x W x W."""
        if self.flip:
            array = array[..., ::-1]
        if self.turns:
            array = np.rot90(array, k=self.turns, axes=(-2, -1))
        return np.ascontiguousarray(array)


def random_transform(rng: np.random.Generator) -> DihedralTransform:
    """A uniformly drawn symmetry (vertical flips are a flip plus two quarter turns)."""
    return DihedralTransform(flip=bool(rng.integers(0, 2)), turns=int(rng.integers(0, 4)))
