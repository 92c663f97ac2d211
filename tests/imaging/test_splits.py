"""Splits: grouped ones never put a patient in two parts; the paper's image split does, on purpose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imaging.contract import CLASS_NAMES
from imaging.dataset import Sample
from imaging.image_split import image_split, patients_in_training_and_test, split_samples
from imaging.splits import PARTS, DataSplit, SplitError, grouped_folds, grouped_split, patient_labels

SEEDS = range(8)


def make_samples(patients_per_class: dict[str, int], seed: int = 0) -> list[Sample]:
    """Patients with 1-6 slices each, interleaved so patients are not contiguous in the list."""
    rng = np.random.default_rng(seed)
    samples = []
    for label, count in patients_per_class.items():
        for patient in range(count):
            for slice_number in range(int(rng.integers(1, 7))):
                samples.append(
                    Sample(
                        Path(f"/data/{label}/{label}{patient}_s{slice_number}.png"),
                        label,
                        f"{label}{patient}",
                    )
                )
    order = rng.permutation(len(samples))
    return [samples[index] for index in order]


FORTY_PATIENTS = {"NT": 13, "CLE": 11, "PSE": 9, "PLE": 7}


def check_split(split: DataSplit, samples: list[Sample]) -> None:
    """The invariants every split must keep."""
    everything = np.concatenate([getattr(split, part) for part in PARTS])
    assert sorted(everything.tolist()) == list(range(len(samples))), "every sample exactly once"
    patients = {part: {samples[index].patient_id for index in getattr(split, part)} for part in PARTS}
    assert not patients["train"] & patients["validation"]
    assert not patients["train"] & patients["test"]
    assert not patients["validation"] & patients["test"]


def classes_in(split: DataSplit, part: str, samples: list[Sample]) -> set[str]:
    return {samples[index].label for index in getattr(split, part)}


@pytest.mark.parametrize("seed", SEEDS)
def test_grouped_split_never_shares_a_patient_and_keeps_every_class(seed):
    samples = make_samples(FORTY_PATIENTS, seed)
    split = grouped_split(samples, seed=seed)
    check_split(split, samples)
    for part in PARTS:
        assert classes_in(split, part, samples) == set(CLASS_NAMES)


def test_grouped_split_fractions_hold_per_class_in_patients():
    samples = make_samples(FORTY_PATIENTS)
    split = grouped_split(samples, validation_fraction=0.15, test_fraction=0.2, seed=1)
    for label, count in FORTY_PATIENTS.items():
        test_patients = {samples[i].patient_id for i in split.test if samples[i].label == label}
        validation_patients = {samples[i].patient_id for i in split.validation if samples[i].label == label}
        assert len(test_patients) == max(1, round(count * 0.2))
        assert len(validation_patients) == max(1, round(count * 0.15))


def test_grouped_split_is_deterministic_for_a_seed():
    samples = make_samples(FORTY_PATIENTS)
    first, again = grouped_split(samples, seed=4), grouped_split(samples, seed=4)
    other = grouped_split(samples, seed=5)
    for part in PARTS:
        np.testing.assert_array_equal(getattr(first, part), getattr(again, part))
    assert any(not np.array_equal(getattr(first, part), getattr(other, part)) for part in PARTS)


@pytest.mark.parametrize("seed", SEEDS)
def test_grouped_folds_never_share_a_patient_and_test_each_patient_once(seed):
    samples = make_samples(FORTY_PATIENTS, seed)
    folds = grouped_folds(samples, folds=5, seed=seed)
    assert len(folds) == 5
    tested = np.concatenate([fold.test for fold in folds])
    assert sorted(tested.tolist()) == list(range(len(samples)))
    for fold in folds:
        check_split(fold, samples)
        for part in PARTS:
            assert classes_in(fold, part, samples) == set(CLASS_NAMES)


def test_grouped_folds_are_deterministic_and_balanced():
    samples = make_samples(FORTY_PATIENTS)
    first, again = grouped_folds(samples, 4, seed=2), grouped_folds(samples, 4, seed=2)
    for a, b in zip(first, again, strict=True):
        for part in PARTS:
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    test_patient_counts = [len({samples[i].patient_id for i in fold.test}) for fold in first]
    assert max(test_patient_counts) - min(test_patient_counts) <= 1  # 40 patients -> 10 per fold


def test_majority_label_decides_a_mixed_patients_class_and_keeps_slices_together():
    samples = make_samples(FORTY_PATIENTS)
    mixed = [
        Sample(Path("/data/mixed/a.png"), "CLE", "mixed"),
        Sample(Path("/data/mixed/b.png"), "NT", "mixed"),
        Sample(Path("/data/mixed/c.png"), "CLE", "mixed"),
        Sample(Path("/data/tie/a.png"), "PLE", "tie"),
        Sample(Path("/data/tie/b.png"), "PSE", "tie"),
    ]
    labels = patient_labels(mixed)
    assert labels == {"mixed": "CLE", "tie": "PSE"}  # ties go to the earlier class
    everything = samples + mixed
    for seed in SEEDS:
        split = grouped_split(everything, seed=seed)
        check_split(split, everything)
        parts_of_mixed = {
            part for part in PARTS for i in getattr(split, part) if everything[i].patient_id == "mixed"
        }
        assert len(parts_of_mixed) == 1


def test_too_few_patients_in_a_class_is_refused_clearly():
    samples = make_samples({"NT": 10, "CLE": 10, "PSE": 10, "PLE": 2})
    with pytest.raises(ValueError, match=r"at least 3 patients per class .*PLE has 2"):
        grouped_split(samples)
    split = grouped_split(samples, validation_fraction=0)  # two parts need two patients per class
    check_split(split, samples)
    assert len(split.validation) == 0 and "PLE" in classes_in(split, "test", samples)
    with pytest.raises(ValueError, match=r"5 folds .*PLE has 2"):
        grouped_folds(samples, folds=5)


def test_advice_for_a_small_class_names_flags_that_fit_the_data_set():
    samples = make_samples({"NT": 10, "CLE": 10, "PSE": 10, "PLE": 2})
    with pytest.raises(SplitError) as refused:
        grouped_split(samples)
    message = str(refused.value)
    assert "--test-fraction 0" in message and "--validation-fraction 0" in message
    grouped_split(samples, test_fraction=0)  # each piece of advice, followed, splits
    grouped_split(samples, validation_fraction=0)
    with pytest.raises(SplitError) as refused:
        grouped_folds(samples, folds=5)
    # No fold count fits 2 patients with validation; 2 folds without it do.
    assert "--folds 2 --validation-fraction 0" in str(refused.value)
    grouped_folds(samples, folds=2, validation_fraction=0)
    samples = make_samples({"NT": 10, "CLE": 10, "PSE": 10, "PLE": 4})
    with pytest.raises(SplitError, match="--folds 4"):
        grouped_folds(samples, folds=5)
    grouped_folds(samples, folds=4)


def test_a_class_with_one_patient_gets_no_advice_that_cannot_work():
    samples = make_samples({"NT": 10, "CLE": 10, "PSE": 10, "PLE": 1})
    with pytest.raises(SplitError) as refused:
        grouped_split(samples)
    assert "add patients" in str(refused.value) and "--" not in str(refused.value)


def test_fewer_patients_than_folds_is_refused():
    samples = make_samples({"NT": 2, "CLE": 1})
    with pytest.raises(ValueError, match="5 folds need at least 5 patients; the data set has 3"):
        grouped_folds(samples, folds=5)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"validation_fraction": -0.1}, "--validation-fraction must be in"),
        ({"test_fraction": 1.0}, "--test-fraction must be in"),
        ({"validation_fraction": 0.5, "test_fraction": 0.5}, "must be below 1"),
    ],
)
def test_bad_fractions_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        grouped_split(make_samples(FORTY_PATIENTS), **arguments)


def test_bad_fold_requests_are_refused():
    samples = make_samples(FORTY_PATIENTS)
    with pytest.raises(ValueError, match="--folds must be at least 2"):
        grouped_folds(samples, folds=1)
    with pytest.raises(ValueError, match="empty data set"):
        grouped_split([])


def test_split_round_trips_through_json_with_relative_paths():
    samples = make_samples(FORTY_PATIENTS)
    split = grouped_split(samples, seed=3)
    data = split.to_dict(samples, root="/data")
    assert all(not path.startswith("/") for part in PARTS for path in data[part])
    restored = DataSplit.from_json(split.to_json(samples, root="/data"), samples, root="/data")
    for part in PARTS:
        np.testing.assert_array_equal(getattr(restored, part), getattr(split, part))
    data["test"].append("NT/unknown.png")
    with pytest.raises(ValueError, match="not in the data set: NT/unknown.png"):
        DataSplit.from_dict(data, samples, root="/data")


def test_data_split_is_read_only_and_rejects_overlap():
    split = DataSplit(train=[2, 0], validation=[1], test=[3])
    assert split.train.tolist() == [0, 2]
    with pytest.raises(ValueError):
        split.train[0] = 5
    with pytest.raises(ValueError, match="more than one part"):
        DataSplit(train=[0, 1], validation=[1], test=[])


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(4, 12), min_size=4, max_size=4),
    folds=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_any_feasible_request_keeps_the_invariants(counts, folds, seed):
    samples = make_samples(dict(zip(CLASS_NAMES, counts, strict=True)), seed)
    check_split(grouped_split(samples, seed=seed), samples)
    for fold in grouped_folds(samples, folds=folds, seed=seed):
        check_split(fold, samples)
        for part in PARTS:
            assert classes_in(fold, part, samples) == set(CLASS_NAMES)


# The paper's image-level split (imaging.image_split).


@pytest.mark.parametrize("seed", SEEDS)
def test_the_image_split_puts_slices_of_some_patients_on_both_sides_and_the_patient_split_never(seed):
    samples = make_samples(FORTY_PATIENTS, seed)
    image = image_split(samples, seed=seed)
    shared = patients_in_training_and_test(image, samples)
    assert shared, "a random image split of patients with several slices shares some patient"
    for patient in shared:  # the helper names patients that really are on both sides
        parts = {
            part for part in PARTS for index in getattr(image, part) if samples[index].patient_id == patient
        }
        assert {"train", "test"} <= parts
    assert patients_in_training_and_test(grouped_split(samples, seed=seed), samples) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_the_image_split_uses_every_image_once_and_keeps_every_class_in_every_part(seed):
    samples = make_samples(FORTY_PATIENTS, seed)
    split = image_split(samples, seed=seed)
    everything = np.concatenate([getattr(split, part) for part in PARTS])
    assert sorted(everything.tolist()) == list(range(len(samples)))
    for part in PARTS:
        assert classes_in(split, part, samples) == set(CLASS_NAMES)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_image_split_has_the_patient_splits_part_sizes_per_class_so_only_the_leak_differs(seed):
    samples = make_samples(FORTY_PATIENTS, seed)
    image, patient = image_split(samples, seed=seed), grouped_split(samples, seed=seed)
    for part in PARTS:
        for label in CLASS_NAMES:
            counts = [
                sum(samples[index].label == label for index in getattr(split, part))
                for split in (image, patient)
            ]
            assert counts[0] == counts[1], (part, label)
    assert not np.array_equal(image.test, patient.test)


def test_the_image_split_is_deterministic_for_a_seed():
    samples = make_samples(FORTY_PATIENTS)
    first, again, other = (
        image_split(samples, seed=1),
        image_split(samples, seed=1),
        image_split(samples, seed=2),
    )
    assert all(np.array_equal(getattr(first, part), getattr(again, part)) for part in PARTS)
    assert not np.array_equal(first.test, other.test)


def test_split_samples_makes_the_named_split():
    samples = make_samples(FORTY_PATIENTS)
    patient = split_samples(samples, "patient", 0.15, 0.2, 3)
    np.testing.assert_array_equal(patient.test, grouped_split(samples, 0.15, 0.2, 3).test)
    np.testing.assert_array_equal(
        split_samples(samples, "image", 0.15, 0.2, 3).test, image_split(samples, 0.15, 0.2, 3).test
    )
    with pytest.raises(ValueError, match="split must be one of patient, image, got 'slice'"):
        split_samples(samples, "slice", 0.15, 0.2, 3)


@pytest.mark.parametrize(
    ("samples", "arguments", "message"),
    [
        (make_samples(FORTY_PATIENTS), {"test_fraction": 1.0}, "--test-fraction must be in"),
        (make_samples(FORTY_PATIENTS), {"validation_fraction": 0.5, "test_fraction": 0.6}, "must be below 1"),
        (make_samples({"NT": 10, "CLE": 2}), {}, "at least 3 patients per class .*CLE has 2"),
        ([], {}, "empty data set"),
    ],
)
def test_bad_image_split_requests_are_refused_like_the_patient_split(samples, arguments, message):
    with pytest.raises(ValueError, match=message):
        image_split(samples, **arguments)
