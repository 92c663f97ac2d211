"""Settings of `emphysema bench study`: one frozen dataclass, the single source of truth.

Its goals are `bench.goals.STUDY_GOALS`, beside the main bench's.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from imaging.contract import DEFAULT_REPOSITORY
from imaging.errors import UsageError

# The steps of one analysed study, in order; their seconds add up to the study's wall time.
STEPS: tuple[str, ...] = ("read", "segment", "tile", "inference", "summarise", "write")
SIZES: tuple[str, ...] = ("small", "medium", "full")


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class StudyBenchSettings:
    """What `emphysema bench study` measures.

    Attributes:
        model: the served model (an ROI model exported with a ``field_of_view_mm`` parameter).
        repository: the exported model repository; the embedded Triton serves it and onnxruntime
            opens the same ONNX file in process.
        out: the results folder (results.json, report.md, study_bench_settings.json).
        url: an already running Triton to measure instead of starting the embedded one (a GPU
            Triton, say); None starts the embedded Triton over ``repository``.
        size: the phantom study's matrix (``full``: 512 x 512, the benchmark's size).
        slice_thickness_mm: the phantom's slice thickness and interval (1 mm: a usual chest CT).
        pattern: the phantom's emphysema pattern.
        severity: the phantom's severity.
        seed: the phantom's seed.
        threads: onnxruntime intra-op threads, in process and in the embedded Triton alike.
        batch_sizes: request sizes of the served / in-process comparison; sizes above the model's
            ``max_batch_size`` are dropped and ``max_batch_size`` itself is always measured.
        comparison_rois: ROIs of the study (evenly spaced among all its tiles) each path classifies
            per round at each batch size.
        rounds: alternating rounds per path and batch size; the fastest round counts, since load
            from other work only ever slows a round down.
        end_to_end_runs: how many times the study is analysed end to end; the fastest run counts
            (every run's wall time is recorded).
    """

    model: str = "simple_cnn"
    repository: Path = Path(DEFAULT_REPOSITORY)
    out: Path = Path("bench/results/study_analysis")
    url: str | None = None
    size: str = "full"
    slice_thickness_mm: float = 1.0
    pattern: str = "CLE+PSE"
    severity: str = "moderate"
    seed: int = 31
    threads: int = dataclasses.field(default_factory=_available_cores)
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    comparison_rois: int = 2048
    rounds: int = 3
    end_to_end_runs: int = 2

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise UsageError(f"study size must be one of {', '.join(SIZES)}, got {self.size!r}")
        if not self.slice_thickness_mm > 0:
            raise UsageError(f"the slice thickness must be positive, got {self.slice_thickness_mm}")
        for name in ("threads", "comparison_rois", "rounds", "end_to_end_runs"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise UsageError(f"batch sizes must be at least 1, got {self.batch_sizes}")

    def batch_sizes_for(self, max_batch_size: int) -> tuple[int, ...]:
        """The batch sizes to compare for a model: the chosen ones it accepts, and its maximum."""
        return tuple(sorted({size for size in self.batch_sizes if size <= max_batch_size} | {max_batch_size}))
