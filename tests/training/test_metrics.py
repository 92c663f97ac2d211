"""compute_metrics against scikit-learn, the Wilson interval by hand, and the patient bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from training.evaluate import compute_metrics
from training.metrics import wilson_interval

# A hand-made prediction set: 12 images, every class present, ties in the scores, one class (PLE)
# never predicted (its precision is undefined and counts 0, as scikit-learn's zero_division=0).
Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
PROBABILITIES = np.array(
    [
        [0.70, 0.10, 0.10, 0.10],
        [0.40, 0.30, 0.20, 0.10],
        [0.20, 0.50, 0.20, 0.10],
        [0.10, 0.80, 0.05, 0.05],
        [0.30, 0.40, 0.20, 0.10],
        [0.25, 0.25, 0.40, 0.10],
        [0.10, 0.10, 0.70, 0.10],
        [0.20, 0.20, 0.50, 0.10],
        [0.40, 0.10, 0.40, 0.10],
        [0.30, 0.20, 0.20, 0.30],
        [0.10, 0.20, 0.60, 0.10],
        [0.45, 0.05, 0.05, 0.45],
    ]
)


def test_point_metrics_equal_scikit_learn():
    metrics = compute_metrics(Y_TRUE, PROBABILITIES, bootstrap_samples=0)
    y_pred = PROBABILITIES.argmax(axis=1)
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(Y_TRUE, y_pred))
    for name, function in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        assert metrics["macro"][name]["value"] == pytest.approx(
            function(Y_TRUE, y_pred, average="macro", zero_division=0)
        )
        per_class = function(Y_TRUE, y_pred, average=None, zero_division=0)
        for index, class_name in enumerate(metrics["classes"]):
            assert metrics["per_class"][class_name][name]["value"] == pytest.approx(per_class[index])
    assert metrics["macro"]["roc_auc"]["value"] == pytest.approx(
        roc_auc_score(Y_TRUE, PROBABILITIES, multi_class="ovr", average="macro")
    )
    for index, class_name in enumerate(metrics["classes"]):
        assert metrics["per_class"][class_name]["roc_auc"]["value"] == pytest.approx(
            roc_auc_score(Y_TRUE == index, PROBABILITIES[:, index])
        )
        assert metrics["per_class"][class_name]["support"] == 3
    assert metrics["confusion_matrix"] == confusion_matrix(Y_TRUE, y_pred).tolist()
    assert metrics["predicted_counts"]["PLE"] == 0


def test_wilson_interval_matches_hand_computed_values():
    # 8/10 by hand: p = 0.8, z^2 = 3.841459; centre = (0.8 + 0.192073) / 1.384146 = 0.716741;
    # half = 1.959964 * sqrt(0.016 + 0.009604) / 1.384146 = 0.226572.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490162, abs=1e-5)
    assert high == pytest.approx(0.943318, abs=1e-5)
    # The paper's 89/90 (98.88 %) and EfficientNet's 13/90 (14.44 %), as in the research notes.
    assert [round(100 * bound, 1) for bound in wilson_interval(89, 90)] == [94.0, 99.8]
    assert [round(100 * bound, 1) for bound in wilson_interval(13, 90)] == [8.6, 23.2]
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_intervals_contain_the_estimate_and_are_reproducible():
    groups = [f"patient{index // 2}" for index in range(len(Y_TRUE))]
    first = compute_metrics(Y_TRUE, PROBABILITIES, groups=groups, bootstrap_samples=300, seed=5)
    second = compute_metrics(Y_TRUE, PROBABILITIES, groups=groups, bootstrap_samples=300, seed=5)
    assert first == second
    assert first["bootstrap"] == {"samples": 300, "unit": "patient", "groups": 6, "seed": 5}
    accuracy = first["accuracy"]
    assert accuracy["ci95"][0] <= accuracy["value"] <= accuracy["ci95"][1]
    for name in ("precision", "recall", "f1", "roc_auc"):
        low, high = first["macro"][name]["ci95"]
        assert 0.0 <= low <= high <= 1.0


def test_patient_bootstrap_is_wider_than_image_bootstrap_for_correlated_slices():
    # 20 patients x 5 slices; every slice of a patient is right, or every one is wrong: the
    # effective sample is 20 patients, not 100 images, and the interval must show it.
    patients = np.repeat(np.arange(20), 5)
    patient_correct = np.arange(20) % 5 != 0  # 16 of 20 patients right, one wrong in each class
    y_true = np.repeat(np.arange(20) % 4, 5)
    y_pred = np.where(patient_correct[patients], y_true, (y_true + 1) % 4)
    probabilities = np.eye(4)[y_pred] * 0.7 + 0.075
    by_image = compute_metrics(y_true, probabilities, bootstrap_samples=2000, seed=1)
    by_patient = compute_metrics(
        y_true, probabilities, groups=patients.astype(str), bootstrap_samples=2000, seed=1
    )
    width = lambda interval: interval[1] - interval[0]  # noqa: E731
    assert width(by_patient["accuracy"]["bootstrap_ci95"]) > 1.5 * width(
        by_image["accuracy"]["bootstrap_ci95"]
    )
    assert width(by_patient["macro"]["recall"]["ci95"]) > 1.5 * width(by_image["macro"]["recall"]["ci95"])


def test_accuracy_by_severity_counts_and_skips_ungraded():
    severities = [
        None,
        "",
        None,
        "mild",
        "mild",
        "severe",
        "mild",
        "severe",
        "severe",
        "mild",
        "mild",
        "severe",
    ]
    metrics = compute_metrics(Y_TRUE, PROBABILITIES, severities, bootstrap_samples=0)
    mild = [index for index, value in enumerate(severities) if value == "mild"]
    correct = int(sum(PROBABILITIES[index].argmax() == Y_TRUE[index] for index in mild))
    assert set(metrics["by_severity"]) == {"mild", "severe"}
    assert metrics["by_severity"]["mild"]["count"] == len(mild)
    assert metrics["by_severity"]["mild"]["accuracy"]["value"] == pytest.approx(correct / len(mild))


def test_a_missing_class_gives_undefined_auc_not_a_crash():
    y_true = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1, 0, 0], [0.6, 0.4, 0, 0], [0.3, 0.7, 0, 0], [0.2, 0.8, 0, 0]])
    metrics = compute_metrics(y_true, probabilities, bootstrap_samples=50)
    assert metrics["per_class"]["PSE"]["roc_auc"]["value"] is None
    assert metrics["macro"]["roc_auc"]["value"] == pytest.approx(1.0)
    assert metrics["macro"]["precision"]["value"] == pytest.approx(1.0)  # sklearn: only classes that occur
    assert not math.isnan(metrics["accuracy"]["value"])


@pytest.mark.parametrize(
    ("y_true", "probabilities", "message"),
    [
        ([0, 1], np.ones((2, 3)) / 3, "shape"),
        ([0, 4], np.ones((2, 4)) / 4, "class indices"),
        ([0], np.ones((2, 4)) / 4, "one label per row"),
        ([0, 1], np.array([[np.nan, 0, 0, 1], [0, 1, 0, 0]]), "NaN"),
    ],
)
def test_bad_inputs_are_refused_clearly(y_true, probabilities, message):
    with pytest.raises(ValueError, match=message):
        compute_metrics(np.array(y_true), probabilities)
