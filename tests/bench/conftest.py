"""A tiny but real exported run for the bench tests: the shared tiny run, exported fp32 and int8.

The bench needs what a user's repository has: `model.onnx` versions with model cards that point
at the source run's `model.keras`. The tiny run (`tests/conftest.py`) has learnt its classes, so
the int8 accuracy change is a real measurement.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODEL_NAME = "inceptionv3"


def export_versions(run: Path, repository: Path) -> Path:
    """Export the run twice into ``repository``: version 1 fp32, version 2 int8."""
    from export.exporter import export_run
    from export.settings import ExportSettings
    from training.run_folder import read_run

    for precision in ("fp32", "int8"):
        settings = ExportSettings(
            model_name=MODEL_NAME,
            precision=precision,
            max_batch_size=8,
            queue_delay_us=2000,
            force=True,
            parity_samples=4,
            calibration_samples=16,
        )
        export_run(read_run(run), repository, settings, command=f"test export {precision}")
    return repository


@pytest.fixture(scope="session")
def bench_repository(tiny_run, tmp_path_factory) -> Path:
    """A model repository with `inceptionv3` version 1 (fp32) and 2 (int8) of the shared tiny run."""
    return export_versions(tiny_run, tmp_path_factory.mktemp("bench") / "model_repository")
