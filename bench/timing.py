"""Time a callable repeatedly and summarise it as throughput and latency percentiles."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

PERCENTILES: tuple[int, ...] = (50, 95, 99)


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls that each process ``items_per_call`` images.

    Attributes:
        items_per_call: images per call (the batch size).
        call_seconds: the duration of every timed call, in order.
    """

    items_per_call: int
    call_seconds: tuple[float, ...]

    @property
    def throughput(self) -> float:
        """Images per second over all timed calls."""
        return self.items_per_call * len(self.call_seconds) / sum(self.call_seconds)

    def latency_ms(self, percentile: float) -> float:
        """The given percentile of one call's latency, in milliseconds."""
        return float(np.percentile(np.asarray(self.call_seconds), percentile) * 1000.0)

    def summary(self) -> dict[str, Any]:
        """Return throughput, latency percentiles and the number of calls, JSON-ready."""
        result: dict[str, Any] = {
            "batch_size": self.items_per_call,
            "calls": len(self.call_seconds),
            "throughput": self.throughput,
            "mean_latency_ms": float(np.mean(self.call_seconds) * 1000.0),
        }
        result.update(
            {f"p{percentile}_latency_ms": self.latency_ms(percentile) for percentile in PERCENTILES}
        )
        return result


def time_calls(
    function: Callable[[], object],
    items_per_call: int,
    minimum_seconds: float,
    minimum_calls: int = 3,
    maximum_calls: int | None = None,
    warmup_calls: int = 2,
) -> Timing:
    """Call ``function`` until both ``minimum_seconds`` and ``minimum_calls`` are reached.

    The warm-up calls are not timed: first calls allocate buffers and pick kernels.

    Args:
        function: processes ``items_per_call`` images per call.
        items_per_call: images per call.
        minimum_seconds: the least total timed duration.
        minimum_calls: the least number of timed calls.
        maximum_calls: stop after this many timed calls even if ``minimum_seconds`` is not reached.
        warmup_calls: untimed calls first.

    Returns:
        The duration of every timed call.
    """
    if items_per_call < 1 or minimum_calls < 1:
        raise ValueError(
            f"items_per_call and minimum_calls must be >= 1, got {items_per_call}, {minimum_calls}"
        )
    for _ in range(warmup_calls):
        function()
    durations: list[float] = []
    started = time.perf_counter()
    while True:
        before = time.perf_counter()
        function()
        durations.append(time.perf_counter() - before)
        enough_time = time.perf_counter() - started >= minimum_seconds
        if len(durations) >= minimum_calls and (
            enough_time or (maximum_calls is not None and len(durations) >= maximum_calls)
        ):
            break
    return Timing(items_per_call=items_per_call, call_seconds=tuple(durations))
