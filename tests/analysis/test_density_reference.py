"""A study's lung density reference follows the patient's normal lung; the shift moves it to the model's."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.density_reference import (
    density_reference_hu,
    density_shift_hu,
    large_shift_warning,
    shift_hounsfield,
)
from analysis.errors import AnalysisError
from study.lungs import segment_lungs
from study.phantom.chest import draw_chest
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from study.reader import read_study


def two_lungs(upper_hu: int, lower_hu: int) -> tuple[np.ndarray, np.ndarray]:
    """Nine slices of two lungs, each lung's upper three slices at one HU, the rest at another."""
    hounsfield = np.full((9, 40, 60), 40, dtype=np.int16)  # soft tissue around the lungs
    lungs = np.zeros(hounsfield.shape, dtype=np.uint8)
    lungs[:, 5:35, 5:25], lungs[:, 5:35, 35:55] = 1, 2
    spread = np.arange(30 * 20).reshape(30, 20) % 21 - 10  # -10..+10 HU inside each slice
    for lung_columns in (slice(5, 25), slice(35, 55)):
        hounsfield[:6, 5:35, lung_columns] = lower_hu + spread
        hounsfield[6:, 5:35, lung_columns] = upper_hu + spread
    return hounsfield, lungs


def test_the_reference_is_the_brightest_zone_s_upper_quartile():
    hounsfield, lungs = two_lungs(upper_hu=-820, lower_hu=-900)  # emphysema darkens the lower zones
    upper = hounsfield[6:][lungs[6:] > 0]
    assert density_reference_hu(hounsfield, lungs) == pytest.approx(np.percentile(upper, 75))


def test_the_shift_moves_the_reference_to_the_target_and_keeps_the_dtype():
    hounsfield, lungs = two_lungs(upper_hu=-850, lower_hu=-870)
    shift = density_shift_hu(hounsfield, lungs, -815.0)
    shifted = shift_hounsfield(hounsfield, shift)
    assert shifted.dtype == np.int16
    assert density_reference_hu(shifted, lungs) == pytest.approx(-815.0, abs=0.5)
    assert np.array_equal(shifted[lungs == 0], hounsfield[lungs == 0] + shift)


def test_shifted_values_stay_in_the_ct_range():
    hounsfield, _ = two_lungs(upper_hu=-700, lower_hu=-700)
    hounsfield[0, 0, 0], hounsfield[0, 0, 1] = -1024, 3071
    assert shift_hounsfield(hounsfield, -200)[0, 0, 0] == -1024
    assert shift_hounsfield(hounsfield, 100)[0, 0, 1] == 3071
    assert shift_hounsfield(hounsfield[0], 100).shape == hounsfield[0].shape  # a slice at a time too


def test_lungs_without_parenchyma_are_refused_with_the_reason():
    hounsfield, lungs = two_lungs(upper_hu=-300, lower_hu=-300)  # consolidated: nothing in -1000..-600
    with pytest.raises(AnalysisError, match="density reference"):
        density_reference_hu(hounsfield, lungs)


def test_only_a_shift_no_patient_explains_is_warned_about():
    assert large_shift_warning(-40) is None and large_shift_warning(100) is None
    assert large_shift_warning(None) is None  # a model that takes raw HU
    assert "+150 HU" in large_shift_warning(150)


@pytest.mark.slow
def test_the_reference_follows_each_phantom_patient_s_normal_lung_density(tmp_path):
    """Four normal phantom patients: their references follow their drawn parenchyma density."""
    settings = settings_for_size("small")
    drawn, references = [], []
    for seed in (1, 2, 3, 4):
        write_study(tmp_path / str(seed), "NT", None, seed, settings, nifti=False)
        volume = read_study(tmp_path / str(seed))
        references.append(density_reference_hu(volume.hounsfield, segment_lungs(volume).labels))
        drawn.append(draw_chest("NT", None, seed, settings).parenchyma_hu)
    offsets = np.subtract(references, drawn)  # texture and vessels: the reference is above the mean
    assert np.std(drawn) > 10  # the patients differ
    assert np.std(offsets) < np.std(drawn) / 2  # and the reference tracks the difference
