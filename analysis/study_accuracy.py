"""One held-out study against its truth: tile accuracy, pattern shares, dominant pattern, predominance.

The truth is made by the region rule the training ROIs were labelled with
(``analysis.region_rule``), on the same tiles `analyze` classifies: each tile with enough lung
gets the rule's label from the phantom's pattern map (or none when the rule calls it ambiguous);
edge tiles take their nearest such tile's outcome, as `analyze` fills them. Shares are compared
on the lung voxels whose truth is a label, on both sides; the voxel-wise truth of ``truth.json``
counts lesion voxels, not regions, and is kept beside for information only.
"""

from __future__ import annotations

import numpy as np

from analysis.edge_tiles import fill_from_nearest, paint
from analysis.pattern_map import PatternMap
from analysis.region_rule import pattern_counts, region_label
from analysis.settings import RoiSettings
from analysis.summary import summarise
from analysis.tiles import crop
from imaging.contract import CLASS_NAMES

# A tile the region rule calls ambiguous (between NT and emphysema, or mixed patterns).
AMBIGUOUS = 255


def region_truth(
    pattern: np.ndarray, lungs: np.ndarray, pattern_map: PatternMap, rules: RoiSettings
) -> tuple:
    """Return ``(truth map, truth label of each grid tile)``: 1..4, AMBIGUOUS, or 0 when unlabelled."""
    own = np.zeros(len(pattern_map.grid), dtype=np.uint8)
    for position in np.flatnonzero(pattern_map.classified):
        tile = pattern_map.grid[position]
        window = crop(pattern[tile.slice_index], tile.top, tile.left, pattern_map.tile_side_px, 0)
        label = region_label(pattern_counts(window), rules)
        own[position] = AMBIGUOUS if label is None else label + 1
    tile_truth = fill_from_nearest(pattern_map.grid, own, pattern_map.classified)
    return paint(lungs.shape, lungs, pattern_map.grid, tile_truth), tile_truth


def _shares(summary: dict) -> dict:
    whole = summary["regions"]["WholeLung"]
    return {
        "pattern_percent": whole["pattern_percent"],
        "dominant": whole["dominant"],
        "dominant_emphysema": whole["dominant_emphysema"],
        "predominance": summary["zones"]["predominance"],
        "upper_emphysema_percent": summary["zones"]["upper_emphysema_percent"],
        "lower_emphysema_percent": summary["zones"]["lower_emphysema_percent"],
    }


def compare_study(
    pattern: np.ndarray, lungs: np.ndarray, pattern_map: PatternMap, rules: RoiSettings, margin_points: float
) -> dict:
    """Return one study's record: tile confusion, compared shares, errors and calls."""
    truth_map, tile_truth = region_truth(pattern, lungs, pattern_map, rules)
    judged = pattern_map.classified & (tile_truth >= 1) & (tile_truth <= len(CLASS_NAMES))
    confusion = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    np.add.at(confusion, (tile_truth[judged] - 1, pattern_map.grid_labels[judged] - 1), 1)
    compared = (truth_map >= 1) & (truth_map <= len(CLASS_NAMES))
    truth = _shares(summarise(np.where(compared, truth_map, 0), lungs, margin_points))
    predicted = _shares(summarise(np.where(compared, pattern_map.labels, 0), lungs, margin_points))
    analysed_lung = np.count_nonzero(lungs[list(pattern_map.analysed_slices)])
    errors = [
        abs(predicted["pattern_percent"].get(name, 0.0) - truth["pattern_percent"].get(name, 0.0))
        for name in CLASS_NAMES
    ]
    return {
        "tiles": {
            "grid": len(pattern_map.grid),
            "classified": int(pattern_map.classified.sum()),
            "judged": int(judged.sum()),
            "correct": int(np.trace(confusion)),
        },
        "confusion": confusion.tolist(),
        "compared_lung_percent": round(100.0 * np.count_nonzero(compared) / max(analysed_lung, 1), 2),
        "truth": truth,
        "predicted": predicted,
        "share_error_points": round(float(np.mean(errors)), 3),
        "dominant_correct": predicted["dominant"] == truth["dominant"],
        "dominant_emphysema_correct": (
            None
            if truth["dominant_emphysema"] is None
            else predicted["dominant_emphysema"] == truth["dominant_emphysema"]
        ),
        "predominance_correct": predicted["predominance"] == truth["predominance"],
    }
