"""`emphysema evaluate`: score a run folder's model on its own patient-grouped test split.

It reloads ``model.keras`` and the test images from the files named in ``split.json``, so the
numbers describe the saved artefact, not the in-memory model that trained. It writes
``metrics.json``, ``report.md``, ``confusion_matrix.png`` and ``predictions.csv`` into the run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imaging.contract import CLASS_NAMES
from training.metrics import compute_metrics
from training.plots import plot_confusion_matrix
from training.report import console_summary, format_estimate, render_report
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

__all__ = ["compute_metrics", "evaluate_run", "main", "predict_probabilities"]


def predict_probabilities(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Run the model on uint8 ``(N, S, S, 1)`` images and return ``(N, 4)`` float probabilities."""
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), dtype=np.float64)


def evaluate_run(
    run_dir: Path, data: Path | None = None, bootstrap_samples: int | None = None, run_name: str | None = None
) -> dict:
    """Evaluate ``run_dir`` on its test split and write the metrics, report and confusion matrix.

    Args:
        run_dir: a run folder written by ``emphysema train``.
        data: the data set root, when it moved since training (default: the one in settings.json).
        bootstrap_samples: resamples for the bootstrap intervals (default: the run's setting).
        run_name: the name shown in the report (default: the folder's name).

    Returns:
        The metrics dict also written to ``metrics.json``.
    """
    run = read_run(run_dir, data)
    settings, data_root = run.settings, run.data_root
    part = run.evaluation_part  # the test split, or validation when trained with --test-fraction 0
    test_samples = run.samples(part)
    # Counted, not assumed from the setting: the figure an image split's warning rests on.
    training_patients = {sample.patient_id for sample in run.samples("train")}
    images, labels = run.load_part(part)
    model = run.load_model()
    probabilities = predict_probabilities(model, images, settings.batch_size)
    metrics = compute_metrics(
        labels,
        probabilities,
        severities=[sample.severity for sample in test_samples],
        groups=[str(sample.patient_id) for sample in test_samples],
        bootstrap_samples=settings.bootstrap_samples if bootstrap_samples is None else bootstrap_samples,
        seed=settings.seed,
    )
    facts = {
        "name": run_name or run.folder.name,
        "architecture": settings.architecture,
        "image_size": settings.image_size,
        "weights": settings.resolved_weights,
        "data": str(data_root),
        "test_patients": metrics["bootstrap"]["groups"],
        "evaluated_on": part,
        "split": settings.split,
        "test_patients_seen_in_training": len(
            {sample.patient_id for sample in test_samples} & training_patients
        ),
        **summarize_history(run.folder / HISTORY_FILE),
    }
    metrics["run"] = facts
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        CLASS_NAMES,
        run.folder / CONFUSION_FILE,
        f"{settings.architecture}: accuracy {format_estimate(metrics['accuracy'])}",
    )
    write_predictions(run.folder / PREDICTIONS_FILE, test_samples, data_root, probabilities, CLASS_NAMES)
    write_text_atomically(run.folder / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    write_text_atomically(run.folder / REPORT_FILE, render_report(metrics, facts))
    return metrics


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema evaluate` command line."""
    parser = argparse.ArgumentParser(
        prog="emphysema evaluate", description="Evaluate a run folder on its patient-grouped test split."
    )
    parser.add_argument(
        "--run", type=Path, required=True, help="run folder written by `emphysema train` (required)"
    )
    parser.add_argument(
        "--data", type=Path, help="data set root, if it moved since training (default: the run's own)"
    )
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples (default: the run's setting)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema evaluate --run runs/NAME [--data DIR] [--bootstrap N]`."""
    arguments = build_parser().parse_args(argv)
    metrics = evaluate_run(arguments.run, arguments.data, arguments.bootstrap)
    part = metrics["run"]["evaluated_on"]
    print(
        f"{part} accuracy {format_estimate(metrics['accuracy'])} on {metrics['count']} {part} images; "
        f"report: {arguments.run / REPORT_FILE}"
    )
    print("\n".join(console_summary(metrics)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
