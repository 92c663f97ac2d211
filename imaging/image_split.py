"""The paper's image-level split, kept to reproduce its protocol: slices shuffled regardless of patient.

The paper split its 447 slices at random, so slices of one patient sat on both sides of the split.
Slices of one patient are near-duplicates (same anatomy, scanner and disease), so the test part
then measures recognition of patients already seen, not diagnosis of new ones. The patient-grouped
split (``imaging.splits.grouped_split``) stays the default; this one exists to measure the gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imaging.contract import CLASS_NAMES
from imaging.samples import Sample
from imaging.splits import PARTS, DataSplit, grouped_split

# "patient" first: it is the default everywhere.
SPLIT_CHOICES: tuple[str, ...] = ("patient", "image")
IMAGE_SPLIT_WARNING = (
    "WARNING: --split image puts slices of the same patient in training and in test, as the paper did. "
    "Its accuracy overstates accuracy on new patients; use --split patient (the default) for that figure."
)


def image_split(
    samples: Sequence[Sample], validation_fraction: float = 0.15, test_fraction: float = 0.2, seed: int = 0
) -> DataSplit:
    """Split samples into train/validation/test image by image, ignoring patients.

    Every part gets as many images of each class as the patient-grouped split with the same
    fractions and seed gives it, so the two splits differ only in which slices go where: the
    accuracy gap between them is the leak, not a bigger training set.

    Raises:
        ValueError: whatever ``grouped_split`` refuses (bad fractions, too few patients per class).
    """
    sizes = grouped_split(samples, validation_fraction, test_fraction, seed)
    rng = np.random.default_rng([seed, 1])  # its own stream, apart from the patient shuffle
    chosen: dict[str, list[int]] = {part: [] for part in PARTS}
    for label in CLASS_NAMES:
        indices = [index for index, sample in enumerate(samples) if sample.label == label]
        shuffled = [indices[position] for position in rng.permutation(len(indices))]
        start = 0
        for part in PARTS:
            count = sum(samples[index].label == label for index in getattr(sizes, part))
            chosen[part] += shuffled[start : start + count]
            start += count
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
