"""A study's lung density reference, and the shift that brings it to a model's.

Patients' normal lung differs in density (a 20 HU standard deviation in the phantom, more
between real scanners and inspirations), and panlobular emphysema is mostly a uniformly darker
lung: a model that sees raw HU confuses the two. So a region model can be trained and used on
studies moved to one reference: each study's HU are shifted so that its reference equals the
model's ``density_reference_hu`` (written by `emphysema roi-dataset`, carried by the run's
settings, the model card and the served config).

The reference is the brightest lung zone's 75th percentile of parenchyma (HU between -1000
and -600): each segmented lung's slices are split in thirds, and the zone with the densest
lung is the one emphysema spares most, so a diffusely emphysematous study keeps most of its
darkness (docs/analysis.md, "The default model at analyze's own settings", measures it).
"""

from __future__ import annotations

import numpy as np

from analysis.errors import AnalysisError
from imaging.hounsfield import HU_MAXIMUM, HU_MINIMUM
from study.lungs import bounding_box
from study.regions import LUNG_NAMES

PARENCHYMA_HU = (-1000.0, -600.0)
PERCENTILE = 75.0
ZONES_PER_LUNG = 3
# A zone with fewer parenchyma voxels than this (a lung tip) gives no reference.
MINIMUM_ZONE_VOXELS = 1000
# A shift larger than this is no patient's variation: a calibration or a contrast problem.
LARGE_SHIFT_HU = 100


def density_reference_hu(hounsfield: np.ndarray, lungs: np.ndarray) -> float:
    """Return the brightest lung zone's 75th percentile of parenchyma HU.

    Args:
        hounsfield: the study's HU, ``(slices, rows, columns)``.
        lungs: the lung labels of the same shape (``study.regions``: 0 outside, right, left).

    Raises:
        AnalysisError: no zone holds enough parenchyma to take a reference from.
    """
    references = []
    # Within the lungs' box: masking the whole volume per lung costs more than the rest.
    box = bounding_box(lungs > 0) if lungs.any() else (slice(0, 0),) * 3
    lungs, hounsfield = lungs[box], hounsfield[box]
    for label in LUNG_NAMES:
        mask = lungs == label
        slices = np.flatnonzero(mask.any(axis=(1, 2)))
        for zone in np.array_split(slices, ZONES_PER_LUNG):
            values = hounsfield[zone][mask[zone]]
            values = values[(values > PARENCHYMA_HU[0]) & (values < PARENCHYMA_HU[1])]
            if values.size >= MINIMUM_ZONE_VOXELS:
                references.append(float(np.percentile(values, PERCENTILE)))
    if not references:
        raise AnalysisError(
            f"no lung zone holds {MINIMUM_ZONE_VOXELS} voxels of parenchyma "
            f"({PARENCHYMA_HU[0]:g} to {PARENCHYMA_HU[1]:g} HU) to take the density reference from"
        )
    return max(references)


def density_shift_hu(hounsfield: np.ndarray, lungs: np.ndarray, target_hu: float) -> int:
    """Return the whole HU to add to the study so its reference is ``target_hu``."""
    return int(round(target_hu - density_reference_hu(hounsfield, lungs)))


def shift_hounsfield(hounsfield: np.ndarray, shift_hu: int) -> np.ndarray:
    """Return ``hounsfield`` (any shape) plus ``shift_hu``, kept in the 12-bit CT range and its dtype."""
    widened = hounsfield.astype(np.float32 if hounsfield.dtype.kind == "f" else np.int32)
    return np.clip(widened + shift_hu, HU_MINIMUM, HU_MAXIMUM).astype(hounsfield.dtype)


def large_shift_warning(shift_hu: int | None) -> str | None:
    """A warning for a shift no patient's lung explains, else None (also for no shift)."""
    if shift_hu is None or abs(shift_hu) <= LARGE_SHIFT_HU:
        return None
    return (
        f"the lung density was shifted by {shift_hu:+d} HU to the model's reference: more than "
        f"{LARGE_SHIFT_HU} HU suggests a calibration, contrast or inspiration problem; check the scan"
    )


def describe_shift(reference_hu: float | None, shift_hu: int | None) -> str:
    """``"lung density moved +20 HU to the model's -815 HU reference"``, or ``"raw HU"``: for reports."""
    if reference_hu is None or shift_hu is None:
        return "raw HU"
    return f"lung density moved {shift_hu:+d} HU to the model's {reference_hu:g} HU reference"
