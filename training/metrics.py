"""Classification metrics with confidence intervals, in pure numpy (export reuses them without Keras).

``compute_metrics`` returns a JSON-ready dict. Every estimate is ``{"value": v, "ci95": [low, high]}``:
accuracy's interval is Wilson's score interval (images taken as independent, the convention papers
report); every other interval, and ``accuracy.bootstrap_ci95``, is a percentile bootstrap that
resamples patients when ``groups`` (patient ids) are given — the honest choice, since slices of one
patient are correlated. Macro averages follow scikit-learn: the mean over the classes that occur in
the truth or the predictions; an undefined precision/recall counts 0 (``zero_division=0``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from imaging.contract import CLASS_NAMES
from training.bootstrap import (
    percentile_interval,
    resample_weights,
    scores_from_confusions,
    weighted_auc,
    weighted_confusions,
)

Z_95 = 1.959963984540054  # the standard normal quantile for a two-sided 95 % interval


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / total``.

    Raises:
        ValueError: ``total`` is not positive or ``successes`` is outside ``[0, total]``.
    """
    if total <= 0 or not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total and total > 0, got {successes}/{total}")
    proportion = successes / total
    denominator = 1 + z * z / total
    centre = (proportion + z * z / (2 * total)) / denominator
    half_width = (
        z * math.sqrt(proportion * (1 - proportion) / total + z * z / (4 * total * total)) / denominator
    )
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def _check_inputs(y_true: np.ndarray, probabilities: np.ndarray, class_count: int) -> None:
    if probabilities.ndim != 2 or probabilities.shape[1] != class_count:
        raise ValueError(f"probabilities must have shape (N, {class_count}), got {probabilities.shape}")
    if y_true.ndim != 1 or len(y_true) != len(probabilities) or len(y_true) == 0:
        raise ValueError(
            f"y_true must be 1-D with one label per row, got {y_true.shape} for {probabilities.shape}"
        )
    if y_true.min() < 0 or y_true.max() >= class_count:
        raise ValueError(f"labels must be class indices in [0, {class_count}), got {np.unique(y_true)}")
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("probabilities contain NaN or infinite values")


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Mean of the finite entries of each row; NaN for a row with none (without numpy's warning)."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=-1)
    totals = np.where(finite, values, 0.0).sum(axis=-1)
    return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _macro(per_class: np.ndarray, present: np.ndarray) -> np.ndarray:
    return _nanmean_rows(np.where(present, per_class, np.nan))


def _estimate(value: float, interval: Sequence[float | None]) -> dict:
    value = None if value is None or not math.isfinite(value) else float(value)
    return {"value": value, "ci95": list(interval)}


def compute_metrics(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    severities: Sequence[str | None] | None = None,
    *,
    groups: Sequence[str] | None = None,
    bootstrap_samples: int = 1000,
    seed: int = 0,
    class_names: Sequence[str] = CLASS_NAMES,
) -> dict:
    """Compute accuracy, macro and per-class precision/recall/F1, one-vs-rest ROC-AUC, with 95 % CIs.

    Args:
        y_true: ``(N,)`` true class indices.
        probabilities: ``(N, C)`` predicted class probabilities (the prediction is the argmax).
        severities: optional ``(N,)`` severity labels; adds accuracy by severity (None/"" skipped).
        groups: optional ``(N,)`` patient ids for the patient-level bootstrap.
        bootstrap_samples: number of bootstrap resamples (0 skips the bootstrap intervals).
        seed: the bootstrap's random seed.
        class_names: names of the ``C`` classes, in output order.

    Returns:
        A JSON-ready dict with ``count``, ``accuracy``, ``macro``, ``per_class``,
        ``confusion_matrix`` (rows true, columns predicted), ``predicted_counts``, ``bootstrap``
        and, with severities, ``by_severity``.
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    probabilities = np.asarray(probabilities, dtype=float)
    class_count = len(class_names)
    _check_inputs(y_true, probabilities, class_count)
    y_pred = probabilities.argmax(axis=1)
    ones = np.ones((1, len(y_true)))
    confusion = weighted_confusions(y_true, y_pred, ones, class_count)
    scores = scores_from_confusions(confusion)
    present = (confusion.sum(axis=-1) + confusion.sum(axis=-2)) > 0
    aucs = np.stack(
        [weighted_auc(y_true == c, probabilities[:, c], ones) for c in range(class_count)], axis=-1
    )

    group_ids = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    if len(group_ids) != len(y_true):
        raise ValueError(f"groups must have one entry per row, got {len(group_ids)} for {len(y_true)}")
    intervals: dict[str, np.ndarray] = {}
    if bootstrap_samples > 0:
        weights = resample_weights(group_ids, bootstrap_samples, seed)
        resampled = weighted_confusions(y_true, y_pred, weights, class_count)
        intervals = scores_from_confusions(resampled)
        resampled_present = (resampled.sum(axis=-1) + resampled.sum(axis=-2)) > 0
        intervals["roc_auc"] = np.stack(
            [weighted_auc(y_true == c, probabilities[:, c], weights) for c in range(class_count)], axis=-1
        )
        for name in ("precision", "recall", "f1"):
            intervals[f"macro_{name}"] = _macro(intervals[name], resampled_present)
        intervals["macro_roc_auc"] = _nanmean_rows(intervals["roc_auc"])

    def interval(name: str, column: int | None = None) -> list[float | None]:
        if name not in intervals:
            return [None, None]
        values = intervals[name] if column is None else intervals[name][:, column]
        return percentile_interval(values)

    correct = int((y_true == y_pred).sum())
    accuracy = _estimate(correct / len(y_true), wilson_interval(correct, len(y_true)))
    accuracy["bootstrap_ci95"] = interval("accuracy")
    macro = {
        name: _estimate(_macro(scores[name], present)[0], interval(f"macro_{name}"))
        for name in ("precision", "recall", "f1")
    }
    macro["roc_auc"] = _estimate(_nanmean_rows(aucs)[0], interval("macro_roc_auc"))
    per_class = {
        class_name: {
            **{
                name: _estimate(scores[name][0, c], interval(name, c))
                for name in ("precision", "recall", "f1")
            },
            "roc_auc": _estimate(aucs[0, c], interval("roc_auc", c)),
            "support": int((y_true == c).sum()),
        }
        for c, class_name in enumerate(class_names)
    }
    metrics = {
        "count": len(y_true),
        "classes": list(class_names),
        "accuracy": accuracy,
        "macro": macro,
        "per_class": per_class,
        "confusion_matrix": confusion[0].astype(int).tolist(),
        "predicted_counts": {name: int((y_pred == c).sum()) for c, name in enumerate(class_names)},
        "bootstrap": {
            "samples": bootstrap_samples,
            "unit": "image" if groups is None else "patient",
            "groups": len(np.unique(group_ids)),
            "seed": seed,
        },
    }
    if severities is not None:
        metrics["by_severity"] = accuracy_by_severity(y_true, y_pred, severities)
    return metrics


def accuracy_by_severity(y_true: np.ndarray, y_pred: np.ndarray, severities: Sequence[str | None]) -> dict:
    """Accuracy (Wilson 95 % CI) for each severity label, skipping images without one."""
    if len(severities) != len(y_true):
        raise ValueError(f"severities must have one entry per row, got {len(severities)} for {len(y_true)}")
    labels = np.array(["" if value is None else str(value) for value in severities])
    result = {}
    for severity in sorted(set(labels) - {""}):
        chosen = labels == severity
        correct, total = int((y_true[chosen] == y_pred[chosen]).sum()), int(chosen.sum())
        result[severity] = {
            "count": total,
            "accuracy": _estimate(correct / total, wilson_interval(correct, total)),
        }
    return result
