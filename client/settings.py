"""The client's settings: how to reach Triton. One frozen dataclass whose defaults every client uses."""

from __future__ import annotations

import dataclasses

from imaging.contract import ARCHITECTURES, DEFAULT_TRITON_URL
from imaging.errors import UsageError


@dataclasses.dataclass(frozen=True)
class TritonSettings:
    """How to reach Triton. These defaults are the single source of truth for every client.

    Attributes:
        url: the gRPC address, ``host:port``.
        model: the model to classify with.
        timeout_seconds: the deadline of every single call to Triton.
        retries: how many times a transient failure is retried (so at most ``retries + 1`` tries).
        backoff_seconds: the wait before the first retry; it doubles on each further retry.
        max_batch_size: the request size to use when Triton does not reveal the model config.
        concurrency: how many batch requests are in flight at once (lets dynamic batching merge them).
        models: the model names offered when the repository index cannot be read.
    """

    url: str = DEFAULT_TRITON_URL
    model: str = "inceptionv3"
    timeout_seconds: float = 10.0
    retries: int = 3
    backoff_seconds: float = 0.25
    max_batch_size: int = 8
    concurrency: int = 2
    models: tuple[str, ...] = ARCHITECTURES

    def __post_init__(self) -> None:
        if not self.url or "://" in self.url:
            raise UsageError(f"Triton URL must be host:port (gRPC), got {self.url!r}")
        if self.timeout_seconds <= 0:
            raise UsageError(f"timeout_seconds must be positive, got {self.timeout_seconds}")
        if self.retries < 0 or self.backoff_seconds < 0:
            raise UsageError("retries and backoff_seconds must not be negative")
        if self.max_batch_size < 1 or self.concurrency < 1:
            raise UsageError("max_batch_size and concurrency must be at least 1")
