"""Lung densitometry in the Chest Imaging Platform's conventions (one definition for the layer).

LAA-t is the share of mask voxels with HU strictly below t (CIP ``parenchyma_phenotypes``),
reported here in percent; Perc15 is ``np.percentile(hu, 15)`` with linear interpolation and no
volume adjustment; volume is voxel count times voxel volume; mean lung density is the mean HU.
"""

from __future__ import annotations

import numpy as np

LAA_THRESHOLDS_HU: tuple[int, ...] = (-950, -910, -856)
PERCENTILE = 15


def measure(hounsfield: np.ndarray, voxel_volume_ml: float) -> dict[str, float | int | None]:
    """Return volume (mL), mean lung density, LAA-950/-910/-856 (%) and Perc15 of the HU values given."""
    values = np.asarray(hounsfield).ravel()
    count = int(values.size)
    if count == 0:
        empty: dict[str, float | int | None] = {
            "voxels": 0,
            "volume_ml": 0.0,
            "mean_hu": None,
            "perc15_hu": None,
        }
        empty.update({f"laa{-threshold}_percent": None for threshold in LAA_THRESHOLDS_HU})
        return empty
    result: dict[str, float | int | None] = {
        "voxels": count,
        "volume_ml": round(count * voxel_volume_ml, 2),
        "mean_hu": round(float(values.mean(dtype=np.float64)), 2),
        "perc15_hu": round(float(np.percentile(values, PERCENTILE)), 2),
    }
    for threshold in LAA_THRESHOLDS_HU:
        result[f"laa{-threshold}_percent"] = round(
            100.0 * float(np.count_nonzero(values < threshold)) / count, 3
        )
    return result
