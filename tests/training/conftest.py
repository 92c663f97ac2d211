"""Fixtures for the training tests: a tiny on-disk data set in the manifest layout.

The images are 16-bit PNGs storing HU + 1024, like `emphysema synth` writes, with a crude
class-dependent pattern (the phantom generator is tested elsewhere; these tests need a data set
that is small and fast to read, with patients, severities and all four classes).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imaging.contract import CLASS_NAMES

TINY_SIZE = 40
PATIENTS_PER_CLASS = 4
SLICES_PER_PATIENT = 2
SEVERITY_BY_CLASS = {"NT": "", "CLE": "mild", "PSE": "moderate", "PLE": "severe"}


def _tiny_slice(label: str, rng: np.random.Generator) -> np.ndarray:
    """HU pixels: normal lung around -850 with a class-specific low-attenuation pattern."""
    hounsfield = rng.normal(-850.0, 40.0, (TINY_SIZE, TINY_SIZE))
    if label == "CLE":  # scattered small lucencies
        for row, column in rng.integers(4, TINY_SIZE - 4, (6, 2)):
            hounsfield[row - 2 : row + 2, column - 2 : column + 2] = -990.0
    elif label == "PSE":  # a row of lucencies along one edge
        hounsfield[:, :5] = -985.0
    elif label == "PLE":  # diffuse low attenuation
        hounsfield -= 110.0
    return np.clip(hounsfield + 1024.0, 0, 65535).astype(np.uint16)


def write_tiny_dataset(root: Path, seed: int = 0, patients_per_class: int = PATIENTS_PER_CLASS) -> Path:
    """Write ``root/CLASS/PATIENT_sNN.png`` and ``root/manifest.csv``; return ``root``."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in CLASS_NAMES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for patient in range(patients_per_class):
            patient_id = f"{label.lower()}{patient:02d}"
            for slice_index in range(SLICES_PER_PATIENT):
                relative = f"{label}/{patient_id}_s{slice_index:02d}.png"
                Image.fromarray(_tiny_slice(label, rng)).save(root / relative)
                rows.append(
                    {
                        "path": relative,
                        "label": label,
                        "patient_id": patient_id,
                        "severity": SEVERITY_BY_CLASS[label],
                    }
                )
    with open(root / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "patient_id", "severity"])
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32-image data set: 4 classes x 4 patients x 2 slices of 40 px (read-only for tests)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture(scope="session")
def two_patients_per_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Too small for the default split: 4 classes x 2 patients x 2 slices (read-only for tests)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("two_per_class"), patients_per_class=2)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """A run folder from one epoch of simple_cnn at 32 px on the tiny data set (shared, read-only)."""
    from training.train import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    status = main(
        [
            "--data",
            str(tiny_dataset),
            "--architecture",
            "simple_cnn",
            "--out",
            str(out),
            "--image-size",
            "32",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--seed",
            "3",
        ]
    )
    assert status == 0
    return out
