"""The lung regions reported for a study, named as CIP names them, and their measurements.

Regions: ``WholeLung``, ``RightLung``, ``LeftLung`` and the six equal-volume thirds
(``RightUpperThird`` ... ``LeftLowerThird``, see ``study.zones``). Because each third is a run
of whole slices, a region is a lung label plus a slice range, which keeps memory flat.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from study.densitometry import measure
from study.zones import ZONES, slice_zones

RIGHT_LUNG, LEFT_LUNG = 1, 2
LUNG_NAMES = {RIGHT_LUNG: "Right", LEFT_LUNG: "Left"}


def zone_ranges(lung_mask: np.ndarray) -> dict[str, slice]:
    """Return the slice range of each zone of one lung (empty zones get an empty range)."""
    zones = slice_zones(lung_mask)
    ranges = {}
    for index, name in enumerate(ZONES):
        where = np.flatnonzero(zones == index)
        ranges[name] = slice(int(where[0]), int(where[-1]) + 1) if len(where) else slice(0, 0)
    return ranges


def measure_regions(
    hounsfield: np.ndarray,
    lungs: np.ndarray,
    voxel_volume_ml: float,
    extra: Callable[[np.ndarray, np.ndarray], dict] | None = None,
) -> dict[str, dict]:
    """Measure every region of a lung label volume (1 right lung, 2 left lung).

    Args:
        hounsfield: int16 ``(slices, rows, columns)``.
        lungs: uint8 label volume of the same shape.
        voxel_volume_ml: one voxel's volume.
        extra: optional ``extra(mask_slab, slice_range)`` adding more numbers per region (the
            phantom's truth adds pattern shares this way).
    """
    results: dict[str, dict] = {}
    whole = lungs > 0
    results["WholeLung"] = _measure(hounsfield, whole, slice(None), voxel_volume_ml, extra)
    for label, name in LUNG_NAMES.items():
        mask = lungs == label
        results[f"{name}Lung"] = _measure(hounsfield, mask, slice(None), voxel_volume_ml, extra)
        for zone, slab in zone_ranges(mask).items():
            results[f"{name}{zone}Third"] = _measure(hounsfield, mask, slab, voxel_volume_ml, extra)
    return results


def _measure(hounsfield, mask, slab: slice, voxel_volume_ml: float, extra) -> dict:
    selected = mask[slab]
    result = measure(hounsfield[slab][selected], voxel_volume_ml)
    if extra is not None:
        result.update(extra(selected, slab))
    return result
