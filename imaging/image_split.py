"""The paper's image-level split, kept to reproduce its protocol: slices shuffled regardless of patient.

The paper split its 447 slices at random, so slices of one patient sat on both sides of the split.
Slices of one patient are near-duplicates (same anatomy, scanner and disease), so the test part
then measures recognition of patients already seen, not diagnosis of new ones. The patient-grouped
split (``imaging.splits.grouped_split``) stays the default; this one exists to measure the gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imaging.classes import CLASS_NAMES
from imaging.samples import Sample
from imaging.splits import DataSplit, check_fractions, grouped_split, part_sizes

# "patient" first: it is the default everywhere.
SPLIT_CHOICES: tuple[str, ...] = ("patient", "image")
IMAGE_SPLIT_WARNING = (
    "WARNING: --split image puts slices of the same patient in training and in test, as the paper did. "
    "Its accuracy overstates accuracy on new patients; use --split patient (the default) for that figure."
)


def image_split(
    samples: Sequence[Sample], validation_fraction: float = 0.15, test_fraction: float = 0.2, seed: int = 0
) -> DataSplit:
    """Split samples into train/validation/test image by image, stratified by class, ignoring patients.

    Each class's images are shuffled and cut by the fractions (at least one image per class in every
    non-empty part), the same cut ``grouped_split`` makes with patients.

    Raises:
        ValueError: bad fractions, an empty data set, or a class with fewer images than non-empty parts.
    """
    parts_needed = check_fractions(validation_fraction, test_fraction)
    if not samples:
        raise ValueError("cannot split an empty data set")
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for label in CLASS_NAMES:
        indices = [index for index, sample in enumerate(samples) if sample.label == label]
        if not indices:
            continue
        if len(indices) < parts_needed:
            raise ValueError(
                f"an image split into {parts_needed} parts needs at least {parts_needed} images per class "
                f"so every class appears in every part; {label} has {len(indices)}"
            )
        shuffled = [indices[position] for position in rng.permutation(len(indices))]
        test, validation = part_sizes(len(shuffled), validation_fraction, test_fraction)
        chosen["test"] += shuffled[:test]
        chosen["validation"] += shuffled[test : test + validation]
        chosen["train"] += shuffled[test + validation :]
    return DataSplit(**chosen)


def split_samples(
    samples: Sequence[Sample], split: str, validation_fraction: float, test_fraction: float, seed: int
) -> DataSplit:
    """Make the split named ``split`` (one of ``SPLIT_CHOICES``)."""
    if split == "patient":
        return grouped_split(samples, validation_fraction, test_fraction, seed)
    if split == "image":
        return image_split(samples, validation_fraction, test_fraction, seed)
    raise ValueError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")


def patients_in_training_and_test(split: DataSplit, samples: Sequence[Sample]) -> list[str]:
    """The test patients who also have slices in training (always none for a patient split), sorted."""
    training = {samples[index].patient_id for index in split.train}
    return sorted({samples[index].patient_id for index in split.test} & training)
