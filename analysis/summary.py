"""Summarise a pattern map per lung and per zone: pattern shares, dominant pattern, predominance.

Shares are of the lung voxels on the analysed slices (each voxel carries its tile's label), so
they sum to 100 % per region. Zones are the quantification's equal-volume thirds
(``study.regions.zone_ranges``), computed on the whole lung and then restricted to the map.
"""

from __future__ import annotations

import numpy as np

from imaging.contract import CLASS_NAMES
from study.lungs import bounding_box
from study.regions import LUNG_NAMES, zone_ranges
from study.zones import ZONE_RULE

EMPHYSEMA = CLASS_NAMES[1:]


def pattern_shares(map_values: np.ndarray) -> dict:
    """Return the share of each pattern (%) and the dominant one among a region's labelled voxels."""
    counts = np.bincount(map_values.ravel(), minlength=len(CLASS_NAMES) + 1)[1 : len(CLASS_NAMES) + 1]
    total = int(counts.sum())
    if total == 0:
        return {
            "voxels": 0,
            "pattern_percent": {},
            "emphysema_percent": None,
            "dominant": None,
            "dominant_emphysema": None,
        }
    percent = {
        name: round(100.0 * int(count) / total, 3) for name, count in zip(CLASS_NAMES, counts, strict=True)
    }
    emphysema = counts[1:]
    return {
        "voxels": total,
        "pattern_percent": percent,
        "emphysema_percent": round(100.0 * int(emphysema.sum()) / total, 3),
        "dominant": CLASS_NAMES[int(np.argmax(counts))],
        "dominant_emphysema": EMPHYSEMA[int(np.argmax(emphysema))] if emphysema.any() else None,
    }


def predominance(upper: dict, lower: dict, margin_points: float) -> dict:
    """Compare the emphysema share of the upper and lower thirds: ``upper``, ``lower`` or ``none``."""
    upper_percent, lower_percent = upper["emphysema_percent"] or 0.0, lower["emphysema_percent"] or 0.0
    difference = upper_percent - lower_percent
    call = "upper" if difference >= margin_points else "lower" if difference <= -margin_points else "none"
    return {
        "upper_emphysema_percent": round(upper_percent, 3),
        "lower_emphysema_percent": round(lower_percent, 3),
        "predominance": call,
        "margin_points": margin_points,
    }


def summarise(pattern_map: np.ndarray, lungs: np.ndarray, margin_points: float) -> dict:
    """Return ``{"regions": {name: shares}, "zones": predominance}`` for a map and its lung labels."""
    # Only the box around the lungs counts: the same shares and thirds from a third of the voxels.
    if lungs.any():
        box = bounding_box(lungs > 0)
        pattern_map, lungs = pattern_map[box], lungs[box]
    regions = {"WholeLung": pattern_shares(pattern_map[lungs > 0])}
    thirds: dict[str, list[np.ndarray]] = {"Upper": [], "Lower": []}
    for label, name in LUNG_NAMES.items():
        mask = lungs == label
        regions[f"{name}Lung"] = pattern_shares(pattern_map[mask])
        for zone, slab in zone_ranges(mask).items():
            values = pattern_map[slab][mask[slab]]
            regions[f"{name}{zone}Third"] = pattern_shares(values)
            if zone in thirds:
                thirds[zone].append(values)
    upper, lower = (pattern_shares(np.concatenate(thirds[zone])) for zone in ("Upper", "Lower"))
    return {
        "regions": regions,
        "zones": predominance(upper, lower, margin_points),
        "definitions": {
            "pattern_percent": "lung voxels on analysed slices carrying each tile label / all of them, %",
            "dominant": "the pattern with the largest share; dominant_emphysema ignores NT",
            "predominance": "upper minus lower third emphysema share (CLE+PSE+PLE) against the margin",
            "zones": ZONE_RULE,
        },
    }
