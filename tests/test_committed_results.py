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


def test_the_study_benchmark_report_is_its_json_rendered():
    from bench.study_report import assess_goals, render_report

    folder = ROOT / "bench" / "results" / "study_analysis"
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert (folder / "report.md").read_text(encoding="utf-8") == render_report(results)
    # The verdicts are the goals' rules applied to the committed figures, not typed in.
    assert results["goals"] == assess_goals(results)
