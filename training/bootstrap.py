"""Bootstrap confidence intervals that resample patients, not images.

Slices of one patient are correlated (adjacent slices are near-duplicates), so resampling images
would pretend there is more independent evidence than there is and give intervals that are too
narrow. Each resample draws patients with replacement and takes all of their images. With no
patient ids every image is its own group (the ordinary image bootstrap).

Everything is vectorised: a resample is a vector of per-image weights (how often its patient was
drawn), so a confusion matrix is a weighted sum and ROC-AUC a weighted Mann-Whitney statistic.
"""

from __future__ import annotations

import numpy as np


def resample_weights(groups: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Return ``(samples, N)`` image weights: how many times each image's group was drawn."""
    _, group_index = np.unique(groups, return_inverse=True)
    group_count = int(group_index.max()) + 1
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, group_count, size=(samples, group_count))
    group_weights = np.zeros((samples, group_count))
    np.add.at(group_weights, (np.arange(samples)[:, None], drawn), 1.0)
    return group_weights[:, group_index]


def weighted_confusions(
    y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray, classes: int
) -> np.ndarray:
    """Return ``(samples, classes, classes)`` confusion matrices (rows true, columns predicted)."""
    cell = y_true * classes + y_pred
    one_hot = np.zeros((len(cell), classes * classes))
    one_hot[np.arange(len(cell)), cell] = 1.0
    return (weights @ one_hot).reshape(-1, classes, classes)


def scores_from_confusions(confusions: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall and F1 per class, with 0 where undefined (scikit-learn's zero_division=0)."""
    true_positive = np.diagonal(confusions, axis1=-2, axis2=-1)
    predicted = confusions.sum(axis=-2)
    actual = confusions.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, 0.0)
    total = confusions.sum(axis=(-2, -1))
    accuracy = true_positive.sum(axis=-1) / np.where(total > 0, total, 1.0)
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def weighted_auc(is_positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC-AUC for each row of ``weights`` (NaN where a side has no weight).

    AUC = P(score of a positive > score of a negative) + 0.5 P(tie), which is what the trapezoidal
    ROC area (scikit-learn) equals.
    """
    weights = np.atleast_2d(weights)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    positive = is_positive[order].astype(float)
    positive_weights = weights[:, order] * positive
    negative_weights = weights[:, order] * (1.0 - positive)
    # Tie blocks: images with equal scores share "negatives below" and count ties half.
    _, block_start, block_index = np.unique(sorted_scores, return_index=True, return_inverse=True)
    negative_cumulative = np.concatenate(
        [np.zeros((len(weights), 1)), np.cumsum(negative_weights, axis=1)], axis=1
    )
    block_end = np.append(block_start[1:], len(scores))
    below = negative_cumulative[:, block_start][:, block_index]
    equal = (negative_cumulative[:, block_end] - negative_cumulative[:, block_start])[:, block_index]
    numerator = (positive_weights * (below + 0.5 * equal)).sum(axis=1)
    denominator = positive_weights.sum(axis=1) * negative_weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> list[float | None]:
    """The percentile bootstrap interval, ignoring resamples where the metric was undefined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [None, None]
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]
