"""`emphysema compare`: several models on one shared patient-grouped split, and K-fold pooling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emphysema import cli
from training.compare import main as compare_main
from training.compare import parse_models
from training.comparison_table import (
    chance_accuracy,
    describe_learning,
    dominant_class,
    learns,
    render_table,
)
from training.runs import load_split_paths


@pytest.mark.slow
def test_compare_trains_on_one_shared_split_and_writes_table_i(tiny_dataset: Path, tmp_path: Path):
    out, results = tmp_path / "runs", tmp_path / "results"
    argv = [
        "--data",
        str(tiny_dataset),
        "--architectures",
        "simple_cnn,resnet50",
        "--out",
        str(out),
        "--results",
        str(results),
        "--weights",
        "none",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
    ]
    assert compare_main(argv) == 0
    assert {path.name for path in results.iterdir()} == {"comparison.md", "comparison.json", "comparison.png"}
    document = json.loads((results / "comparison.json").read_text())
    assert document["command"].startswith("emphysema compare --data ")
    assert [row["model"] for row in document["models"]] == ["simple_cnn", "resnet50"]
    splits = [load_split_paths(out / model / "split.json") for model in ("simple_cnn", "resnet50")]
    assert splits[0] == splits[1]  # the same patients in every part for every model
    for row in document["models"]:
        assert row["accuracy"]["ci95"][0] <= row["accuracy"]["value"] <= row["accuracy"]["ci95"][1]
        assert row["test_images"] == len(splits[0]["test"])
        assert sum(row["predicted_counts"].values()) == row["test_images"]
    table = (results / "comparison.md").read_text()
    assert document["command"] in table
    assert "| simple_cnn | none |" in table and "| resnet50 | none |" in table


@pytest.mark.slow
def test_resume_reuses_finished_runs_of_the_same_settings_only(tiny_dataset: Path, tmp_path: Path, capsys):
    argv = ["--data", str(tiny_dataset), "--architectures", "simple_cnn", "--out", str(tmp_path / "runs"),
            "--image-size", "32", "--epochs", "1", "--batch-size", "8"]  # fmt: skip
    assert compare_main(argv) == 0
    history = tmp_path / "runs" / "simple_cnn" / "history.csv"
    trained_at = history.stat().st_mtime_ns
    first_table = json.loads((tmp_path / "runs" / "comparison.json").read_text())["models"]
    capsys.readouterr()

    assert compare_main([*argv, "--resume"]) == 0
    assert "reusing the finished run" in capsys.readouterr().out
    assert history.stat().st_mtime_ns == trained_at  # not trained again
    assert json.loads((tmp_path / "runs" / "comparison.json").read_text())["models"] == first_table

    # Other settings do not match the finished run: it is neither reused nor silently replaced.
    assert cli.main(["compare", *argv, "--resume", "--epochs", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert history.stat().st_mtime_ns == trained_at


@pytest.mark.slow
def test_compare_with_folds_pools_every_patient_once(tiny_dataset: Path, tmp_path: Path):
    argv = [
        "--data",
        str(tiny_dataset),
        "--architectures",
        "simple_cnn",
        "--folds",
        "2",
        "--out",
        str(tmp_path),
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--validation-fraction",
        "0.25",
    ]
    assert compare_main(argv) == 0
    document = json.loads((tmp_path / "comparison.json").read_text())
    row = document["models"][0]
    assert row["test_images"] == 32 and row["test_patients"] == 16  # out-of-fold: every image tested once
    assert len(row["run_folders"]) == 2
    assert "2-fold" in document["evaluation"]


def test_model_lists_are_validated():
    assert parse_models("all") == ["inceptionv3", "resnet50", "efficientnetb0", "simple_cnn"]
    assert parse_models("ResNet50, simple_cnn") == ["resnet50", "simple_cnn"]
    with pytest.raises(ValueError, match="vgg"):
        parse_models("vgg,resnet50")


def test_the_table_renders_every_row_with_its_interval():
    estimate = {"value": 0.75, "ci95": [0.6, 0.86]}
    row = {
        "model": "simple_cnn",
        "weights": "none",
        "accuracy": estimate,
        "precision": estimate,
        "recall": estimate,
        "f1": estimate,
        "roc_auc": {"value": 0.9, "ci95": [0.8, 0.95]},
        "classes_predicted": 4,
        "epochs_trained": 7,
        "training_seconds": 90.0,
        "test_images": 40,
        "test_patients": 12,
    }
    document = {
        "command": "emphysema compare --data d --out o",
        "data": "d",
        "evaluation": "hold-out",
        "settings": {"image_size": 96, "epochs": 10, "batch_size": 16, "seed": 0},
        "models": [row],
    }
    table = render_table(document)
    assert "| simple_cnn | none | 75.0 % (60.0-86.0) |" in table
    assert "4 of 4" in table and "1.5 min" in table
    assert "40 test images from 12 patients" in table


def _verdict_row(model: str, interval: list[float], classes: int, matrix=None) -> dict:
    accuracy = {"value": sum(interval) / 2, "ci95": interval}
    row = {"model": model, "accuracy": accuracy, "classes_predicted": classes}
    if matrix is not None:
        row["confusion_matrix"] = matrix
    return row


def test_the_learning_verdict_is_computed_from_the_rows():
    rows = [
        _verdict_row("simple_cnn", [0.40, 0.60], 3),
        _verdict_row("resnet50", [0.20, 0.40], 4),
        _verdict_row("efficientnetb0", [0.30, 0.50], 1),
    ]
    sentence = describe_learning(rows)
    assert "Chance is 25.0 %" in sentence
    assert "predict more than one class: simple_cnn;" in sentence
    assert "resnet50 (accuracy interval reaches chance)" in sentence
    assert "efficientnetb0 (predicts a single class)" in sentence


def test_the_sentence_says_so_when_every_model_learns():
    rows = [_verdict_row("inceptionv3", [0.43, 0.57], 4), _verdict_row("simple_cnn", [0.34, 0.54], 4)]
    sentence = describe_learning(rows)
    assert "predict more than one class: every model (inceptionv3, simple_cnn)." in sentence
    assert "do not" not in sentence


def test_chance_is_the_most_common_test_class():
    # 6 of 10 test images are NT: a model must beat 60 %, not 25 %.
    matrix = [[6, 0, 0, 0], [2, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]
    row = _verdict_row("inceptionv3", [0.45, 0.75], 2, matrix)
    assert chance_accuracy(row) == pytest.approx(0.6)
    assert not learns(row)
    assert "do not: inceptionv3 (accuracy interval reaches chance)" in describe_learning([row])


def test_a_near_collapse_is_named_with_its_share():
    row = _verdict_row("efficientnetb0", [0.18, 0.36], 4)
    row["predicted_counts"] = {"NT": 3, "CLE": 5, "PSE": 85, "PLE": 3}
    assert dominant_class(row) == ("PSE", pytest.approx(85 / 96))
    sentence = describe_learning([row, _verdict_row("simple_cnn", [0.34, 0.54], 4)])
    assert "one class): efficientnetb0 (PSE 89 %)." in sentence
    assert "simple_cnn (" not in sentence
