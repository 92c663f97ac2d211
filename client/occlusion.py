"""Occlusion sensitivity: which parts of the image the predicted class depends on.

A grey square slides over the image; every occluded copy is classified through Triton (as
batched requests, which also lets dynamic batching merge them), and each pixel's score is the
average drop in the predicted class's probability over the squares that covered it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from client.contract import Prediction
from client.triton import TritonClassifier


@dataclasses.dataclass(frozen=True)
class OcclusionSettings:
    """How the occluding square moves.

    Attributes:
        patch_fraction: the square's side as a fraction of the image side.
        stride_fraction: the step between squares as a fraction of the square's side.
    """

    patch_fraction: float = 1 / 7
    stride_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.patch_fraction <= 1 or not 0 < self.stride_fraction <= 1:
            raise ValueError("patch_fraction and stride_fraction must be in (0, 1]")


Box = tuple[int, int, int]


def occlusion_boxes(image_size: int, settings: OcclusionSettings = OcclusionSettings()) -> list[Box]:
    """Return ``(row, column, side)`` of every occluding square; together they cover the whole image."""
    side = max(2, round(image_size * settings.patch_fraction))
    stride = max(1, round(side * settings.stride_fraction))
    starts = list(range(0, image_size - side + 1, stride))
    if starts[-1] != image_size - side:
        starts.append(image_size - side)  # so the last row and column are covered too
    return [(row, column, side) for row in starts for column in starts]


def occluded_variants(image: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """Return one copy of a uint8 ``(S, S, 1)`` image per box, the box filled with the image's mean grey."""
    fill = np.uint8(round(float(image.mean())))
    variants = np.repeat(image[np.newaxis], len(boxes), axis=0)
    for variant, (row, column, side) in zip(variants, boxes, strict=True):
        variant[row : row + side, column : column + side] = fill
    return variants


def sensitivity_map(
    classifier: TritonClassifier,
    image: np.ndarray,
    model: str | None = None,
    settings: OcclusionSettings = OcclusionSettings(),
) -> tuple[Prediction, np.ndarray]:
    """Classify an image and map how much hiding each region lowers the predicted class's probability.

    Args:
        classifier: the Triton wrapper.
        image: uint8 ``(S, S, 1)`` model input.
        model: the model name (default: the classifier's).
        settings: the occluding square's size and step.

    Returns:
        The prediction for the whole image, and a float32 ``(S, S)`` map: positive where hiding
        the region lowers the predicted class's probability (the model relies on it).
    """
    image_size = image.shape[0]
    boxes = occlusion_boxes(image_size, settings)
    batch = np.concatenate([image[np.newaxis], occluded_variants(image, boxes)])
    predictions = classifier.classify(batch, model)
    baseline, occluded = predictions[0], predictions[1:]
    label = baseline.label
    reference = baseline.probabilities[label]
    total = np.zeros((image_size, image_size), np.float32)
    counts = np.zeros((image_size, image_size), np.float32)
    for prediction, (row, column, side) in zip(occluded, boxes, strict=True):
        total[row : row + side, column : column + side] += reference - prediction.probabilities[label]
        counts[row : row + side, column : column + side] += 1
    return baseline, total / np.maximum(counts, 1)


def overlay(grey: np.ndarray, sensitivity: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """Blend the positive part of a sensitivity map over a uint8 grey image as red; return uint8 RGB."""
    if grey.shape != sensitivity.shape:
        raise ValueError(f"image {grey.shape} and map {sensitivity.shape} differ in shape")
    peak = float(sensitivity.max())
    weight = np.clip(sensitivity / peak, 0, 1) * opacity if peak > 0 else np.zeros_like(sensitivity)
    rgb = np.repeat(grey[..., np.newaxis].astype(np.float32), 3, axis=2)
    red = np.array([255.0, 40.0, 0.0], np.float32)
    blended = rgb * (1 - weight[..., np.newaxis]) + red * weight[..., np.newaxis]
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
