"""Small synthetic chest-CT studies, generated once per test session (about 2 s each)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from study.phantom.command import write_study
from study.phantom.settings import settings_for_size


def _make(root: Path, name: str, pattern: str, severity: str | None, seed: int, nifti: bool = False) -> Path:
    folder = root / name
    write_study(folder, pattern, severity, seed, settings_for_size("small"), nifti=nifti)
    return folder


@pytest.fixture(scope="session")
def studies_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("studies")


@pytest.fixture(scope="session")
def mixed_study(studies_root) -> Path:
    """A severe CLE+PSE study with its NIfTI twin."""
    return _make(studies_root, "mixed", "CLE+PSE", "severe", 101, nifti=True)


@pytest.fixture(scope="session")
def panlobular_study(studies_root) -> Path:
    return _make(studies_root, "ple", "PLE", "severe", 202)


def truth_of(folder: Path) -> dict:
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))


def anatomy_of(folder: Path) -> np.ndarray:
    return np.load(folder / "labels.npz")["anatomy"]
