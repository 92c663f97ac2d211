"""ROIs per second through Triton against onnxruntime in process, on the same ROIs and batch sizes.

The ROIs are the model inputs a real study analysis sent to Triton (kept by
:class:`RecordingClassifier`), so both paths see exactly what `emphysema analyze` classifies.
Each batch size runs in alternating rounds (in process, served, in process, ...) and the fastest
round of each path counts: load from other work only ever slows a round down, and alternating
spreads it over both paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench.study_results import Agreement, BatchTiming, PathTiming
from client.contract import ModelInfo, Prediction
from client.triton import TritonClassifier
from imaging.contract import CLASS_NAMES


class RecordingClassifier:
    """Passes each call on to a Triton classifier and keeps the ROIs it sent and the labels it got."""

    def __init__(self, classifier: TritonClassifier) -> None:
        self._classifier = classifier
        self.settings = classifier.settings
        self._batches: list[np.ndarray] = []
        self._labels: list[str] = []

    def model_info(self, model: str | None = None) -> ModelInfo:
        """The served model's contract (the wrapped client's)."""
        return self._classifier.model_info(model)

    def classify(self, images: np.ndarray, model: str | None = None) -> list[Prediction]:
        """Classify through Triton; keep the images (a reference, no copy) and the labels."""
        predictions = self._classifier.classify(images, model)
        self._batches.append(images)
        self._labels.extend(prediction.label for prediction in predictions)
        return predictions

    def recorded(self) -> tuple[np.ndarray, list[str]]:
        """Every ROI sent so far, in order, and the label Triton gave each."""
        return np.concatenate(self._batches), list(self._labels)


def evenly_spaced(count: int, wanted: int) -> np.ndarray:
    """Indices of ``min(count, wanted)`` items spread evenly over ``count`` (every slice is sampled)."""
    return np.unique(np.linspace(0, count - 1, min(count, wanted)).round().astype(int))


def _chunks(images: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [images[start : start + batch_size] for start in range(0, len(images), batch_size)]


def in_process_path(session, batch_size: int) -> Callable[[np.ndarray], list[str]]:
    """Classify with an onnxruntime session in this process, one batch after another."""
    input_name = session.get_inputs()[0].name

    def classify(images: np.ndarray) -> list[str]:
        labels: list[str] = []
        for chunk in _chunks(images, batch_size):
            probabilities = session.run(None, {input_name: chunk})[0]
            labels.extend(CLASS_NAMES[index] for index in np.argmax(probabilities, axis=1))
        return labels

    return classify


def served_path(
    classifier: TritonClassifier, model: str, batch_size: int
) -> Callable[[np.ndarray], list[str]]:
    """Classify through Triton with analyze's client: ``batch_size`` ROIs a request, several in flight.

    ``settings.concurrency`` requests are in flight at once, as when analyze classifies a chunk.
    """
    concurrency = classifier.settings.concurrency

    def classify(images: np.ndarray) -> list[str]:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            answers = pool.map(lambda chunk: classifier.classify(chunk, model), _chunks(images, batch_size))
            return [prediction.label for predictions in answers for prediction in predictions]

    return classify


def compare_paths(
    paths: dict[str, Callable[[int], Callable[[np.ndarray], list[str]]]],
    rois: np.ndarray,
    batch_sizes: tuple[int, ...],
    rounds: int,
) -> tuple[tuple[BatchTiming, ...], dict[str, list[str]]]:
    """Time every path on the same ROIs at each batch size; check they give the same labels.

    Args:
        paths: name -> a function that, given a batch size, returns that path's classify function.
        rois: uint8 ``(N, S, S, 1)`` model inputs.
        batch_sizes: the request sizes to measure, the same for every path.
        rounds: alternating rounds per path and batch size (the fastest counts).

    Returns:
        Each batch size's timings, and each path's labels at the largest batch size.
    """
    batches = []
    labels: dict[str, list[str]] = {}
    for batch_size in batch_sizes:
        classifiers = {name: make(batch_size) for name, make in paths.items()}
        for name, classify in classifiers.items():
            labels[name] = classify(rois[: max(batch_size, 1) * 2])  # warm-up: first calls pick kernels
        round_seconds: dict[str, list[float]] = {name: [] for name in classifiers}
        for _ in range(rounds):
            for name, classify in classifiers.items():
                started = time.perf_counter()
                labels[name] = classify(rois)
                round_seconds[name].append(time.perf_counter() - started)
        timings = {
            name: PathTiming(round(len(rois) / min(seconds), 1), tuple(round(value, 3) for value in seconds))
            for name, seconds in round_seconds.items()
        }
        batches.append(BatchTiming(batch_size, timings))
    return tuple(batches), labels


def label_agreement(labels: dict[str, list[str]], reference: str) -> dict[str, Agreement]:
    """How many ROIs each path labels as ``reference`` does, per path."""
    expected = labels[reference]
    return {
        name: Agreement(sum(a == b for a, b in zip(found, expected, strict=True)), len(expected))
        for name, found in labels.items()
        if name != reference
    }
