"""What Triton served during a bench run, measured: each configuration's concurrency levels.

The records follow `bench.results`' conventions (frozen, ``JSON_PROPERTIES``), and their JSON
form is written and read by `bench.results_json`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

# The served configurations' keys in results.json (and in the raw CSV names).
FP32_BATCHING = "fp32_dynamic_batching"
FP32_NO_BATCHING = "fp32_no_batching"
INT8_BATCHING = "int8_dynamic_batching"


@dataclasses.dataclass(frozen=True)
class Level:
    """One perf_analyzer concurrency level (its CSV row, latencies in ms) and Triton's own counts."""

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("mean_batch_size",)
    concurrency: int
    throughput: float
    p50_latency_ms: float
    p90_latency_ms: float
    p95_latency_ms: float
    p99_latency_ms: float
    client_send_ms: float
    network_server_send_receive_ms: float
    server_queue_ms: float
    server_compute_input_ms: float
    server_compute_infer_ms: float
    server_compute_output_ms: float
    client_receive_ms: float
    measurement_window_ms: int
    stability_percentage: int
    csv: str
    inference_count: int
    execution_count: int

    @property
    def mean_batch_size(self) -> float | None:
        """Requests per model execution over the level (None when Triton counted none)."""
        return self.inference_count / self.execution_count if self.execution_count else None


@dataclasses.dataclass(frozen=True)
class ServedResult:
    """One configuration Triton served, measured at every concurrency level."""

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("best",)
    label: str
    served_name: str
    version: int
    precision: str
    onnx: str
    max_batch_size: int
    dynamic_batching: bool
    max_queue_delay_us: int | None
    levels: tuple[Level, ...]

    @property
    def best(self) -> Level:
        """The level with the highest throughput."""
        return max(self.levels, key=lambda level: level.throughput)

    def at(self, concurrency: int) -> Level:
        """The level measured at ``concurrency``."""
        return next(level for level in self.levels if level.concurrency == concurrency)


@dataclasses.dataclass(frozen=True)
class TritonResults:
    """The server (version, threads, protocol, perf_analyzer) and each configuration it served."""

    server: dict[str, Any]
    variants: dict[str, ServedResult]
