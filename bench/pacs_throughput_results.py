"""What one `python -m bench.pacs_throughput` run measured, as typed records (its throughput.json).

They follow `bench.results`' conventions (frozen; their JSON form written and read by
`bench.results_json` alone).
"""

from __future__ import annotations

import dataclasses
from typing import Any

record = dataclasses.dataclass(frozen=True)


@record
class StudySet:
    """The phantom studies stored into the PACS, and how much of each was analysed."""

    count: int
    size: str
    slice_step: int


@record
class ServedModel:
    """Which model Triton served: its ONNX file's SHA-256 and, when exported, its card's facts."""

    name: str
    onnx_sha256: str
    export_command: str
    architecture: str
    image_size: int | None
    field_of_view_mm_in_config: bool


@record
class WorkerRun:
    """``workers`` shard processes at once, timed from their start until the last one exits."""

    workers: int
    seconds: float
    studies_analysed: int
    studies_per_minute: float
    exit_statuses: tuple[int, ...]
    errors: tuple[str, ...]  # the first lines of the workers' stderr that mention an error
    mean_study_seconds: dict[str, float]  # analyze's steps, averaged over the studies
    tiles: int


@record
class PacsThroughputResults:
    """Studies per minute from a real PACS at each worker count, with the machine and the model."""

    what: str
    command: str
    commit: str  # empty outside a git checkout
    cpu: dict[str, Any]  # emphysema.versions.cpu_facts
    load_average_before: tuple[float, ...]
    load_average_after: tuple[float, ...]
    shared_machine: bool
    versions: dict[str, str]
    studies: StudySet
    model: ServedModel
    runs: tuple[WorkerRun, ...]
