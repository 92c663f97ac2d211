"""A run folder round-trips: train tiny -> files -> evaluate from the folder alone."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emphysema import cli
from evaluation.command import main as evaluate_main
from training.evaluate import evaluate_run
from training.run_folder import read_run
from training.runs import load_split_paths
from training.settings import load_settings
from training.train import main as train_main

RUN_FILES = {
    "model.keras",
    "settings.json",
    "split.json",
    "history.csv",
    "training_curves.png",
    "metrics.json",
    "report.md",
    "confusion_matrix.png",
    "predictions.csv",
}


def test_train_writes_the_complete_run_folder(trained_run: Path, tiny_dataset: Path):
    assert {path.name for path in trained_run.iterdir()} == RUN_FILES
    settings = load_settings(trained_run / "settings.json")
    assert settings.architecture == "simple_cnn" and settings.image_size == 32 and settings.weights == "none"
    assert Path(settings.data) == tiny_dataset.resolve()
    with open(trained_run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["phase"] == "train" and float(rows[0]["val_loss"]) > 0
    split = json.loads((trained_run / "split.json").read_text())["parts"]
    patients = {part: set(split[part]["patients"]) for part in ("train", "validation", "test")}
    assert not patients["train"] & patients["test"] and not patients["validation"] & patients["test"]
    assert sum(len(split[part]["paths"]) for part in split) == 32
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["count"] == len(split["test"]["paths"])
    assert metrics["bootstrap"]["unit"] == "patient"
    assert set(metrics["by_severity"]) <= {"mild", "moderate", "severe"}
    report = (trained_run / "report.md").read_text()
    assert "Evaluation: simple_cnn (tiny)" in report and "Accuracy:" in report


def test_evaluate_from_the_folder_reproduces_the_training_evaluation(trained_run: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    before = json.loads((copy / "metrics.json").read_text())
    (copy / "metrics.json").unlink()
    assert evaluate_main(["--run", str(copy)]) == 0
    after = json.loads((copy / "metrics.json").read_text())
    for key in ("count", "accuracy", "macro", "per_class", "confusion_matrix"):
        assert after[key] == before[key]


def assert_saved_model_predicts_like_the_files_say(trained_run: Path, tiny_dataset: Path) -> None:
    """model.keras, reloaded alone, gives the probabilities predictions.csv recorded for the test split."""
    run = read_run(trained_run, tiny_dataset)
    test_paths = load_split_paths(trained_run / "split.json")["test"]
    images, _ = run.load_part("test")
    probabilities = run.load_model().predict(images, verbose=0)
    with open(trained_run / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["path"] for row in rows] == test_paths
    recorded = np.array([[float(row[f"p_{name}"]) for name in ("NT", "CLE", "PSE", "PLE")] for row in rows])
    np.testing.assert_allclose(probabilities, recorded, atol=1e-5)


def test_saved_model_predicts_like_the_files_say(trained_run: Path, tiny_dataset: Path):
    assert_saved_model_predicts_like_the_files_say(trained_run, tiny_dataset)


def test_evaluate_names_missing_data_and_folders(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    assert cli.main(["evaluate", "--run", str(tmp_path / "nothing")]) == 1
    assert "run folder not found" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    other = tmp_path / "other_data"
    (other / "NT").mkdir(parents=True)
    assert cli.main(["evaluate", "--run", str(copy), "--data", str(other)]) == 1
    assert str(other) in capsys.readouterr().err


def test_an_existing_run_folder_is_not_overwritten_by_accident(trained_run: Path, tiny_dataset: Path, capsys):
    before = (trained_run / "model.keras").stat().st_mtime_ns
    status = cli.main(
        [
            "train",
            "--data",
            str(tiny_dataset),
            "--architecture",
            "simple_cnn",
            "--out",
            str(trained_run),
            "--image-size",
            "32",
            "--epochs",
            "1",
        ]
    )
    assert status == 2  # a usage error: choose another --out or pass --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert (trained_run / "model.keras").stat().st_mtime_ns == before


def test_a_failing_run_leaves_nothing_behind(tiny_dataset: Path, tmp_path: Path, capsys):
    # Two patients per class cannot make train, validation and test parts: refused before training.
    small = tmp_path / "small"
    small.mkdir()
    rows = (tiny_dataset / "manifest.csv").read_text().splitlines()
    kept = [rows[0]] + [row for row in rows[1:] if row.split(",")[2][-2:] in {"00", "01"}]
    (small / "manifest.csv").write_text("\n".join(kept) + "\n")
    for row in kept[1:]:
        relative = row.split(",")[0]
        (small / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_dataset / relative, small / relative)
    out = tmp_path / "runs" / "failed"
    argv = ["--data", str(small), "--architecture", "simple_cnn", "--out", str(out), "--image-size", "32"]
    status = cli.main(["train", *argv])
    assert status == 1
    assert "patients per class" in capsys.readouterr().err
    assert not out.exists()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_evaluate_run_returns_what_it_writes(trained_run: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    metrics = evaluate_run(copy, bootstrap_samples=50)
    assert json.loads((copy / "metrics.json").read_text()) == metrics
    assert metrics["bootstrap"]["samples"] == 50
    assert metrics["run"]["epochs_trained"] == 1


def test_transfer_learning_trains_the_head_then_fine_tunes(tiny_dataset: Path, tmp_path: Path):
    from training.models import build_simple_cnn

    weights = tmp_path / "pretrained_base.weights.h5"
    build_simple_cnn(32).save_weights(weights)  # stands in for a downloaded 'notop' file
    out = tmp_path / "transfer"
    argv = [
        "--data",
        str(tiny_dataset),
        "--architecture",
        "simple_cnn",
        "--weights",
        str(weights),
        "--out",
        str(out),
    ]
    argv += ["--image-size", "32", "--head-epochs", "1", "--epochs", "1", "--batch-size", "8"]
    assert train_main(argv) == 0
    with open(out / "history.csv") as handle:
        phases = [row["phase"] for row in csv.DictReader(handle)]
    assert phases == ["head", "fine_tune"]
    assert load_settings(out / "settings.json").weights == str(weights)
    assert_saved_model_predicts_like_the_files_say(out, tiny_dataset)
