"""The synthetic HRCT phantom: determinism, physics, and what makes each pattern recognisable."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest

from imaging.classes import SEVERITIES
from imaging.contract import CLASS_NAMES
from imaging.hounsfield import HU_MAXIMUM, HU_MINIMUM
from imaging.phantom import PhantomSettings, draw_patient_traits, generate_slice, render_slice
from imaging.phantom.cohort import allocate_patients, plan_cohort, slice_generator
from imaging.phantom.fields import gaussian_blur

SMALL = PhantomSettings().with_image_size(64)
MEDIUM = PhantomSettings().with_image_size(128)
EMPHYSEMA_HU = -950.0


def patient_traits(seed: int, settings: PhantomSettings = MEDIUM):
    return draw_patient_traits(np.random.default_rng(seed), settings)


def emphysema_fraction(rendered) -> float:
    return float(np.mean(rendered.hounsfield[rendered.lung_mask] <= EMPHYSEMA_HU))


@pytest.fixture(scope="module")
def cohort_slices() -> dict[str, list[tuple[np.ndarray, np.ndarray, str | None]]]:
    """The issue's 40 patients x 2 slices at 64 px: ``label -> [(HU, lung mask, severity)]``."""
    slices = collections.defaultdict(list)
    for plan in plan_cohort(40, seed=2, settings=SMALL):
        for slice_index in range(2):
            rendered = render_slice(
                plan.label, plan.severity, plan.traits, slice_generator(2, plan.index, slice_index), SMALL
            )
            slices[plan.label].append((rendered.hounsfield, rendered.lung_mask, plan.severity))
    return slices


def test_same_generator_gives_identical_slice_and_another_seed_a_different_one():
    traits = patient_traits(1, SMALL)
    first = generate_slice("CLE", "moderate", traits, np.random.default_rng(5), SMALL)
    again = generate_slice("CLE", "moderate", traits, np.random.default_rng(5), SMALL)
    other = generate_slice("CLE", "moderate", traits, np.random.default_rng(6), SMALL)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 5.0


@pytest.mark.parametrize("label", CLASS_NAMES)
def test_every_class_and_severity_is_float32_hu_inside_the_physical_range(label):
    traits = patient_traits(4, SMALL)
    for severity in SEVERITIES:
        hounsfield = generate_slice(label, severity, traits, np.random.default_rng(0), SMALL)
        assert hounsfield.dtype == np.float32 and hounsfield.shape == (64, 64)
        assert np.isfinite(hounsfield).all()
        assert HU_MINIMUM <= hounsfield.min() and hounsfield.max() <= HU_MAXIMUM


def test_normal_parenchyma_sits_near_minus_850_hu_with_vessels_above_zero():
    rendered = render_slice("NT", None, patient_traits(8), np.random.default_rng(1), MEDIUM)
    lung = rendered.hounsfield[rendered.lung_mask]
    assert -900 < np.median(lung) < -800
    assert np.mean(lung > -300) > 0.005  # the vessel tree (about +40 HU before blurring)
    assert emphysema_fraction(rendered) < 0.1


def test_class_mean_hu_is_physically_ordered_ple_lowest_nt_highest():
    # Paired: the 40 patients, each rendered with every pattern at its own severity, so the
    # comparison holds the patients' scanner and density traits fixed. (Across a cohort, traits are
    # drawn independently of the class, and the 20 HU spread of lung density between patients can
    # hide the few-HU effect of trace disease in a class mean of 10 patients.)
    severities = list(SEVERITIES)
    sums = dict.fromkeys(CLASS_NAMES, 0.0)
    for plan in plan_cohort(40, seed=2, settings=SMALL):
        severity = plan.severity or severities[plan.index % len(severities)]
        for label in CLASS_NAMES:
            label_severity = None if label == "NT" else severity
            generator = slice_generator(2, plan.index, 0)
            rendered = render_slice(label, label_severity, plan.traits, generator, SMALL)
            sums[label] += float(rendered.hounsfield[rendered.lung_mask].mean())
    means = {label: total / 40 for label, total in sums.items()}
    assert means["PLE"] < min(means["CLE"], means["PSE"]), means
    assert means["NT"] > max(means["CLE"], means["PSE"]), means


def test_trace_disease_overlaps_normal_lung_so_the_task_is_not_trivial(cohort_slices):
    normal = [hounsfield[mask].mean() for hounsfield, mask, _ in cohort_slices["NT"]]
    trace_panlobular = [
        hounsfield[mask].mean() for hounsfield, mask, severity in cohort_slices["PLE"] if severity == "trace"
    ]
    severe_panlobular = [
        hounsfield[mask].mean() for hounsfield, mask, severity in cohort_slices["PLE"] if severity == "severe"
    ]
    assert trace_panlobular and severe_panlobular
    assert min(normal) < np.mean(trace_panlobular) < max(normal)
    assert max(severe_panlobular) < min(normal)


@pytest.mark.parametrize("severity", ["moderate", "severe"])
def test_centrilobular_slices_have_more_emphysema_pixels_than_normal(severity):
    for seed in range(4):
        traits = patient_traits(seed)
        normal = render_slice("NT", None, traits, np.random.default_rng(seed), MEDIUM)
        centrilobular = render_slice("CLE", severity, traits, np.random.default_rng(seed), MEDIUM)
        assert emphysema_fraction(centrilobular) > emphysema_fraction(normal) + 0.01


def _new_lucency_distances(label: str, seed: int) -> np.ndarray:
    """Pleural distance (mm) of pixels that the pattern turned into emphysema (<= -950 HU)."""
    traits = patient_traits(seed)
    normal = render_slice("NT", None, traits, np.random.default_rng(seed), MEDIUM)
    diseased = render_slice(label, "severe", traits, np.random.default_rng(seed), MEDIUM)
    smooth_normal = gaussian_blur(normal.hounsfield, 1.0)
    smooth_diseased = gaussian_blur(diseased.hounsfield, 1.0)
    new = (smooth_diseased <= EMPHYSEMA_HU) & (smooth_normal > EMPHYSEMA_HU) & diseased.lung_mask
    return diseased.pleural_distance_mm[new]


def test_paraseptal_lucencies_abut_the_pleura_while_centrilobular_ones_spare_it():
    paraseptal = np.concatenate([_new_lucency_distances("PSE", seed) for seed in range(4)])
    centrilobular = np.concatenate([_new_lucency_distances("CLE", seed) for seed in range(4)])
    assert paraseptal.size > 200 and centrilobular.size > 200
    assert np.median(paraseptal) < 12.0  # a single row of 5-20 mm cysts on the pleura or fissure
    assert np.mean(paraseptal < 20.0) > 0.9
    assert np.median(centrilobular) > 2 * np.median(paraseptal)


def test_panlobular_lung_has_flatter_texture_and_fewer_vessels_than_normal():
    for seed in range(4):
        # Same patient, same kernel noise: only the disease differs.
        traits = dataclasses.replace(patient_traits(seed), kernel="STANDARD", noise_hu=12.0)
        normal = render_slice("NT", None, traits, np.random.default_rng(seed), MEDIUM)
        panlobular = render_slice("PLE", "severe", traits, np.random.default_rng(seed), MEDIUM)

        def texture(rendered):
            # Robust SD (1.4826 x MAD) of fine detail in parenchyma, so vessel edges do not count.
            detail = rendered.hounsfield - gaussian_blur(rendered.hounsfield, 3.0)
            parenchyma = detail[rendered.lung_mask & (gaussian_blur(rendered.hounsfield, 2.0) < -700)]
            return 1.4826 * np.median(np.abs(parenchyma - np.median(parenchyma)))

        assert texture(panlobular) < 0.9 * texture(normal)
        vessels = [np.mean(r.hounsfield[r.lung_mask] > -500) for r in (normal, panlobular)]
        assert vessels[1] < 0.8 * vessels[0]
        assert (
            np.mean(panlobular.hounsfield[panlobular.lung_mask])
            < np.mean(normal.hounsfield[normal.lung_mask]) - 50
        )


def test_a_patients_slices_resemble_each_other_more_than_other_patients():
    plans = [plan for plan in plan_cohort(24, seed=5, settings=SMALL) if plan.label == "NT"]

    def slice_of(plan, index):
        return generate_slice("NT", None, plan.traits, slice_generator(5, plan.index, index), SMALL).ravel()

    same = np.mean([np.corrcoef(slice_of(plan, 0), slice_of(plan, 1))[0, 1] for plan in plans])
    pairs = zip(plans, plans[1:], strict=False)
    different = np.mean([np.corrcoef(slice_of(one, 0), slice_of(other, 0))[0, 1] for one, other in pairs])
    assert same > 0.5 and same > different + 0.3


def test_cohort_balances_classes_and_severities_with_traits_drawn_per_patient():
    plans = plan_cohort(40, seed=9, settings=SMALL)
    assert [plan.patient_id for plan in plans] == [f"P{index:04d}" for index in range(1, 41)]
    by_class = collections.defaultdict(list)
    for plan in plans:
        by_class[plan.label].append(plan)
    assert {label: len(members) for label, members in by_class.items()} == dict.fromkeys(CLASS_NAMES, 10)
    assert all(plan.severity is None for plan in by_class["NT"])
    for label in ("CLE", "PSE", "PLE"):
        counts = collections.Counter(plan.severity for plan in by_class[label])
        assert set(counts) == set(SEVERITIES) and max(counts.values()) - min(counts.values()) <= 1

    # Scanner traits are drawn per patient, independently of the class: no two patients share a
    # trait set, so a held-out patient has no same-trait "twin" with another label in training.
    assert len({(plan.traits.noise_hu, plan.traits.parenchyma_hu) for plan in plans}) == 40
    assert len({plan.traits.anatomy_seed for plan in plans}) == 40


def test_allocation_follows_weights_and_rejects_bad_ones():
    assert allocate_patients(10) == {"NT": 3, "CLE": 3, "PSE": 2, "PLE": 2}
    assert allocate_patients(8, {"NT": 3, "CLE": 1}) == {"NT": 6, "CLE": 2, "PSE": 0, "PLE": 0}
    with pytest.raises(ValueError, match="unknown class"):
        allocate_patients(8, {"XX": 1})
    with pytest.raises(ValueError, match="not all zero"):
        allocate_patients(8, {"NT": 0})
    with pytest.raises(ValueError, match="at least 1"):
        allocate_patients(0)


def test_bad_labels_severities_and_settings_are_refused_clearly():
    traits = patient_traits(0, SMALL)
    with pytest.raises(ValueError, match="unknown class label 'XYZ'"):
        generate_slice("XYZ", "mild", traits, np.random.default_rng(0), SMALL)
    with pytest.raises(ValueError, match="needs a severity"):
        generate_slice("CLE", None, traits, np.random.default_rng(0), SMALL)
    with pytest.raises(ValueError, match="unknown severity 'extreme'"):
        generate_slice("PLE", "extreme", traits, np.random.default_rng(0), SMALL)
    with pytest.raises(ValueError, match="at least 32"):
        PhantomSettings(image_size=16)
