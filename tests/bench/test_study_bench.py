"""`emphysema bench study` on a small phantom study, with the tiny model served by the real embedded Triton.

The figures of a loaded test machine mean nothing; these tests check what a reader of the results
relies on: the step split adds up to the study's wall time, both paths classified the same ROIs
with the same labels, the report is its JSON rendered, and the goals are judged only where they
apply.
"""

from __future__ import annotations

import argparse
import json

import pytest

from bench.goals import STUDY_GOALS
from bench.results_json import read_json
from bench.study_command import RESULTS_NAME, SETTINGS_NAME, build_parser
from bench.study_report import render_report
from bench.study_results import Agreement, StudyBenchResults
from bench.study_settings import STEPS
from emphysema.cli import main as cli_main


@pytest.mark.triton
def test_a_small_study_is_split_into_steps_and_both_paths_agree(triton_server, tiny_repository, tmp_path):
    out = tmp_path / "results"
    status = cli_main(
        [
            "bench",
            "study",
            "--size",
            "small",
            "--repository",
            str(tiny_repository.path),
            "--model",
            tiny_repository.model_name,
            "--url",
            triton_server.grpc_url,
            "--out",
            str(out),
            "--rois",
            "300",
            "--rounds",
            "1",
            "--quiet",
        ]
    )
    assert status == 0
    results = read_json(StudyBenchResults, out / RESULTS_NAME, "the results.json of `emphysema bench study`")
    end_to_end = results.end_to_end
    assert list(end_to_end.steps) == list(STEPS)
    # Only the report's own json.dump and the folder rename fall outside the steps.
    assert sum(end_to_end.steps.values()) == pytest.approx(end_to_end.wall_seconds, abs=0.2)
    assert end_to_end.steps["inference"] > 0 and end_to_end.tiles["count"] > 300
    walls = end_to_end.all_wall_seconds
    assert len(walls) == 2 and end_to_end.wall_seconds == min(walls)

    comparison = results.comparison
    assert comparison.rois == 300
    assert [batch.batch_size for batch in comparison.batches] == [1, tiny_repository.max_batch_size]
    for batch in comparison.batches:
        assert batch.paths["onnxruntime"].rois_per_second > 0 and batch.paths["triton"].rois_per_second > 0
    # Triton, in process, and the analysis itself gave every one of the same ROIs the same label.
    assert comparison.label_agreement_with_in_process == {
        "triton": Agreement(same=300, of=300),
        "analysis": Agreement(same=300, of=300),
    }
    assert results.environment.cpu["cores"] >= 1 and results.environment.load_average_at_start

    assert (out / "report.md").read_text(encoding="utf-8") == render_report(results)
    assert [goal.name for goal in results.goals] == list(STUDY_GOALS)
    # A small study with a slice-level model is no evidence for the full-size goals.
    assert all(goal.met is None and "small study" in goal.why for goal in results.goals[:2])
    assert results.goals[2].met in {True, False}
    saved = json.loads((out / SETTINGS_NAME).read_text(encoding="utf-8"))
    assert saved["size"] == "small" and saved["url"] == triton_server.grpc_url


def test_a_repository_without_the_model_fails_clearly_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    status = cli_main(
        ["bench", "study", "--repository", str(tmp_path), "--model", "absent", "--out", str(out)]
    )
    assert status == 1
    assert "no exported model.onnx" in capsys.readouterr().err
    assert not out.exists()


def test_every_study_option_states_its_default():
    parser = build_parser()
    assert parser.prog == "emphysema bench study"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.nargs == 0:
            continue
        assert action.help and "default" in action.help.lower(), action.option_strings
    flags = {flag for action in parser._actions for flag in action.option_strings}
    assert {"--model", "--repository", "--out", "--url", "--seed", "--quiet"} <= flags
