"""Quantify a study: segment the lungs, measure every region, warn when LAA-950 is unreliable.

Definitions are CIP's (``study.densitometry``); zones are equal-volume thirds per lung
(``study.zones``). Sharp kernels add several points of LAA-950 (about 8 in COPDGene,
Gallardo-Estrella 2016) and thick slices hide small lucencies, so both are flagged.
"""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np

from study.densitometry import LAA_THRESHOLDS_HU, PERCENTILE
from study.lungs import LungMasks, SegmentationSettings, segment_lungs
from study.regions import measure_regions
from study.volume import Volume
from study.zones import ZONE_RULE

MASK_RULE = (
    "lung parenchyma with intrapulmonary vessels (closing and per-slice hole filling); "
    "trachea and main bronchi removed with a 2-voxel margin"
)
# Vendor names of sharp (bone, lung, edge-enhancing) kernels: GE, Siemens, Philips, Canon.
SHARP_KERNELS: tuple[str, ...] = (
    r"BONE",
    r"LUNG",
    r"EDGE",
    r"SHARP",
    r"DETAIL",
    r"^B[r]?[5-9]\d",
    r"^B[l]\d\d",
    r"^I[5-9]\d",
    r"^HR?[5-9]\d",
    r"^FC(5\d|8\d)",
    r"^Y[B-D]$",
    r"^[LDE]$",
)


@dataclasses.dataclass(frozen=True)
class QuantifySettings:
    """When to warn about the kernel and slice thickness, and the segmentation settings."""

    sharp_kernels: tuple[str, ...] = SHARP_KERNELS
    thickest_reliable_mm: float = 1.5
    segmentation: SegmentationSettings = SegmentationSettings()


def reliability_warnings(volume: Volume, settings: QuantifySettings) -> list[str]:
    """Return sentences on what makes this study's LAA-950 less trustworthy."""
    warnings = []
    kernel = volume.kernel
    if kernel is None:
        warnings.append("reconstruction kernel unknown: LAA-950 cannot be checked for a sharp-kernel bias")
    elif any(re.search(pattern, kernel.strip(), re.IGNORECASE) for pattern in settings.sharp_kernels):
        warnings.append(
            f"sharp reconstruction kernel {kernel!r}: noise pushes normal lung below -950 HU, so LAA-950 "
            "reads several points high (about 8 in COPDGene); compare only with the same kernel"
        )
    thickness = volume.slice_thickness_mm
    if thickness is None:
        warnings.append("slice thickness unknown")
    elif thickness > settings.thickest_reliable_mm:
        warnings.append(
            f"slice thickness {thickness:g} mm: partial volume hides small low-attenuation areas, so LAA-950 "
            f"reads low; densitometry is validated on slices of {settings.thickest_reliable_mm:g} mm or less"
        )
    return warnings


def quantify(volume: Volume, settings: QuantifySettings = QuantifySettings()) -> tuple[dict, LungMasks]:
    """Segment and measure one study; return the report and the masks (for figures)."""
    started = time.perf_counter()
    masks = segment_lungs(volume, settings.segmentation)
    segmented = time.perf_counter()
    regions = measure_regions(volume.hounsfield, masks.labels, volume.voxel_volume_ml)
    report = {
        "scanner": volume.describe(),
        "warnings": reliability_warnings(volume, settings),
        "regions": regions,
        "airway_volume_ml": round(float(np.count_nonzero(masks.airway)) * volume.voxel_volume_ml, 2),
        "definitions": {
            "laa": f"share of mask voxels with HU strictly below {list(LAA_THRESHOLDS_HU)} (CIP), in %",
            "perc15": f"the {PERCENTILE}th percentile of mask HU, linear interpolation, not volume-adjusted",
            "volume": "voxel count x voxel volume, mL",
            "mask": MASK_RULE,
            "zones": ZONE_RULE,
        },
        "seconds": {
            "segment": round(segmented - started, 3),
            "measure": round(time.perf_counter() - segmented, 3),
        },
    }
    return report, masks
