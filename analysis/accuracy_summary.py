"""Accuracy over held-out studies, with 95 % intervals over studies, and its table rendered from JSON.

Tile (ROI) accuracy pools each severity's judged tiles; its interval is a percentile bootstrap
that resamples studies (tiles of one study are correlated). The share error is the mean over
studies of each study's mean absolute error over the four patterns (percentage points), with the
same bootstrap. Dominant-pattern and predominance calls are proportions of studies: Wilson
intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.bootstrap import percentile_interval
from training.metrics import wilson_interval

TARGETS = {
    "roi_accuracy_moderate_severe_min": 0.90,
    "dominant_correct_min": 0.90,
    "share_error_points_max": 5.0,
}
SEVERITY_ORDER = ("none", "trace", "mild", "moderate", "severe")
BOOTSTRAP_SAMPLES = 2000


def bootstrap_ratio(numerators: Sequence[float], denominators: Sequence[float], seed: int = 0) -> dict:
    """Return sum(numerators) / sum(denominators) with a bootstrap interval resampling studies."""
    top, bottom = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if not len(top) or bottom.sum() == 0:
        return {"value": None, "ci95": [None, None], "studies": len(top)}
    drawn = np.random.default_rng(seed).integers(0, len(top), size=(BOOTSTRAP_SAMPLES, len(top)))
    with np.errstate(invalid="ignore", divide="ignore"):
        resampled = top[drawn].sum(axis=1) / bottom[drawn].sum(axis=1)
    low, high = percentile_interval(resampled)
    return {
        "value": round(float(top.sum() / bottom.sum()), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "studies": len(top),
    }


def proportion(calls: Sequence[bool | None]) -> dict:
    """Return the share of True among the calls that are not None, with its Wilson interval."""
    made = [call for call in calls if call is not None]
    if not made:
        return {"value": None, "ci95": [None, None], "studies": 0}
    low, high = wilson_interval(sum(made), len(made))
    return {
        "value": round(sum(made) / len(made), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "studies": len(made),
        "correct": sum(made),
    }


def _group(records: list[dict]) -> dict:
    return {
        "roi_accuracy": bootstrap_ratio(
            [record["tiles"]["correct"] for record in records],
            [record["tiles"]["judged"] for record in records],
        ),
        "share_error_points": bootstrap_ratio(
            [record["share_error_points"] for record in records], [1] * len(records)
        ),
        "dominant_correct": proportion([record["dominant_correct"] for record in records]),
        "dominant_emphysema_correct": proportion(
            [record["dominant_emphysema_correct"] for record in records]
        ),
        "predominance_correct": proportion([record["predominance_correct"] for record in records]),
        "judged_tiles": sum(record["tiles"]["judged"] for record in records),
    }


def summarise_model(records: list[dict]) -> dict:
    """Return a model's figures over all studies, per severity, and against the targets."""
    severities = sorted({record["severity"] for record in records}, key=_severity_rank)
    by_severity = {
        severity: _group([r for r in records if r["severity"] == severity]) for severity in severities
    }
    heavy = _group([record for record in records if record["severity"] in ("moderate", "severe")])
    overall = _group(records)
    confusion = np.sum([record["confusion"] for record in records], axis=0).tolist()
    checks = {
        "roi_accuracy_moderate_severe": heavy["roi_accuracy"]["value"],
        "dominant_correct": overall["dominant_correct"]["value"],
        "share_error_points": overall["share_error_points"]["value"],
    }
    met = {
        "roi_accuracy_moderate_severe": (checks["roi_accuracy_moderate_severe"] or 0)
        >= TARGETS["roi_accuracy_moderate_severe_min"],
        "dominant_correct": (checks["dominant_correct"] or 0) >= TARGETS["dominant_correct_min"],
        "share_error_points": checks["share_error_points"] is not None
        and checks["share_error_points"] <= TARGETS["share_error_points_max"],
    }
    return {
        "overall": overall,
        "moderate_and_severe": heavy,
        "by_severity": by_severity,
        "confusion": confusion,
        "targets_met": met,
    }


def choose_best(models: list[dict]) -> str:
    """Return the best model's name (how the default ROI size is chosen).

    Most targets met first; then the best mean rank over the three targeted figures (ROI accuracy
    on moderate and severe studies, dominant pattern right, share error), since any one of them
    alone can tie within noise; then ROI accuracy on moderate and severe studies.
    """

    def figures(model: dict) -> tuple[float, float, float]:
        summary = model["summary"]
        accuracy = summary["moderate_and_severe"]["roi_accuracy"]["value"] or 0.0
        dominant = summary["overall"]["dominant_correct"]["value"] or 0.0
        error = summary["overall"]["share_error_points"]["value"]
        return accuracy, dominant, -(error if error is not None else float("inf"))

    scores = [figures(model) for model in models]

    def mean_rank(index: int) -> float:
        return sum(sum(other[figure] > scores[index][figure] for other in scores) for figure in range(3)) / 3

    def rank(index: int) -> tuple:
        met = sum(models[index]["summary"]["targets_met"].values())
        return (-met, mean_rank(index), -scores[index][0])

    return models[min(range(len(models)), key=rank)]["name"]


def _severity_rank(severity: str | None) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
