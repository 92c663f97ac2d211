"""Upper, middle and lower lung zones: equal-volume thirds along z, per lung (CIP LungThirdSplitter).

Whole axial slices are accumulated from the lung base: a slice is Lower while the lung volume
counted so far (including it) is at most a third of the lung, Middle while at most two thirds,
Upper above. Slices are ordered lowest first, as every study volume in this layer is.
"""

from __future__ import annotations

import numpy as np

ZONES: tuple[str, ...] = ("Lower", "Middle", "Upper")
ZONE_RULE = (
    "equal-volume thirds along the cranio-caudal axis, per lung, whole axial slices accumulated "
    "from the base (CIP LungThirdSplitter)"
)


def slice_zones(lung_mask: np.ndarray) -> np.ndarray:
    """Return the zone index (0 Lower, 1 Middle, 2 Upper) of every slice of one lung's mask."""
    per_slice = lung_mask.reshape(lung_mask.shape[0], -1).sum(axis=1, dtype=np.int64)
    total = per_slice.sum()
    cumulative = np.cumsum(per_slice)
    zones = np.full(lung_mask.shape[0], 2, dtype=np.int8)
    zones[cumulative <= 2 * total / 3] = 1
    zones[cumulative <= total / 3] = 0
    return zones


def zone_masks(lung_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Return ``{zone name: mask}`` for one lung."""
    zones = slice_zones(lung_mask)
    return {name: lung_mask & (zones == index)[:, np.newaxis, np.newaxis] for index, name in enumerate(ZONES)}
