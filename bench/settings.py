"""The benchmark's settings: one frozen dataclass whose defaults are the single source of truth."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, ClassVar

from imaging.contract import DEFAULT_REPOSITORY
from imaging.errors import EmphysemaError, UsageError


class BenchError(EmphysemaError):
    """A benchmark that cannot run as asked; the message names the file or setting and says why."""


def _default_threads() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """Everything that decides what a benchmark run measures and how long it takes.

    Attributes:
        model: the model's folder in the repository (the name Triton serves).
        repository: the ONNX model repository written by `emphysema export`.
        out: where results.json, report.md, the plot and the raw perf_analyzer CSVs go.
        version: the fp32 model version to measure; None takes the newest fp32 version.
        quick: a smoke run (fewer levels, shorter windows) that ends within two minutes.
        threads: onnxruntime/Triton intra-op threads, the same for every path so they compare.
        sample_count: distinct synthetic scans fed to every path (perf_analyzer cycles through them).
        keras_calls: timed `model.predict` calls of one image each (the paper's way).
        minimum_seconds: the least time each in-process measurement runs (after warm-up).
        batch_sizes: onnxruntime in-process batch sizes on the CPU.
        gpu_batch_sizes: onnxruntime batch sizes on a GPU provider, where one exists.
        concurrency_start: the first perf_analyzer concurrency level.
        concurrency_end: the last perf_analyzer concurrency level.
        concurrency_step: the step between levels.
        measurement_interval_ms: perf_analyzer's shortest measurement window.
        window_requests: answers per client a window should hold at the expected latency; windows
            grow with concurrency x one image's in-process latency x this.
        max_trials: perf_analyzer windows per level before it settles for an unstable result.
        stability_percentage: how much consecutive windows may differ to count as stable.
        matmul_size: n of the n x n float32 matrix multiplies among the compute ceiling's kernels.
        comparison_concurrency: the level at which dynamic batching on and off are compared.
        include_int8: also measure the newest int8 export, when the repository has one.
    """

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("concurrency_levels",)  # written beside the fields
    model: str = "inceptionv3"
    repository: Path = Path(DEFAULT_REPOSITORY)
    out: Path = Path("bench/results")
    version: int | None = None
    quick: bool = False
    threads: int = dataclasses.field(default_factory=_default_threads)
    sample_count: int = 16
    keras_calls: int = 40
    minimum_seconds: float = 3.0
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    gpu_batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    concurrency_start: int = 1
    concurrency_end: int = 16
    concurrency_step: int = 1
    measurement_interval_ms: int = 2000
    window_requests: int = 4
    max_trials: int = 6
    stability_percentage: int = 15
    matmul_size: int = 2048
    comparison_concurrency: int = 8
    include_int8: bool = True

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # every plain integer setting is a count or a size
            if field.type == "int" and getattr(self, field.name) < 1:
                raise UsageError(f"{field.name} must be at least 1, got {getattr(self, field.name)}")
        if self.version is not None and self.version < 1:
            raise UsageError(f"version must be a positive integer, got {self.version}")
        if self.concurrency_end < self.concurrency_start:
            raise UsageError(
                f"concurrency_end ({self.concurrency_end}) is below concurrency_start "
                f"({self.concurrency_start})"
            )
        if self.comparison_concurrency not in self.concurrency_levels:
            raise UsageError(
                f"comparison_concurrency {self.comparison_concurrency} is not one of the "
                f"measured levels {self.concurrency_levels}"
            )
        if not self.minimum_seconds > 0:
            raise UsageError(f"minimum_seconds must be positive, got {self.minimum_seconds}")
        for name in ("batch_sizes", "gpu_batch_sizes"):
            sizes = getattr(self, name)
            if not sizes or min(sizes) < 1:
                raise UsageError(f"{name} must be positive integers, got {sizes}")

    @property
    def concurrency_levels(self) -> tuple[int, ...]:
        """The concurrency levels perf_analyzer drives, in order."""
        return tuple(range(self.concurrency_start, self.concurrency_end + 1, self.concurrency_step))


# A smoke run: the same measurements with fewer levels and shorter windows (under 2 min on 2 cores).
QUICK_OVERRIDES: dict[str, Any] = {
    "quick": True,
    "sample_count": 4,
    "keras_calls": 6,
    "minimum_seconds": 0.5,
    "batch_sizes": (1, 4),
    "gpu_batch_sizes": (1, 8),
    "concurrency_start": 1,
    "concurrency_end": 8,
    "concurrency_step": 7,
    "measurement_interval_ms": 800,
    "window_requests": 2,
    "max_trials": 3,
    "stability_percentage": 50,
    "matmul_size": 768,
}


def quick_settings(**overrides: Any) -> BenchSettings:
    """Return the smoke-run settings, with any field overridden."""
    return BenchSettings(**{**QUICK_OVERRIDES, **overrides})
