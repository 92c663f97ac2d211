"""Patient-grouped, class-stratified splits: a patient's slices never land in two parts.

Adjacent slices of one patient are near-duplicates, so an image-level split leaks and inflates
accuracy (93-99 % image-level against 46-83 % patient-level in the literature). Each patient is
stratified by the majority label of their slices (ties go to the earlier class in CLASS_NAMES).

Refused on purpose: a class with too few patients to appear in every part (its accuracy on a
held-out part would silently be missing), and fewer patients than folds.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imaging.classes import CLASS_NAMES, class_index
from imaging.errors import EmphysemaError
from imaging.samples import Sample

PARTS = ("train", "validation", "test")


class SplitError(EmphysemaError, ValueError):
    """The data set has too few patients for the asked split; the message names flags that fit it.

    Each piece of advice is checked against the data set before it is given, so following it works.
    """


@dataclasses.dataclass(frozen=True, eq=False)
class DataSplit:
    """Sample indices of each part, sorted; read-only arrays (the dataclass is frozen)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for part in PARTS:
            indices = np.array(sorted(int(index) for index in getattr(self, part)), dtype=np.int64)
            indices.setflags(write=False)
            object.__setattr__(self, part, indices)
        everything = np.concatenate([self.train, self.validation, self.test])
        if len(np.unique(everything)) != len(everything):
            raise ValueError("a sample index appears in more than one part of the split")

    def to_dict(self, samples: Sequence[Sample], root: str | Path | None = None) -> dict[str, list[str]]:
        """Return ``{"train": [paths], "validation": [...], "test": [...]}`` (relative to root if given)."""
        return {
            part: [_path_text(samples[index].path, root) for index in getattr(self, part)] for part in PARTS
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, list[str]], samples: Sequence[Sample], root: str | Path | None = None
    ) -> DataSplit:
        """Rebuild a split from :meth:`to_dict` output and the same samples.

        Raises:
            ValueError: a part is missing or a path is not among the samples.
        """
        positions = {_path_text(sample.path, root): index for index, sample in enumerate(samples)}
        parts = {}
        for part in PARTS:
            if part not in data:
                raise ValueError(f"the split has no {part!r} part")
            unknown = [path for path in data[part] if path not in positions]
            if unknown:
                shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                raise ValueError(f"the split's {part} part names files not in the data set: {shown}")
            parts[part] = [positions[path] for path in data[part]]
        return cls(**parts)

    def to_json(self, samples: Sequence[Sample], root: str | Path | None = None) -> str:
        """Return :meth:`to_dict` as indented JSON text (what ``split.json`` holds)."""
        return json.dumps(self.to_dict(samples, root), indent=2)

    @classmethod
    def from_json(cls, text: str, samples: Sequence[Sample], root: str | Path | None = None) -> DataSplit:
        """Rebuild a split from :meth:`to_json` text."""
        return cls.from_dict(json.loads(text), samples, root)


def _path_text(path: Path, root: str | Path | None) -> str:
    return (Path(path).relative_to(root) if root is not None else Path(path)).as_posix()


def grouped_split(
    samples: Sequence[Sample], validation_fraction: float = 0.15, test_fraction: float = 0.2, seed: int = 0
) -> DataSplit:
    """Split samples into train/validation/test by patient, stratified by class.

    Each class's patients are shuffled and cut by the fractions (at least one patient per class
    in every non-empty part), so the fractions hold per class, in patients rather than slices.

    Args:
        samples: the data set.
        validation_fraction: share of each class's patients for validation (0 for none).
        test_fraction: share of each class's patients for test (0 for none).
        seed: the shuffling seed; the same seed and samples give the same split.

    Raises:
        ValueError: bad fractions, or a class with fewer patients than non-empty parts.
    """
    for name, fraction in (
        ("--validation-fraction", validation_fraction),
        ("--test-fraction", test_fraction),
    ):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be in [0, 1), got {fraction}")
    if validation_fraction + test_fraction >= 1:
        total = validation_fraction + test_fraction
        raise ValueError(f"--validation-fraction + --test-fraction must be below 1, got {total}")
    parts_needed = 1 + (validation_fraction > 0) + (test_fraction > 0)
    patients_by_class = _patients_by_class(samples, np.random.default_rng(seed))
    fewest = min(len(patients) for patients in patients_by_class.values())
    if fewest < parts_needed:
        advice = []  # only advice that this data set satisfies
        if test_fraction > 0 and fewest >= parts_needed - 1:
            advice.append("--test-fraction 0 (the validation split is then the one evaluated)")
        if validation_fraction > 0 and fewest >= parts_needed - 1:
            advice.append("--validation-fraction 0 (the best epoch is then chosen on the training data)")
        _refuse_small_classes(patients_by_class, parts_needed, f"a split into {parts_needed} parts", advice)
    chosen: dict[str, list[str]] = {part: [] for part in PARTS}
    for patients in patients_by_class.values():
        count = len(patients)
        test = max(1, round(count * test_fraction)) if test_fraction > 0 else 0
        validation = max(1, round(count * validation_fraction)) if validation_fraction > 0 else 0
        while count - test - validation < 1:  # rounding up for small classes can leave no training patient
            if validation and validation >= test:
                validation -= 1
            else:
                test -= 1
        chosen["test"] += patients[:test]
        chosen["validation"] += patients[test : test + validation]
        chosen["train"] += patients[test + validation :]
    return _split_from_patients(samples, chosen)


def grouped_folds(
    samples: Sequence[Sample], folds: int = 5, seed: int = 0, validation_fraction: float = 0.15
) -> list[DataSplit]:
    """K patient-grouped, class-stratified folds; each fold's test part is one group of patients.

    Every patient is in exactly one test part across the folds. The validation part is carved
    from each fold's training patients (``validation_fraction`` of each class, at least one).

    Raises:
        ValueError: fewer than 2 folds, fewer patients than folds, or a class too small to appear
            in every fold's test, validation and training parts.
    """
    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}")
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"--validation-fraction must be in [0, 1), got {validation_fraction}")
    rng = np.random.default_rng(seed)
    patients_by_class = _patients_by_class(samples, rng)
    patient_count = sum(len(patients) for patients in patients_by_class.values())
    if patient_count < folds:
        raise SplitError(f"{folds} folds need at least {folds} patients; the data set has {patient_count}")
    with_validation = validation_fraction > 0
    needed = _fold_minimum(folds, with_validation)
    fewest = min(len(patients) for patients in patients_by_class.values())
    if fewest < needed:
        advice = [f"--folds {count}" for count in _fitting_folds(folds - 1, with_validation, fewest)][:1]
        if with_validation and not advice:
            fitting = _fitting_folds(folds, False, fewest)[:1]
            advice += [
                ("" if count == folds else f"--folds {count} ")
                + "--validation-fraction 0 (the best epoch is then chosen on the training data)"
                for count in fitting
            ]
        request = f"{folds} folds" + (" with validation" if with_validation else "")
        _refuse_small_classes(patients_by_class, needed, request, advice)
    fold_of: dict[str, int] = {}
    position = 0  # continues across classes so the folds stay balanced in size
    for patients in patients_by_class.values():
        for patient in patients:
            fold_of[patient] = position % folds
            position += 1
    splits = []
    for fold in range(folds):
        chosen: dict[str, list[str]] = {part: [] for part in PARTS}
        for patients in patients_by_class.values():
            test = [patient for patient in patients if fold_of[patient] == fold]
            rest = [patient for patient in patients if fold_of[patient] != fold]
            rest = [rest[index] for index in rng.permutation(len(rest))]
            validation = min(len(rest) - 1, max(1, round(len(patients) * validation_fraction)))
            validation = validation if validation_fraction > 0 else 0
            chosen["test"] += test
            chosen["validation"] += rest[:validation]
            chosen["train"] += rest[validation:]
        splits.append(_split_from_patients(samples, chosen))
    return splits


def _fitting_folds(most: int, with_validation: bool, fewest: int) -> list[int]:
    """Fold counts from ``most`` down to 2 that a class of ``fewest`` patients can fill."""
    return [count for count in range(most, 1, -1) if _fold_minimum(count, with_validation) <= fewest]


def _fold_minimum(folds: int, with_validation: bool) -> int:
    """Fewest patients a class needs so that every fold has it in test, validation and train."""
    count = folds
    while count - -(-count // folds) < 1 + with_validation:  # patients left after the largest test group
        count += 1
    return count


def patient_labels(samples: Sequence[Sample]) -> dict[str, str]:
    """Return each patient's majority label (ties go to the earlier class in ``CLASS_NAMES``)."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for sample in samples:
        counts[sample.patient_id][sample.label] += 1
    return {
        patient: min(counter, key=lambda label: (-counter[label], class_index(label)))
        for patient, counter in counts.items()
    }


def _patients_by_class(samples: Sequence[Sample], rng: np.random.Generator) -> dict[str, list[str]]:
    """Shuffled patients per class, in ``CLASS_NAMES`` order (only classes that have patients)."""
    if not samples:
        raise ValueError("cannot split an empty data set")
    grouped: dict[str, list[str]] = {label: [] for label in CLASS_NAMES}
    for patient, label in sorted(patient_labels(samples).items()):
        grouped[CLASS_NAMES[class_index(label)]].append(patient)
    return {
        label: [patients[index] for index in rng.permutation(len(patients))]
        for label, patients in grouped.items()
        if patients
    }


def _refuse_small_classes(
    patients_by_class: dict[str, list[str]], needed: int, request: str, advice: Sequence[str]
) -> None:
    short = {label: len(patients) for label, patients in patients_by_class.items() if len(patients) < needed}
    listed = ", ".join(f"{label} has {count}" for label, count in short.items())
    ways = "".join(f"\n  - or pass {piece}" for piece in advice)
    raise SplitError(
        f"{request} needs at least {needed} patients per class so every class appears in every part; "
        f"{listed}.\n  - add patients{ways}"
    )


def _split_from_patients(samples: Sequence[Sample], chosen: dict[str, list[str]]) -> DataSplit:
    part_of = {patient: part for part, patients in chosen.items() for patient in patients}
    indices: dict[str, list[int]] = {part: [] for part in PARTS}
    for index, sample in enumerate(samples):
        indices[part_of[sample.patient_id]].append(index)
    return DataSplit(**indices)
