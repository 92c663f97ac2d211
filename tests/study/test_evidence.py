"""The evidence commands: evaluation against truth and the timing measurement, on a small study."""

from __future__ import annotations

from study.benchmark import measure
from study.evaluation import TARGETS, evaluate_study, markdown, summarize


def test_evaluation_of_one_study_meets_the_targets_and_renders(mixed_study):
    result = evaluate_study(mixed_study)
    assert result["pattern"] == "CLE+PSE"
    summary = summarize([result])
    assert summary["met"] == {key: True for key in TARGETS}
    table = markdown({"size": "small", "seed": 0, "studies": [result], "summary": summary})
    assert "| 0 | CLE+PSE | severe |" in table and "dice_min" in table


def test_timing_measures_each_step(mixed_study):
    record = measure(mixed_study / "dicom")
    assert list(record["steps"]) == ["read", "segment", "quantify"]
    assert all(step["seconds"] > 0 and step["peak_rss_mib"] > 0 for step in record["steps"].values())
    assert record["laa950_percent"] > 1.0
