"""The accuracy evaluation's parts on constructed maps: edge tiles, the region truth, the figures."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.accuracy_summary import bootstrap_ratio, proportion, summarise_model
from analysis.accuracy_table import render_table
from analysis.pattern_map import assemble_pattern_map, plan_tiles
from analysis.roi_dataset import label_roi
from analysis.settings import RoiSettings
from analysis.study_accuracy import compare_study
from analysis.tiles import crop

RULES = RoiSettings()


@pytest.fixture
def study() -> tuple[np.ndarray, np.ndarray]:
    """A square lung on 4 slices of 1 mm pixels: centrilobular foci (20 %) in its left half, NT elsewhere."""
    lungs = np.zeros((4, 64, 64), dtype=np.uint8)
    lungs[:, 4:60, 4:60] = 1
    pattern = lungs.copy()
    rows, columns = np.mgrid[0:64, 0:64]
    foci = (rows % 5 == 0) & (columns < 32)
    pattern[:, (lungs[0] > 0) & foci] = 2
    return lungs, pattern


def plan(lungs: np.ndarray):
    return plan_tiles(lungs, 1.0, 20.0, 8.0, 1, RULES.minimum_lung_share)


def rule_labels(pattern: np.ndarray, tile_plan) -> np.ndarray:
    """Each classified tile's label by roi-dataset's own ROI rule (1..4), 1 where it skips the ROI."""
    labels = np.ones(len(tile_plan.grid), dtype=np.uint8)
    for position in np.flatnonzero(tile_plan.classified):
        tile = tile_plan.grid[position]
        labelled = label_roi(crop(pattern[tile.slice_index], tile.top, tile.left, tile_plan.side, 0), RULES)
        if labelled is not None:
            labels[position] = labelled[0] + 1
    return labels


def test_edge_tiles_are_not_classified_and_take_their_nearest_neighbours_label(study):
    lungs, _ = study
    tile_plan = plan(lungs)
    assert 0 < tile_plan.classified.sum() < len(tile_plan.grid)
    for tile, classified in zip(tile_plan.grid, tile_plan.classified, strict=True):
        window = crop(lungs[tile.slice_index], tile.top, tile.left, tile_plan.side, 0)
        assert classified == (window.mean() >= RULES.minimum_lung_share)
    # Label each classified tile by its column: 1 on the left, 4 on the right.
    own = np.array([1 if tile.left < 24 else 4 for tile in tile_plan.grid], dtype=np.uint8)
    pattern_map = assemble_pattern_map(tile_plan, lungs, np.where(tile_plan.classified, own, 0))
    assert pattern_map.labels[lungs > 0].all() and not pattern_map.labels[lungs == 0].any()
    assert pattern_map.filled_tiles == int((~tile_plan.classified).sum())
    assert pattern_map.labels[0, 5, 5] == 1 and pattern_map.labels[0, 58, 58] == 4  # corners: filled
    assert pattern_map.tiles == int(tile_plan.classified.sum())


def test_a_model_that_answers_the_region_rule_scores_perfectly(study):
    lungs, pattern = study
    tile_plan = plan(lungs)
    record = compare_study(
        pattern, lungs, assemble_pattern_map(tile_plan, lungs, rule_labels(pattern, tile_plan)), RULES, 5.0
    )
    assert record["tiles"]["judged"] > 0
    assert record["tiles"]["correct"] == record["tiles"]["judged"]
    assert record["share_error_points"] == 0.0
    assert record["truth"]["pattern_percent"]["CLE"] > 20  # regions, not the 20 % of voxels in half
    assert (
        record["dominant_correct"] and record["dominant_emphysema_correct"] and record["predominance_correct"]
    )
    assert 0 < record["compared_lung_percent"] < 100  # ambiguous tiles at the CLE border are left out


def test_a_model_that_calls_everything_normal_misses_the_centrilobular_regions(study):
    lungs, pattern = study
    tile_plan = plan(lungs)
    record = compare_study(
        pattern,
        lungs,
        assemble_pattern_map(tile_plan, lungs, np.ones(len(tile_plan.grid), np.uint8)),
        RULES,
        5.0,
    )
    truth = record["truth"]["pattern_percent"]
    confusion = np.array(record["confusion"])
    assert record["tiles"]["correct"] == confusion[0, 0] == confusion[0].sum()  # every NT tile right
    assert confusion[1, 0] == confusion[1].sum() > 0  # every CLE tile called NT
    # NT over-counted by the CLE share, CLE missed by as much: a mean error of half of it.
    assert record["share_error_points"] == pytest.approx(truth["CLE"] / 2, abs=0.01)
    assert record["dominant_emphysema_correct"] is False


def test_figures_pool_studies_and_carry_intervals():
    accuracy = bootstrap_ratio([90, 40], [100, 50])
    assert accuracy["value"] == pytest.approx(130 / 150, abs=1e-4)
    assert accuracy["ci95"][0] <= accuracy["value"] <= accuracy["ci95"][1]
    calls = proportion([True, True, False, None])
    assert (calls["value"], calls["studies"], calls["correct"]) == (pytest.approx(2 / 3, abs=1e-4), 3, 2)
    assert 0 < calls["ci95"][0] < calls["value"] < calls["ci95"][1] < 1


def test_the_table_is_rendered_from_the_document(study):
    lungs, pattern = study
    tile_plan = plan(lungs)
    record = compare_study(
        pattern, lungs, assemble_pattern_map(tile_plan, lungs, rule_labels(pattern, tile_plan)), RULES, 5.0
    )
    records = [{**record, "severity": "moderate"}, {**record, "severity": "severe"}]
    summary = summarise_model(records)
    assert summary["targets_met"] == {
        "roi_accuracy_moderate_severe": True,
        "dominant_correct": True,
        "share_error_points": True,
    }
    document = {
        "command": "emphysema analysis-eval studies --out results",
        "machine": "a CPU",
        "studies": [{}, {}],
        "study_summary": "1 CLE moderate, 1 CLE severe",
        "truth_rule": "the region rule",
        "targets": {
            "roi_accuracy_moderate_severe_min": 0.9,
            "dominant_correct_min": 0.9,
            "share_error_points_max": 5.0,
        },
        "models": [{"name": "roi20", "field_of_view_mm": 20.0, "summary": summary}],
        "best_model": "roi20",
    }
    table = render_table(document)
    assert "| roi20 | 20 | 100.0 % (100.0–100.0) |" in table
    assert "## roi20 (20 mm) by severity" in table and "| severe | 1 |" in table
