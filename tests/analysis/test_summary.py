"""Zone summaries of a pattern map: shares per region, dominant pattern, upper- or lower-zone predominance."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.summary import summarise


def _lungs() -> np.ndarray:
    lungs = np.zeros((9, 8, 8), dtype=np.uint8)
    lungs[:, 2:6, 1:4] = 1  # right lung: image left
    lungs[:, 2:6, 4:7] = 2
    return lungs


@pytest.mark.parametrize(("emphysema_slices", "expected"), [(slice(6, 9), "upper"), (slice(0, 3), "lower")])
def test_predominance_follows_where_the_emphysema_is(emphysema_slices, expected):
    lungs = _lungs()
    pattern_map = np.where(lungs > 0, 1, 0).astype(np.uint8)  # NT everywhere in the lungs
    pattern_map[emphysema_slices][lungs[emphysema_slices] > 0] = 2  # CLE in one third

    summary = summarise(pattern_map, lungs, margin_points=5.0)

    whole = summary["regions"]["WholeLung"]
    assert whole["pattern_percent"] == pytest.approx({"NT": 66.667, "CLE": 33.333, "PSE": 0.0, "PLE": 0.0})
    assert (whole["dominant"], whole["dominant_emphysema"]) == ("NT", "CLE")
    zone = "Upper" if expected == "upper" else "Lower"
    assert summary["regions"][f"Right{zone}Third"]["pattern_percent"]["CLE"] == 100.0
    assert summary["zones"]["predominance"] == expected


def test_an_even_spread_has_no_predominance_and_unanalysed_slices_do_not_count():
    lungs = _lungs()
    pattern_map = np.where(lungs > 0, 3, 0).astype(np.uint8)
    pattern_map[1::2] = 0  # every other slice not analysed
    summary = summarise(pattern_map, lungs, margin_points=5.0)
    assert summary["regions"]["LeftLung"]["voxels"] == 5 * 4 * 3  # slices 0, 2, 4, 6, 8 of a 4 x 3 lung
    assert summary["regions"]["LeftLung"]["pattern_percent"]["PSE"] == 100.0
    assert summary["zones"]["predominance"] == "none"


def test_empty_space_around_the_lungs_changes_nothing():
    lungs = _lungs()
    rng = np.random.default_rng(2)
    pattern_map = np.where(lungs > 0, rng.integers(1, 5, lungs.shape), 0).astype(np.uint8)
    pattern_map[::3] = 0  # slices not analysed
    # The same lungs inside a larger volume: air slices below and above, a wide margin in-plane.
    padded_lungs = np.pad(lungs, ((4, 7), (10, 3), (5, 12)))
    padded_map = np.pad(pattern_map, ((4, 7), (10, 3), (5, 12)))
    assert summarise(padded_map, padded_lungs, 5.0) == summarise(pattern_map, lungs, 5.0)
