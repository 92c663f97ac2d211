"""What train and evaluate print under the accuracy line: per-severity accuracy and a collapse warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evaluation.command import main as evaluate_main
from training.report import console_summary


def metrics_with(predicted_counts: dict[str, int]) -> dict:
    estimate = {"value": 0.5, "ci95": [0.4, 0.6]}
    return {
        "classes": ["NT", "CLE", "PSE", "PLE"],
        "predicted_counts": predicted_counts,
        "by_severity": {name: {"count": 10, "accuracy": estimate} for name in ("severe", "mild", "trace")},
    }


def test_severities_are_listed_mildest_first_with_their_intervals():
    lines = console_summary(metrics_with({"NT": 3, "CLE": 3, "PSE": 2, "PLE": 2}))
    assert [line.split(":")[0].strip() for line in lines] == ["trace", "mild", "severe"]
    assert lines[0].endswith("50.0 % (40.0-60.0) on 10 images")


def test_a_model_that_predicts_one_class_is_called_out():
    lines = console_summary(metrics_with({"NT": 10, "CLE": 0, "PSE": 0, "PLE": 0}))
    assert lines[-1].startswith("WARNING: the model predicts only 1 of 4 classes (NT)")


def test_evaluate_prints_the_summary(trained_run: Path, tmp_path: Path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    assert evaluate_main(["--run", str(copy)]) == 0
    printed = capsys.readouterr().out.splitlines()
    metrics = json.loads((copy / "metrics.json").read_text())
    assert printed[1:] == console_summary(metrics)
    assert len(printed) > 1
