"""The paper's protocol: `--split image` next to the default patient split, its warning, its table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.compare import main as compare_main
from training.comparison_table import render_table
from training.report import render_report
from training.runs import load_split_paths
from training.settings import TrainSettings, load_settings, save_settings
from training.split_comparison import (
    accuracy_gain,
    build_split_comparison,
    render_split_comparison,
    write_split_comparison,
)

COMMITTED = Path(__file__).parents[2] / "training" / "results" / "split_protocol"
TINY_RUN = ["--weights", "none", "--image-size", "32", "--epochs", "1", "--batch-size", "8"]


def patients_of(split_paths: dict[str, list[str]], part: str) -> set[str]:
    """Patient ids from the tiny data set's file names (``CLASS/PATIENT_sNN.png``)."""
    return {Path(path).name.split("_s")[0] for path in split_paths[part]}


def _row(model: str, value: float, interval: list[float], seconds: float = 60.0) -> dict:
    return {
        "model": model,
        "weights": "none",
        "accuracy": {"value": value, "ci95": interval},
        "f1": {"value": value - 0.05},
        "classes_predicted": 4,
        "epochs_trained": 10,
        "training_seconds": seconds,
        "test_images": 80,
        "test_patients": 16,
    }


def _document(split: str, rows: list[dict], seen: int) -> dict:
    return {
        "command": "emphysema compare --data d --out o --split patient,image",
        "data_made_by": "emphysema synth --out d --patients 72",
        "data": "d",
        "evaluation": f"one {split} hold-out",
        "split": split,
        "test_patients_seen_in_training": seen,
        "settings": {"image_size": 96, "epochs": 40, "batch_size": 16, "seed": 0, "split": split},
        "models": rows,
    }


def test_the_split_is_a_setting_saved_with_the_run_and_old_runs_read_as_patient(tmp_path: Path):
    assert TrainSettings().split == "patient"  # the default stays patient-grouped
    save_settings(TrainSettings(split="image", data=str(tmp_path)), tmp_path / "settings.json")
    assert json.loads((tmp_path / "settings.json").read_text())["split"] == "image"
    assert load_settings(tmp_path / "settings.json").split == "image"
    values = TrainSettings().to_dict()
    del values["split"]  # a settings.json written before the split was a setting
    (tmp_path / "old.json").write_text(json.dumps(values))
    assert load_settings(tmp_path / "old.json").split == "patient"
    with pytest.raises(ValueError, match="split must be one of patient, image, got 'slice'"):
        TrainSettings(split="slice")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--split", "slice"], "--split takes patient, image or patient,image; got 'slice'"),
        (["--split", "image,image"], "--split takes"),
        (["--split", "image", "--folds", "2"], "--folds needs --split patient"),
    ],
)
def test_bad_split_requests_are_refused_before_any_training(tmp_path: Path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        compare_main(["--data", str(tmp_path), "--out", str(tmp_path / "runs"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_reports_and_tables_of_an_image_split_carry_the_warning_and_the_shared_patients():
    metrics = {
        "classes": ["NT"],
        "count": 8,
        "accuracy": {"value": 0.9, "ci95": [0.6, 0.98], "bootstrap_ci95": [0.5, 1.0]},
        "macro": {
            name: {"value": 0.9, "ci95": [0.8, 1.0]} for name in ("precision", "recall", "f1", "roc_auc")
        },
        "bootstrap": {"unit": "patient", "samples": 10, "groups": 6, "seed": 0},
        "per_class": {
            "NT": {"support": 8, **{n: {"value": 0.9} for n in ("precision", "recall", "f1", "roc_auc")}}
        },
        "confusion_matrix": [[8]],
        "predicted_counts": {"NT": 8},
    }
    run = {"name": "r", "architecture": "simple_cnn", "image_size": 32, "weights": "none", "data": "d"}
    image_report = render_report(
        metrics, {**run, "test_patients": 6, "split": "image", "test_patients_seen_in_training": 5}
    )
    assert (
        "Warning: image-level split" in image_report
        and "5 of these patients also have slices in training" in image_report
    )
    patient_report = render_report(
        metrics, {**run, "test_patients": 6}
    )  # a run folder from before the setting
    assert "Warning" not in patient_report and "no patient is in both training and test" in patient_report

    row = {**_row("simple_cnn", 0.9, [0.8, 0.95]), "precision": {"value": 0.9}, "recall": {"value": 0.9}}
    row["roc_auc"] = {"value": 0.95}
    image_table = render_table(_document("image", [row], seen=16))
    assert "Warning: image-level split" in image_table
    assert "16 of whom also have slices in training" in image_table
    patient_table = render_table(_document("patient", [row], seen=0))
    assert "Warning" not in patient_table and "none of whom any model saw in training" in patient_table


def test_the_accuracy_gain_has_newcombes_interval():
    gain = accuracy_gain(_row("m", 0.9, [0.8, 0.95]), _row("m", 0.5, [0.4, 0.6]))
    assert gain["value"] == pytest.approx(0.4)
    # lower: the image estimate's lower arm and the patient estimate's upper arm, and vice versa
    assert gain["ci95"] == pytest.approx([0.4 - (0.1**2 + 0.1**2) ** 0.5, 0.4 + (0.05**2 + 0.1**2) ** 0.5])


def test_the_side_by_side_table_is_rendered_from_its_json_and_explains_the_gain(tmp_path: Path):
    documents = {
        "patient": _document(
            "patient", [_row("simple_cnn", 0.45, [0.35, 0.55]), _row("inceptionv3", 0.30, [0.21, 0.41])], 0
        ),
        "image": _document(
            "image", [_row("simple_cnn", 0.85, [0.76, 0.91]), _row("inceptionv3", 0.80, [0.70, 0.87])], 16
        ),
    }
    document = build_split_comparison(documents, "emphysema compare --split patient,image")
    assert document["cpu"]["model"] and document["cpu"]["cores"] >= 1
    simple = document["models"][0]
    assert simple["accuracy_gain"]["value"] == pytest.approx(0.40)
    assert simple["share_of_distance_to_paper"] == pytest.approx(0.40 / (0.9888 - 0.45))
    table = write_split_comparison(document, tmp_path)
    assert table == (tmp_path / "comparison.md").read_text()
    assert table == render_split_comparison(json.loads((tmp_path / "comparison.json").read_text()))
    assert "Warning: the image-split column" in table
    assert "| simple_cnn | none | 45.0 % (35.0-55.0) | 85.0 % (76.0-91.0) | +40.0 (" in table
    assert "covers 74 % of the way from its patient-split accuracy to the paper's 98.88 %" in table
    assert "80 test images from 16 patients, 16 of them with other slices in training" in table

    with pytest.raises(ValueError, match="different settings"):
        build_split_comparison({**documents, "image": {**documents["image"], "settings": {"epochs": 1}}}, "c")
    with pytest.raises(ValueError, match="the patient and the image split"):
        build_split_comparison({"image": documents["image"]}, "c")


def test_the_committed_split_table_is_its_json_rendered_and_shows_the_leak():
    document = json.loads((COMMITTED / "comparison.json").read_text())
    assert (COMMITTED / "comparison.md").read_text() == render_split_comparison(document)
    assert {"simple_cnn", "inceptionv3"} <= {row["model"] for row in document["models"]}
    assert document["cpu"]["model"]
    assert document["splits"]["patient"]["test_patients_seen_in_training"] == 0
    assert document["splits"]["image"]["test_patients_seen_in_training"] > 0
    for row in document["models"]:
        assert row["patient"]["test_images"] == row["image"]["test_images"]  # same test set size


@pytest.mark.slow
def test_train_with_the_image_split_warns_and_records_it(tiny_dataset: Path, tmp_path: Path, capsys):
    from training.train import main as train_main

    out = tmp_path / "image_run"
    assert (
        train_main(
            [
                "--data",
                str(tiny_dataset),
                "--architecture",
                "simple_cnn",
                "--out",
                str(out),
                "--split",
                "image",
                *TINY_RUN,
            ]
        )
        == 0
    )
    assert "WARNING: --split image puts slices of the same patient" in capsys.readouterr().err
    assert load_settings(out / "settings.json").split == "image"
    split = load_split_paths(out / "split.json")
    seen = patients_of(split, "train") & patients_of(split, "test")
    assert seen
    assert json.loads((out / "metrics.json").read_text())["run"]["test_patients_seen_in_training"] == len(
        seen
    )
    assert "Warning: image-level split" in (out / "report.md").read_text()


@pytest.mark.slow
def test_compare_runs_both_splits_on_the_same_data_and_settings(tiny_dataset: Path, tmp_path: Path, capsys):
    argv = [
        "--data",
        str(tiny_dataset),
        "--architectures",
        "simple_cnn",
        "--out",
        str(tmp_path),
        "--split",
        "patient,image",
    ]
    assert compare_main([*argv, *TINY_RUN]) == 0
    assert "WARNING: --split image" in capsys.readouterr().err
    settings = {
        kind: load_settings(tmp_path / kind / "simple_cnn" / "settings.json") for kind in ("patient", "image")
    }
    assert settings["patient"].split == "patient" and settings["image"].split == "image"
    assert {**settings["image"].to_dict(), "split": "patient"} == settings["patient"].to_dict()
    splits = {kind: load_split_paths(tmp_path / kind / "simple_cnn" / "split.json") for kind in settings}
    assert not patients_of(splits["patient"], "train") & patients_of(splits["patient"], "test")
    assert patients_of(splits["image"], "train") & patients_of(splits["image"], "test")
    document = json.loads((tmp_path / "comparison.json").read_text())
    assert document["splits"]["image"]["test_patients_seen_in_training"] > 0
    assert (tmp_path / "comparison.md").read_text() == render_split_comparison(document)
