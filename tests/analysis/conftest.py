"""Small synthetic chest-CT studies with pattern maps, generated once per session (about 2 s each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from study.phantom.command import write_study
from study.phantom.settings import settings_for_size


def make_study(root: Path, name: str, pattern: str, severity: str | None, seed: int) -> Path:
    folder = root / name
    write_study(folder, pattern, severity, seed, settings_for_size("small"), nifti=False)
    return folder


@pytest.fixture(scope="session")
def studies(tmp_path_factory) -> dict[str, Path]:
    """A severe CLE+PSE study and a severe PLE study, side by side in one folder."""
    root = tmp_path_factory.mktemp("analysis_studies")
    return {
        "mixed": make_study(root, "mixed", "CLE+PSE", "severe", 101),
        "panlobular": make_study(root, "panlobular", "PLE", "severe", 202),
    }
