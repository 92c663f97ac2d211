"""The ground truth written beside a synthetic study: label volumes and ``truth.json``.

``labels.npz`` holds ``anatomy`` (0 other, 1 right lung, 2 left lung, 3 trachea and main
bronchi) and ``pattern`` (0 not lung, 1 NT, 2 CLE, 3 PSE, 4 PLE), both ``(slices, rows,
columns)`` lowest slice first like the DICOM series sorted along its normal. ``truth.json``
measures the written HU inside the true lungs with the same code ``emphysema quantify`` uses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from study.phantom.chest import AIRWAY, Chest
from study.phantom.render import PATTERN_LABELS, RenderedStudy
from study.regions import measure_regions
from study.zones import ZONE_RULE

MASK_RULE = "lung parenchyma with intrapulmonary vessels and fissures; trachea and main bronchi excluded"
PATTERN_SHARE_RULE = (
    "voxels of each pattern in the region / voxels of the region (CIP TypeFrac, voxel-wise), %"
)


def write_labels(path: Path, rendered: RenderedStudy) -> None:
    """Save the anatomy and pattern label volumes, compressed."""
    np.savez_compressed(path, anatomy=rendered.anatomy, pattern=rendered.pattern)


def build_truth(chest: Chest, rendered: RenderedStudy, spacing_mm: tuple[float, float, float]) -> dict:
    """Return the truth record: scanner, patient, and per-region densitometry and pattern shares."""
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    lungs = np.where(rendered.anatomy == AIRWAY, 0, rendered.anatomy)

    def pattern_shares(selected: np.ndarray, slab: slice) -> dict:
        counts = np.bincount(rendered.pattern[slab][selected], minlength=5)
        total = max(int(counts[1:].sum()), 1)
        return {
            "pattern_percent": {
                name: round(100.0 * counts[label] / total, 3) for name, label in PATTERN_LABELS.items()
            }
        }

    return {
        "pattern": chest.pattern,
        "severity": chest.severity,
        "extent": round(chest.extent, 4),
        "seed": chest.seed,
        "scanner": {
            "kernel": chest.kernel,
            "noise_hu": round(chest.noise_hu, 2),
            "blur_mm": round(chest.blur_mm, 3),
            "pixel_spacing_mm": round(chest.pixel_spacing_mm, 4),
            "slice_thickness_mm": round(chest.slice_thickness_mm, 4),
            "slice_interval_mm": round(chest.slice_interval_mm, 4),
            "shape": list(rendered.hounsfield.shape),
        },
        "airway_volume_ml": round(float(np.count_nonzero(rendered.anatomy == AIRWAY)) * voxel_ml, 2),
        "mask_rule": MASK_RULE,
        "zone_rule": ZONE_RULE,
        "pattern_share_rule": PATTERN_SHARE_RULE,
        "regions": measure_regions(rendered.hounsfield, lungs, voxel_ml, pattern_shares),
        "chest": {
            key: value for key, value in dataclasses.asdict(chest).items() if isinstance(value, (int, float))
        },
    }
