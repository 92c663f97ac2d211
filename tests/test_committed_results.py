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


def test_the_committed_bench_results_load_and_regenerate_byte_for_byte():
    import dataclasses

    from bench import goals
    from bench.report import render_report
    from bench.results_json import read_results, to_json

    folder = ROOT / "bench" / "results"
    results = read_results(folder / "results.json")
    assert json.dumps(to_json(results), indent=2) + "\n" == (folder / "results.json").read_text(
        encoding="utf-8"
    )
    assert render_report(results) == (folder / "report.md").read_text(encoding="utf-8")
    assert "AVX-512 with VNNI" in (folder / "report.md").read_text(
        encoding="utf-8"
    )  # int8 speed depends on it
    settings = json.loads((folder / "bench_settings.json").read_text(encoding="utf-8"))
    assert to_json(results.settings) == settings
    # Goals, ratios and achieved compute, computed afresh from the measurements, are the committed ones.
    measured = dataclasses.replace(results, achieved={}, ratios={}, goals=())
    assert to_json(goals.judge(measured)) == to_json(results)


def test_the_int8_weight_range_tables_are_their_json_rendered():
    from bench.int8_weight_range import render_markdown

    folders = sorted((ROOT / "bench" / "results" / "int8_weight_range").iterdir())
    assert folders
    for folder in folders:
        document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        assert (folder / "results.md").read_text(encoding="utf-8") == render_markdown(document), folder.name


def test_the_pacs_throughput_results_load_and_regenerate_byte_for_byte():
    from bench.pacs_throughput_results import PacsThroughputResults
    from bench.pacs_throughput_table import render_table
    from bench.results_json import json_text, read_json

    folder = ROOT / "bench" / "results" / "pacs_throughput"
    results = read_json(
        PacsThroughputResults,
        folder / "throughput.json",
        "the throughput.json of `python -m bench.pacs_throughput`",
    )
    assert json_text(results) == (folder / "throughput.json").read_text(encoding="utf-8")
    assert (folder / "throughput.md").read_text(encoding="utf-8") == render_table(results)
    assert results.cpu["model"] and results.cpu["cores"] >= 1, "the CPU is recorded"
    assert {run.workers for run in results.runs} == {1, 2}
    assert all(run.studies_analysed == results.studies.count for run in results.runs)


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


def test_the_default_model_accuracy_is_its_json_rendered_at_analyze_defaults():
    from analysis.accuracy_table import render_table
    from analysis.settings import DEFAULT_DENSITY_REFERENCE_HU, DEFAULT_ROI_MM, AnalysisSettings

    folder = ROOT / "analysis" / "results" / "default_model_accuracy"
    document = json.loads((folder / "accuracy.json").read_text(encoding="utf-8"))
    assert (folder / "accuracy.md").read_text(encoding="utf-8") == render_table(document)
    [model] = document["models"]
    assert model["field_of_view_mm"] == DEFAULT_ROI_MM
    assert model["density_reference_hu"] == DEFAULT_DENSITY_REFERENCE_HU  # trained as roi-dataset cuts now
    defaults = AnalysisSettings()  # judged at analyze's own grid, not a coarser one
    assert document["settings"]["analysis"]["stride_mm"] == defaults.stride_mm
    assert document["settings"]["analysis"]["slice_step"] == defaults.slice_step


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


def test_the_study_benchmark_results_load_and_regenerate_byte_for_byte():
    import dataclasses

    from bench.goals import judge_study
    from bench.results_json import read_json, to_json
    from bench.study_report import render_report
    from bench.study_results import StudyBenchResults

    folder = ROOT / "bench" / "results" / "study_analysis"
    results = read_json(
        StudyBenchResults, folder / "results.json", "the results.json of `emphysema bench study`"
    )
    committed = (folder / "results.json").read_text(encoding="utf-8")
    assert json.dumps(to_json(results), indent=2) + "\n" == committed
    assert (folder / "report.md").read_text(encoding="utf-8") == render_report(results)
    settings = json.loads((folder / "study_bench_settings.json").read_text(encoding="utf-8"))
    assert to_json(results.settings) == settings
    # The verdicts are the goals' rules applied to the committed figures, not typed in.
    assert judge_study(dataclasses.replace(results, goals=())) == results
