"""External validation through the Keras file: a run trained on one phantom cohort, scored on another.

The second cohort is generated with another seed, so it shares the first's file names but none
of its pixels; every one of its slices is scored, into its own report folder.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emphysema import cli
from imaging.contract import CLASS_NAMES
from imaging.dataset import load_images, read_dataset
from training.run_folder import read_run


def synth(out: Path, seed: int, patients: int) -> Path:
    arguments = ["synth", "--out", str(out), "--patients", str(patients), "--slices-per-patient", "2"]
    assert cli.main([*arguments, "--size", "64", "--seed", str(seed), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def phantom_run(tmp_path_factory) -> Path:
    """A simple_cnn run (32 px, 2 epochs) trained on a 12-patient phantom cohort made with seed 0."""
    root = tmp_path_factory.mktemp("phantom_run")
    data = synth(root / "cohort_a", seed=0, patients=12)
    out = root / "runs" / "a"
    training = ["train", "--data", str(data), "--model", "simple_cnn", "--out", str(out)]
    assert cli.main([*training, "--image-size", "32", "--epochs", "2", "--batch-size", "8"]) == 0
    return out


@pytest.fixture(scope="module")
def cohort_b(tmp_path_factory) -> Path:
    """A second phantom cohort: 8 patients, seed 7."""
    return synth(tmp_path_factory.mktemp("cohort") / "cohort_b", seed=7, patients=8)


@pytest.fixture()
def run_copy(phantom_run, tmp_path) -> Path:
    copy = tmp_path / "a"
    shutil.copytree(phantom_run, copy)
    return copy


def read_predictions(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_slice_of_the_second_cohort_is_scored_by_the_frozen_model(run_copy, cohort_b, capsys):
    own = {name: (run_copy / name).read_bytes() for name in ("metrics.json", "report.md", "predictions.csv")}
    assert cli.main(["evaluate", "--run", str(run_copy), "--data", str(cohort_b), "--external"]) == 0
    out = run_copy / "external" / "cohort_b"  # the default report folder: after the data folder's name
    printed = capsys.readouterr().out
    assert "external validation: accuracy" in printed and str(out / "report.md") in printed
    for name, content in own.items():
        assert (run_copy / name).read_bytes() == content, f"the run's own {name} was touched"
    assert {path.name for path in out.iterdir()} == {
        "metrics.json",
        "report.md",
        "confusion_matrix.png",
        "predictions.csv",
        "evaluation_settings.json",
    }
    samples = read_dataset(cohort_b)
    rows = read_predictions(out / "predictions.csv")
    assert sorted(row["path"] for row in rows) == sorted(
        s.path.relative_to(cohort_b).as_posix() for s in samples
    )
    # The numbers are the saved model's on these very files, through the run's pixel pipeline.
    run = read_run(run_copy)
    by_path = {s.path.relative_to(cohort_b).as_posix(): s for s in samples}
    ordered = [by_path[row["path"]] for row in rows]
    expected = run.load_model().predict(load_images(ordered, 32, run.window, progress=False), verbose=0)
    written = np.array([[float(row[f"p_{name}"]) for name in CLASS_NAMES] for row in rows])
    np.testing.assert_allclose(written, expected, atol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    correct = sum(row["predicted"] == row["label"] for row in rows)
    assert metrics["count"] == 16 and metrics["accuracy"]["value"] == pytest.approx(correct / 16)
    assert metrics["bootstrap"] == {**metrics["bootstrap"], "unit": "patient", "groups": 8}
    assert set(metrics["by_severity"]) <= {"trace", "mild", "moderate", "severe"} and metrics["by_severity"]
    report = (out / "report.md").read_text()
    assert f"External validation on `{cohort_b.resolve()}`, the synthetic phantom" in report
    assert "## Accuracy by severity" in report and "Wilson 95 % CI" in report
    settings = json.loads((out / "evaluation_settings.json").read_text())
    assert settings["data"] == str(cohort_b.resolve()) and settings["scored_with"] == "keras"


def test_an_existing_report_folder_is_kept_unless_overwritten(run_copy, cohort_b, tmp_path, capsys):
    out = tmp_path / "reports" / "b"
    arguments = ["evaluate", "--run", str(run_copy), "--data", str(cohort_b), "--external", "--out", str(out)]
    assert cli.main(arguments) == 0
    before = (out / "metrics.json").read_bytes()
    assert cli.main(arguments) == 2
    assert "report folder already exists" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before
    assert cli.main([*arguments, "--overwrite", "--bootstrap", "50"]) == 0
    assert json.loads((out / "metrics.json").read_text())["bootstrap"]["samples"] == 50


def test_the_training_data_is_not_an_external_cohort(run_copy, tmp_path, capsys):
    trained_on = read_run(run_copy).data_root
    assert cli.main(["evaluate", "--run", str(run_copy), "--data", str(trained_on), "--external"]) == 2
    assert "is the data set run" in capsys.readouterr().err
    copy = tmp_path / "copy_of_training_data"
    shutil.copytree(trained_on, copy)
    assert cli.main(["evaluate", "--run", str(run_copy), "--data", str(copy), "--external"]) == 1
    assert "identical to scans run" in capsys.readouterr().err
    assert not (run_copy / "external").exists()


def test_own_users_data_is_not_called_a_phantom(run_copy, cohort_b, tmp_path):
    mine = tmp_path / "hospital_b"
    shutil.copytree(cohort_b, mine)
    (mine / "synth_settings.json").unlink()
    assert cli.main(["evaluate", "--run", str(run_copy), "--data", str(mine), "--external"]) == 0
    report = (run_copy / "external" / "hospital_b" / "report.md").read_text()
    assert "synthetic phantom" not in report and "the data set given" in report
    assert report.rstrip().endswith("> Research use only, not for diagnosis.")


def test_moved_data_and_external_are_told_apart_by_the_flag(run_copy, cohort_b, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(read_run(run_copy).data_root, moved)
    before = json.loads((run_copy / "metrics.json").read_text())
    assert cli.main(["evaluate", "--run", str(run_copy), "--data", str(moved)]) == 0  # the moved-data case
    after = json.loads((run_copy / "metrics.json").read_text())
    assert after["count"] == before["count"] and after["run"]["data"] == str(moved)
    other = tmp_path / "other"
    (other / "NT").mkdir(parents=True)
    shutil.copy(next((cohort_b / "NT").iterdir()), other / "NT" / "elsewhere_s0.png")
    assert cli.main(["evaluate", "--run", str(run_copy), "--data", str(other)]) == 1
    assert "add --external" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--out", "somewhere"], "--out applies only to an external validation"),
        (["--url", "localhost:8001"], "--url applies only to an external validation"),
        (["--external"], "--external needs --data"),
        (["--external", "--data", "x", "--model", "simple_cnn"], "--model names a served model"),
    ],
)
def test_options_that_need_another_are_refused_before_any_work(run_copy, arguments, message, capsys):
    assert cli.main(["evaluate", "--run", str(run_copy), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not (run_copy / "external").exists()


def test_an_unreadable_row_stops_with_its_line_or_is_skipped(run_copy, cohort_b, tmp_path, capsys):
    cohort = tmp_path / "with_gap"
    shutil.copytree(cohort_b, cohort)
    lines = (cohort / "manifest.csv").read_text().splitlines()
    (cohort / "manifest.csv").write_text("\n".join([*lines, "CLE/gone.png,CLE,P0999,mild"]) + "\n")
    arguments = ["evaluate", "--run", str(run_copy), "--data", str(cohort), "--external"]
    assert cli.main(arguments) == 1
    error = capsys.readouterr().err
    assert f"line {len(lines) + 1} (CLE/gone.png): no such file" in error and "add --skip-unreadable" in error
    assert cli.main([*arguments, "--skip-unreadable"]) == 0
    out = run_copy / "external" / "with_gap"
    assert "Skipped 1 unreadable file" in capsys.readouterr().out
    assert (out / "skipped.txt").read_text() == f"line {len(lines) + 1} (CLE/gone.png): no such file\n"
    assert json.loads((out / "metrics.json").read_text())["count"] == 16
