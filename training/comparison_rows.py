"""A comparison's rows and provenance: each model's pooled test predictions, how it was tested, the data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from imaging.contract import CLASS_NAMES
from training.metrics import compute_metrics
from training.runs import HISTORY_FILE, PREDICTIONS_FILE, read_predictions, summarize_history


def describe_evaluation(split: str, folds: int, test_fraction: float) -> str:
    """How the models were tested, in words (a split of ``folds`` parts, or one hold-out part)."""
    if folds > 1:
        return f"{folds}-fold patient-grouped cross-validation (pooled out-of-fold predictions)"
    if split == "patient":
        return f"one patient-grouped hold-out test split ({test_fraction:.0%} of patients)"
    return (
        "one image-level random hold-out test split, as in the paper (as many images of each class in each "
        f"part as the patient split with {test_fraction:.0%} of patients for testing)"
    )


def synth_command(data: Path) -> str | None:
    """The `emphysema synth` command that made ``data``, from its synth_settings.json (None if absent)."""
    try:
        values = json.loads((Path(data) / "synth_settings.json").read_text())["arguments"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    options = " ".join(
        f"--{key.replace('_', '-')} {value}" for key, value in values.items() if value not in (None, False)
    )
    return f"emphysema synth --out {data} {options}"


def summarize_model(model: str, run_folders: Sequence[Path], settings) -> dict:
    """Pool a model's test predictions over its run folders and compute the table row."""
    labels, probabilities, patients, severities = [], [], [], []
    epochs, seconds = 0, 0.0
    for folder in run_folders:
        predictions = read_predictions(folder / PREDICTIONS_FILE, CLASS_NAMES)
        labels += predictions["labels"]
        probabilities += predictions["probabilities"]
        patients += predictions["patients"]  # each patient is in exactly one fold's test part
        severities += predictions["severities"]
        history = summarize_history(folder / HISTORY_FILE)
        epochs += history.get("epochs_trained", 0)
        seconds += history.get("training_seconds", 0.0)
    metrics = compute_metrics(
        labels,
        probabilities,
        severities,
        groups=patients,
        bootstrap_samples=settings.bootstrap_samples,
        seed=settings.seed,
    )
    predicted = metrics["predicted_counts"]
    return {
        "model": model,
        "weights": settings.resolved_weights,
        "test_images": metrics["count"],
        "test_patients": metrics["bootstrap"]["groups"],
        "accuracy": metrics["accuracy"],
        "precision": metrics["macro"]["precision"],
        "recall": metrics["macro"]["recall"],
        "f1": metrics["macro"]["f1"],
        "roc_auc": metrics["macro"]["roc_auc"],
        "predicted_counts": predicted,
        "classes_predicted": sum(count > 0 for count in predicted.values()),
        "confusion_matrix": metrics["confusion_matrix"],
        "epochs_trained": epochs,
        "training_seconds": round(seconds, 1),
        "run_folders": [str(folder) for folder in run_folders],
    }
