"""What one `emphysema bench study` run measured, as typed records (its results.json).

They follow `bench.results`' conventions (frozen; their JSON form written and read by
`bench.results_json` alone); the goals' verdicts are `bench.results.GoalVerdict`, as the main
bench's are.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.results import GoalVerdict
from bench.study_settings import StudyBenchSettings

record = dataclasses.dataclass(frozen=True)
IN_PROCESS, SERVED = "onnxruntime", "triton"


@record
class StudyEnvironment:
    """The CPU, its load and this process's niceness, the packages and the date."""

    cpu: dict[str, Any]  # emphysema.versions.cpu_facts
    load_average_at_start: tuple[float, ...]
    nice: int
    packages: dict[str, str]
    date_utc: str
    load_average_at_end: tuple[float, ...] = ()


@record
class StudyFacts:
    """The phantom study analysed, and how long generating it took (not timed in the figures)."""

    size: str
    matrix: int
    pattern: str
    severity: str
    seed: int
    slice_thickness_mm: float
    truth_laa950_percent: float | None
    generate_seconds: float


@record
class EndToEnd:
    """The fastest end-to-end analysis of the study: its wall time and each step's seconds."""

    wall_seconds: float
    steps: dict[str, float]  # bench.study_settings.STEPS, in order
    tiles: dict[str, int]  # the analysis report's tiles: count, side_px, cell_px, analysed_slices
    model: dict[str, Any]  # the analysis report's model: name, versions, image size, field of view
    analysis_settings: dict[str, Any]
    shape: tuple[int, ...]
    spacing_mm: tuple[float, ...]
    dominant: str
    all_wall_seconds: tuple[float, ...] = ()  # every run's, the fastest counting


@record
class PathTiming:
    """One path at one batch size: the fastest round's ROIs per second and every round's seconds."""

    rois_per_second: float
    round_seconds: tuple[float, ...]


@record
class BatchTiming:
    """Every path at one batch size, on the same ROIs."""

    batch_size: int
    paths: dict[str, PathTiming]

    @property
    def served_ratio(self) -> float:
        """Served / in-process ROIs per second."""
        return round(self.paths[SERVED].rois_per_second / self.paths[IN_PROCESS].rois_per_second, 3)


@record
class Agreement:
    """How many of the ROIs a path labels as the in-process path does."""

    same: int
    of: int


@record
class OnnxFacts:
    """The ONNX file classified in process: the version Triton serves."""

    model: str
    version: int
    threads: int


@record
class Comparison:
    """Served against in process (and any GPU provider) on the same ROIs at the same batch sizes."""

    rois: int
    batches: tuple[BatchTiming, ...]
    served_by: str
    request_concurrency: int
    max_batch_size: int
    onnx: OnnxFacts
    label_agreement_with_in_process: dict[str, Agreement]
    gpu_skipped: dict[str, str]

    def at(self, batch_size: int) -> BatchTiming:
        """The timings at ``batch_size``."""
        return next(batch for batch in self.batches if batch.batch_size == batch_size)


@record
class StudyBenchResults:
    """Everything one `emphysema bench study` run measured and concluded (results.json)."""

    command: str
    settings: StudyBenchSettings
    environment: StudyEnvironment
    study: StudyFacts
    end_to_end: EndToEnd
    comparison: Comparison
    duration_seconds: float
    goals: tuple[GoalVerdict, ...] = ()  # by `bench.goals.judge_study`
