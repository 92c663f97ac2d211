"""report.md says what the data was and calls out a collapsed model; the device is named in words."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import compute_metrics
from training.report import render_report

FACTS = {
    "name": "mine",
    "architecture": "simple_cnn",
    "image_size": 96,
    "weights": "none",
    "data": "/data/mine",
}


def metrics_predicting(predicted: list[int]) -> dict:
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    probabilities = np.full((8, 4), 0.1)
    probabilities[np.arange(8), predicted] = 0.7
    return compute_metrics(labels, probabilities, groups=[f"p{i}" for i in range(8)], bootstrap_samples=20)


def test_a_collapsed_model_is_called_out_at_the_top_of_the_report():
    report = render_report(metrics_predicting([0] * 8), FACTS)
    lines = report.splitlines()
    assert lines[2] == (
        "**WARNING: the model predicts only 1 of 4 classes (NT) on these images: "
        "it has not learnt to tell them apart.**"
    )
    assert "WARNING" not in render_report(metrics_predicting([0, 0, 1, 1, 2, 2, 3, 3]), FACTS)


def test_the_users_own_data_is_not_called_a_phantom():
    metrics = metrics_predicting([0, 1, 1, 1, 2, 2, 3, 0])
    own = render_report(metrics, FACTS)
    assert "phantom" not in own and "`/data/mine`, the data set given; test split: 8 images" in own
    phantom = render_report(metrics, {**FACTS, "phantom": True})
    assert "the synthetic phantom (`emphysema synth`)" in phantom
    assert "Scores on the synthetic phantom say nothing about accuracy on patients." in phantom


def test_an_external_report_names_both_data_sets():
    facts = {**FACTS, "external": True, "trained_on": "/data/train", "served": "model `m` version 1 at `h:1`"}
    report = render_report(metrics_predicting([0, 1, 1, 1, 2, 2, 3, 0]), facts)
    assert (
        "External validation on `/data/mine`, the data set given: every slice, 8 images from 8 patients"
        in report
    )
    assert (
        "trained on `/data/train`" in report
        and "scored through Triton: model `m` version 1 at `h:1`" in report
    )


def test_the_device_is_named_in_words():
    tf = pytest.importorskip("tensorflow")
    from training.strategy import describe_strategy, select_strategy

    expected = "1 GPU" if len(tf.config.list_logical_devices("GPU")) == 1 else "CPU, 1 device"
    if len(tf.config.list_logical_devices("GPU")) > 1:
        expected = f"{len(tf.config.list_logical_devices('GPU'))} GPUs, mirrored"
    assert describe_strategy(select_strategy()).startswith(expected)
