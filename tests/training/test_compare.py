"""`emphysema compare`: several models on one shared patient-grouped split, and K-fold pooling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.compare import main as compare_main
from training.compare import parse_models
from training.comparison_table import render_table
from training.runs import load_split_paths


@pytest.mark.slow
def test_compare_trains_on_one_shared_split_and_writes_table_i(tiny_dataset: Path, tmp_path: Path):
    out, results = tmp_path / "runs", tmp_path / "results"
    argv = [
        "--data",
        str(tiny_dataset),
        "--models",
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
def test_compare_with_folds_pools_every_patient_once(tiny_dataset: Path, tmp_path: Path):
    argv = [
        "--data",
        str(tiny_dataset),
        "--models",
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
