"""The region rule: how a square region of a pattern map is labelled, as a reader labels ROIs.

One rule for the ROIs `roi-dataset` cuts for training and for the truth `analysis-eval` compares
the model with (a tile of the analysis grid labelled from the phantom's pattern map). A voxel
majority would call a centrilobular region NT: its lesions are foci in normal lung.
"""

from __future__ import annotations

import numpy as np

from analysis.settings import RoiSettings
from imaging.contract import CLASS_NAMES


def pattern_counts(pattern_crop: np.ndarray) -> np.ndarray:
    """Return the voxel counts of NT, CLE, PSE and PLE (map values 1..4) in a crop."""
    return np.bincount(pattern_crop.ravel(), minlength=len(CLASS_NAMES) + 1)[1 : len(CLASS_NAMES) + 1]


def region_label(counts: np.ndarray, settings: RoiSettings) -> int | None:
    """Return the class index of a region from its pattern counts, or None when it is ambiguous.

    NT when emphysema covers at most ``normal_ceiling`` of the region's lung; the most frequent
    emphysema pattern when emphysema covers at least ``emphysema_share`` and that pattern holds at
    least ``minimum_label_share`` of it; None in between or when patterns mix.
    """
    lung = int(counts.sum())
    if lung == 0:
        return None
    emphysema = counts[1:]
    emphysema_share = int(emphysema.sum()) / lung
    if emphysema_share <= settings.normal_ceiling:
        return 0
    if (
        emphysema_share < settings.emphysema_share
        or emphysema.max() < settings.minimum_label_share * emphysema.sum()
    ):
        return None
    return 1 + int(np.argmax(emphysema))
