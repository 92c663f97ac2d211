"""Committed result tables are generated from their committed JSON, and the docs copy no figures by hand.

A table typed by hand drifts from the numbers it quotes; these files are rendered by the code from
the JSON beside them, so a test can check that they still are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_architecture_comparison_is_its_json_rendered():
    from training.comparison_table import render_table

    folder = ROOT / "training" / "results"
    document = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    assert (folder / "comparison.md").read_text(encoding="utf-8") == render_table(document)


def test_the_pattern_accuracy_table_is_its_json_rendered_and_sets_the_default_roi_size():
    from analysis.accuracy_summary import choose_best
    from analysis.accuracy_table import render_table
    from analysis.settings import DEFAULT_ROI_MM

    folder = ROOT / "analysis" / "results" / "pattern_accuracy"
    document = json.loads((folder / "accuracy.json").read_text(encoding="utf-8"))
    assert (folder / "accuracy.md").read_text(encoding="utf-8") == render_table(document)
    assert document["best_model"] == choose_best(document["models"])
    best = next(model for model in document["models"] if model["name"] == document["best_model"])
    assert best["field_of_view_mm"] == DEFAULT_ROI_MM  # the default ROI size is the measured best


def test_the_docs_hold_no_hand_copied_result_tables():
    # A results table in docs/ would repeat figures of a committed JSON; docs link the generated file.
    copied = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for header in re.findall(
            r"^\| (?:model|path|ratio) \|.*(?:accuracy|images/s|measured|split).*$",
            page.read_text(encoding="utf-8"),
            re.M,
        ):
            copied.append(f"{page.name}: {header}")
    assert not copied, copied
