"""Score a model's probabilities on labelled slices and write the results: the run's own test split.

``evaluate_run`` reloads ``model.keras`` and the test images from the files named in
``split.json``, so the numbers describe the saved artefact, not the in-memory model that trained.
``write_evaluation`` is the one place that turns probabilities into ``metrics.json``,
``report.md``, ``confusion_matrix.png`` and ``predictions.csv``; external validation
(``evaluation.external``) writes its report folder through it too. The command line is
``evaluation.command`` (`emphysema evaluate`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imaging.contract import CLASS_NAMES
from imaging.dataset import is_phantom, labels_to_indices
from imaging.samples import Sample
from training.metrics import compute_metrics
from training.plots import plot_confusion_matrix
from training.report import format_estimate, render_report
from training.run_folder import read_run
from training.runs import (
    CONFUSION_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    PREDICTIONS_FILE,
    REPORT_FILE,
    summarize_history,
    write_predictions,
    write_text_atomically,
)

__all__ = ["compute_metrics", "evaluate_run", "predict_probabilities", "write_evaluation"]


def predict_probabilities(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Run the model on uint8 ``(N, S, S, 1)`` images and return ``(N, 4)`` float probabilities."""
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), dtype=np.float64)


def write_evaluation(
    folder: Path,
    samples: Sequence[Sample],
    data_root: Path,
    probabilities: np.ndarray,
    facts: dict,
    *,
    bootstrap_samples: int,
    seed: int,
) -> dict:
    """Compute the metrics of ``probabilities`` against ``samples`` and write them into ``folder``.

    Args:
        folder: where ``metrics.json``, ``report.md``, ``confusion_matrix.png`` and ``predictions.csv`` go.
        samples: the scored slices, in the order of ``probabilities``.
        data_root: the data set they come from (paths in predictions.csv are relative to it).
        probabilities: ``(N, 4)``.
        facts: what the report says about the model and data (see ``training.report.render_report``).
        bootstrap_samples: resamples for the patient bootstrap intervals.
        seed: the bootstrap's seed.

    Returns:
        The metrics dict written to ``metrics.json``, with ``facts`` under ``"run"``.
    """
    metrics = compute_metrics(
        labels_to_indices(samples),
        probabilities,
        severities=[sample.severity for sample in samples],
        groups=[str(sample.patient_id) for sample in samples],
        bootstrap_samples=bootstrap_samples,
        seed=seed,
    )
    facts = {"phantom": is_phantom(data_root), **facts, "test_patients": metrics["bootstrap"]["groups"]}
    metrics["run"] = facts
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        CLASS_NAMES,
        folder / CONFUSION_FILE,
        f"{facts['architecture']}: accuracy {format_estimate(metrics['accuracy'])}",
    )
    write_predictions(folder / PREDICTIONS_FILE, samples, data_root, probabilities, CLASS_NAMES)
    write_text_atomically(folder / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    write_text_atomically(folder / REPORT_FILE, render_report(metrics, facts))
    return metrics


def evaluate_run(
    run_dir: Path,
    data: Path | None = None,
    bootstrap_samples: int | None = None,
    run_name: str | None = None,
    progress: bool = True,
) -> dict:
    """Evaluate ``run_dir`` on its test split and write the metrics, report and confusion matrix.

    Args:
        run_dir: a run folder written by ``emphysema train``.
        data: the data set root, when it moved since training (default: the one in settings.json).
        bootstrap_samples: resamples for the bootstrap intervals (default: the run's setting).
        run_name: the name shown in the report (default: the folder's name).
        progress: show the reading's progress bar.

    Returns:
        The metrics dict also written to ``metrics.json``.
    """
    run = read_run(run_dir, data)
    settings = run.settings
    part = run.evaluation_part  # the test split, or validation when trained with --test-fraction 0
    test_samples = run.samples(part)
    # Counted, not assumed from the setting: the figure an image split's warning rests on.
    training_patients = {sample.patient_id for sample in run.samples("train")}
    images, _ = run.load_part(part, progress=progress)
    probabilities = predict_probabilities(run.load_model(), images, settings.batch_size)
    facts = {
        "name": run_name or run.folder.name,
        "architecture": settings.architecture,
        "image_size": settings.image_size,
        "weights": settings.resolved_weights,
        "data": str(run.data_root),
        "evaluated_on": part,
        "split": settings.split,
        "test_patients_seen_in_training": len(
            {sample.patient_id for sample in test_samples} & training_patients
        ),
        **summarize_history(run.folder / HISTORY_FILE),
    }
    return write_evaluation(
        run.folder,
        test_samples,
        run.data_root,
        probabilities,
        facts,
        bootstrap_samples=settings.bootstrap_samples if bootstrap_samples is None else bootstrap_samples,
        seed=settings.seed,
    )
