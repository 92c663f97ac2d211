"""Find the trachea and main bronchi so they can be cut out of the lung mask.

The seed is the round, central air object high in the chest (Hu et al. 2001; CIP). The tree is
then followed slice by slice towards the feet: an air object overlapping the airway of the slice
above belongs to the airway while its cross-section stays airway-sized. Where a bronchus opens
into the lung its object suddenly becomes a whole lung and the tracking stops. Unlike 3-D region
growing with a threshold, this cannot leak into emphysema, however dark the parenchyma is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from study.errors import StudyError

SEED_MAXIMUM_AREA_MM2 = 2000.0
# An airway cross-section may grow to this multiple of the trachea's (the carina is wide).
GROWTH_LIMIT = 2.5
AIRWAY_HU = -800.0


def find_trachea_seed(
    candidate: np.ndarray, spacing_mm: tuple[float, float, float]
) -> tuple[int, np.ndarray]:
    """Return the highest slice showing the trachea and the trachea's mask in it."""
    pixel_area = spacing_mm[1] * spacing_mm[2]
    columns = candidate.shape[2]
    for index in range(candidate.shape[0] - 1, -1, -1):
        labels, count = ndimage.label(candidate[index])
        if count == 0:
            continue
        areas = np.bincount(labels.ravel())[1:] * pixel_area
        centres = ndimage.center_of_mass(candidate[index], labels, range(1, count + 1))
        for label in np.argsort([abs(centre[1] - columns / 2.0) for centre in centres]):
            if (
                abs(centres[label][1] - columns / 2.0) < columns / 6.0
                and areas[label] <= SEED_MAXIMUM_AREA_MM2
            ):
                return index, labels == label + 1
    raise StudyError("no trachea found: no central, trachea-sized air object in the upper slices")


def track_airways(
    hounsfield: np.ndarray, candidate: np.ndarray, spacing_mm: tuple[float, float, float]
) -> np.ndarray:
    """Return the airway mask: the trachea and main bronchi down to where they open into the lungs."""
    start, previous = find_trachea_seed(candidate, spacing_mm)
    pixel_area = spacing_mm[1] * spacing_mm[2]
    limit = min(GROWTH_LIMIT * previous.sum(), SEED_MAXIMUM_AREA_MM2 / pixel_area)
    airway = np.zeros(hounsfield.shape, dtype=bool)
    airway[start] = previous
    for index in range(start - 1, -1, -1):
        labels, _ = ndimage.label(candidate[index] & (hounsfield[index] < AIRWAY_HU))
        touching = np.unique(labels[previous & (labels > 0)])
        if len(touching) == 0:
            break
        areas = np.bincount(labels.ravel())
        kept = touching[areas[touching] <= limit]
        if len(kept) == 0:
            break
        previous = np.isin(labels, kept)
        airway[index] = previous
    return airway
