"""The run folder: what a training run leaves behind, and the split it was trained on.

``runs/NAME/`` holds ``model.keras`` (the inference model), ``settings.json`` (resolved settings),
``split.json`` (which sample paths are train/validation/test, relative to the data root, so
evaluate and export use the same test images), ``history.csv``, ``training_curves.png`` and, from
evaluation, ``metrics.json``, ``report.md``, ``confusion_matrix.png`` and ``predictions.csv`` (one
row per test image, so folds can be pooled and errors audited).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import imaging.staging
from imaging.staging import check_output_folder, current_umask
from training.errors import TrainingError

MODEL_FILE = "model.keras"
SETTINGS_FILE = "settings.json"
SPLIT_FILE = "split.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
CONFUSION_FILE = "confusion_matrix.png"
PREDICTIONS_FILE = "predictions.csv"
SPLIT_PARTS: tuple[str, ...] = ("train", "validation", "test")


def relative_sample_path(path: Path, data_root: Path) -> str:
    """Return ``path`` relative to the data root (POSIX form), or absolute when it lies outside it."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path(data_root).resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def save_split(path: Path, samples: Sequence, indices: dict[str, Sequence[int]], data_root: Path) -> None:
    """Write ``split.json``: per part, the sample paths (relative to ``data_root``) and patient ids."""
    parts = {}
    for part in SPLIT_PARTS:
        chosen = [samples[int(index)] for index in indices[part]]
        parts[part] = {
            "paths": [relative_sample_path(sample.path, data_root) for sample in chosen],
            "patients": sorted({str(sample.patient_id) for sample in chosen}),
        }
    document = {"data": str(Path(data_root).resolve()), "parts": parts}
    write_text_atomically(path, json.dumps(document, indent=2) + "\n")


def load_split_paths(path: Path) -> dict[str, list[str]]:
    """Read ``split.json`` and return ``{part: [relative paths]}``."""
    try:
        document = json.loads(Path(path).read_text())
        return {part: list(document["parts"][part]["paths"]) for part in SPLIT_PARTS}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TrainingError(f"{path}: not a readable split file ({error})") from error


def summarize_history(path: Path) -> dict:
    """Return ``epochs_trained`` and ``training_seconds`` from ``history.csv`` (empty if absent)."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = sum(float(row.get("seconds") or 0.0) for row in rows)
    return {"epochs_trained": len(rows), "training_seconds": round(seconds, 1)}


def write_predictions(
    path: Path, samples: Sequence, data_root: Path, probabilities, class_names: Sequence[str]
) -> None:
    """Write one row per test image: path, patient, true label, severity, prediction, probabilities."""
    columns = ["path", "patient_id", "label", "severity", "predicted", *(f"p_{name}" for name in class_names)]
    lines = [",".join(columns)]
    for sample, row in zip(samples, probabilities, strict=True):
        predicted = class_names[int(row.argmax())]
        fields = [
            relative_sample_path(sample.path, data_root),
            str(sample.patient_id),
            sample.label,
            sample.severity or "",
            predicted,
            *(f"{value:.6f}" for value in row),
        ]
        lines.append(",".join(_csv_field(field) for field in fields))
    write_text_atomically(path, "\n".join(lines) + "\n")


def _csv_field(value: str) -> str:
    if any(character in value for character in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def read_predictions(path: Path, class_names: Sequence[str]) -> dict:
    """Read ``predictions.csv`` into ``labels``, ``probabilities``, ``patients`` and ``severities``."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        return {
            "labels": [list(class_names).index(row["label"]) for row in rows],
            "probabilities": [[float(row[f"p_{name}"]) for name in class_names] for row in rows],
            "patients": [row["patient_id"] for row in rows],
            "severities": [row["severity"] or None for row in rows],
        }
    except (OSError, KeyError, ValueError) as error:
        raise TrainingError(f"{path}: not a readable predictions file ({error})") from error


def write_text_atomically(path: Path, text: str) -> None:
    """Write a text file so readers never see it half-written."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".partial", delete=False) as handle:
        handle.write(text)
    os.chmod(handle.name, 0o666 & ~current_umask())  # tempfile makes it private; use normal permissions
    os.replace(handle.name, path)


@contextlib.contextmanager
def staged_folder(destination: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``destination`` only if the block succeeds.

    A failed or interrupted run leaves nothing at ``destination``.

    Raises:
        UsageError: ``destination`` exists and is not empty, and ``overwrite`` is False.
    """
    check_output_folder(destination, overwrite, "run folder")
    with imaging.staging.staged_folder(destination) as staging:
        yield staging
