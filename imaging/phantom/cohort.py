"""Plan a synthetic cohort: which patient has which class, severity and traits.

Two choices keep the data set honest:

- Nuisance traits (kernel, noise, lung density, field of view, chest wall, fissure) are drawn
  independently for every patient from one distribution, whatever the class. The class cannot be
  read from the scanner or the field of view. (An earlier design gave every class the same pool
  of trait sets, one each; that made traits *anti*-predictive on held-out patients, because a
  held-out patient's trait-mates in training all had other labels.)
- Severities cycle through ``SEVERITIES`` within each class (shuffled), so every class has the
  same spread of trace-to-severe patients; trace and mild overlap with normal on purpose.

Patient ids (``P0001``...) are assigned in a shuffled class order, so an id says nothing about
the class. Every generator is seeded from ``(seed, purpose, patient, slice)``: same seed, same
data set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from imaging.classes import SEVERITIES
from imaging.contract import CLASS_NAMES
from imaging.phantom.generator import PatientTraits, draw_patient_traits
from imaging.phantom.settings import DEFAULT_SETTINGS, PhantomSettings

# Distinct tags keep the planning stream apart from the per-slice streams.
PLAN_STREAM = 0
SLICE_STREAM = 1


@dataclasses.dataclass(frozen=True)
class PatientPlan:
    """One synthetic patient: id, class, severity (None for NT) and traits."""

    index: int
    patient_id: str
    label: str
    severity: str | None
    traits: PatientTraits


def allocate_patients(patients: int, class_weights: Mapping[str, float] | None = None) -> dict[str, int]:
    """Split ``patients`` over the classes in proportion to ``class_weights`` (largest remainder).

    Raises:
        ValueError: unknown class names, negative weights, or weights that sum to zero.
    """
    if patients < 1:
        raise ValueError(f"the number of patients must be at least 1, got {patients}")
    weights = {name: 1.0 for name in CLASS_NAMES} if class_weights is None else dict(class_weights)
    unknown = sorted(set(weights) - set(CLASS_NAMES))
    if unknown:
        raise ValueError(f"unknown class(es) {', '.join(unknown)}; expected {', '.join(CLASS_NAMES)}")
    values = np.array([float(weights.get(name, 0.0)) for name in CLASS_NAMES])
    if (values < 0).any() or not values.sum() > 0:
        raise ValueError(f"class weights must be non-negative and not all zero, got {weights}")
    shares = patients * values / values.sum()
    counts = np.floor(shares).astype(int)
    for position in np.argsort(-(shares - counts), kind="stable")[: patients - counts.sum()]:
        counts[position] += 1
    return dict(zip(CLASS_NAMES, counts.tolist(), strict=True))


def plan_cohort(
    patients: int,
    seed: int,
    class_weights: Mapping[str, float] | None = None,
    settings: PhantomSettings = DEFAULT_SETTINGS,
) -> list[PatientPlan]:
    """Plan ``patients`` synthetic patients, one class and one severity each, ordered by id."""
    counts = allocate_patients(patients, class_weights)
    rng = np.random.default_rng([seed, PLAN_STREAM])
    labels = np.array([name for name in CLASS_NAMES for _ in range(counts[name])])
    order = rng.permutation(len(labels))
    assigned: dict[str, list[tuple[str | None, PatientTraits]]] = {}
    for name in CLASS_NAMES:
        count = counts[name]
        nuisance = [draw_patient_traits(rng, settings) for _ in range(count)]
        offset = int(rng.integers(len(SEVERITIES)))
        severities = [SEVERITIES[(offset + step) % len(SEVERITIES)] for step in range(count)]
        severities = [severities[position] for position in rng.permutation(count)]
        assigned[name] = [
            (None if name == "NT" else severity, traits)
            for severity, traits in zip(severities, nuisance, strict=True)
        ]
    plans = []
    for index, label in enumerate(labels[order]):
        severity, drawn = assigned[str(label)].pop()
        # Anatomy and the place inside the severity range belong to this patient alone.
        traits = dataclasses.replace(
            drawn, anatomy_seed=int(rng.integers(2**31)), severity_position=float(rng.random())
        )
        plans.append(PatientPlan(index, f"P{index + 1:04d}", str(label), severity, traits))
    return plans


def slice_generator(seed: int, patient_index: int, slice_index: int) -> np.random.Generator:
    """Return the generator for one slice of one patient in a cohort made with ``seed``."""
    return np.random.default_rng([seed, SLICE_STREAM, patient_index, slice_index])
