"""Time a callable repeatedly and summarise it as throughput and latency percentiles."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from bench.results import CallTiming

WARMUP_CALLS = 2


@dataclasses.dataclass(frozen=True)
class Timing:
    """The wall-clock seconds of every timed call, in order; each call processes ``items_per_call`` images."""

    items_per_call: int
    call_seconds: tuple[float, ...]

    def summary(self) -> CallTiming:
        """Return throughput (images/s over all calls), latency percentiles and the number of calls."""
        seconds = np.asarray(self.call_seconds)
        p50, p95, p99 = (float(value) * 1000.0 for value in np.percentile(seconds, (50, 95, 99)))
        return CallTiming(
            batch_size=self.items_per_call,
            calls=len(seconds),
            throughput=self.items_per_call * len(seconds) / sum(self.call_seconds),
            mean_latency_ms=float(np.mean(seconds) * 1000.0),
            p50_latency_ms=p50,
            p95_latency_ms=p95,
            p99_latency_ms=p99,
        )


def time_calls(
    function: Callable[[], object], items_per_call: int, minimum_seconds: float, minimum_calls: int = 3
) -> Timing:
    """Call ``function`` until both ``minimum_seconds`` and ``minimum_calls`` are reached.

    The ``WARMUP_CALLS`` first are not timed: first calls allocate buffers and pick kernels.
    """
    if items_per_call < 1 or minimum_calls < 1:
        raise ValueError(
            f"items_per_call and minimum_calls must be >= 1, got {items_per_call}, {minimum_calls}"
        )
    for _ in range(WARMUP_CALLS):
        function()
    durations: list[float] = []
    started = time.perf_counter()
    while len(durations) < minimum_calls or time.perf_counter() - started < minimum_seconds:
        before = time.perf_counter()
        function()
        durations.append(time.perf_counter() - before)
    return Timing(items_per_call=items_per_call, call_seconds=tuple(durations))
