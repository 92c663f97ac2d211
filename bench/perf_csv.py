"""perf_analyzer's `-f` CSV: one row per concurrency level in our keys, joined per configuration."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.settings import BenchError

# CSV column -> our key. Latencies in the CSV are microseconds; we store milliseconds.
LATENCY_COLUMNS: dict[str, str] = {
    "p50 latency": "p50_latency_ms",
    "p90 latency": "p90_latency_ms",
    "p95 latency": "p95_latency_ms",
    "p99 latency": "p99_latency_ms",
    "Client Send": "client_send_ms",
    "Network+Server Send/Recv": "network_server_send_receive_ms",
    "Server Queue": "server_queue_ms",
    "Server Compute Input": "server_compute_input_ms",
    "Server Compute Infer": "server_compute_infer_ms",
    "Server Compute Output": "server_compute_output_ms",
    "Client Recv": "client_receive_ms",
}


def parse_perf_csv(path: Path) -> list[dict[str, Any]]:
    """Parse perf_analyzer's `-f` CSV into one dictionary per concurrency level.

    Returns:
        Rows with ``concurrency``, ``throughput`` (inferences/s) and latencies in milliseconds.

    Raises:
        BenchError: naming the file, when it is missing or lacks the expected columns.
    """
    if not path.is_file():
        raise BenchError(f"{path}: perf_analyzer wrote no CSV")
    with path.open(newline="", encoding="utf-8") as handle:
        lines = _first_block(handle)
    rows = list(csv.DictReader(lines))
    required = {"Concurrency", "Inferences/Second", *LATENCY_COLUMNS}
    if not rows or not required <= set(rows[0]):
        missing = sorted(required - set(rows[0])) if rows else sorted(required)
        raise BenchError(f"{path}: not a perf_analyzer CSV (missing columns {missing})")
    return [
        {
            "concurrency": int(row["Concurrency"]),
            "throughput": float(row["Inferences/Second"]),
            **{key: float(row[column]) / 1000.0 for column, key in LATENCY_COLUMNS.items()},
        }
        for row in rows
    ]


def _first_block(handle: Iterable[str]) -> list[str]:
    # perf_analyzer appends extra sections (e.g. metrics) after a blank line: stop there.
    return list(itertools.takewhile(str.strip, handle))


def merge_perf_csv(paths: list[Path], destination: Path) -> Path:
    """Join one-level perf_analyzer CSVs into one: the header once, then every row verbatim.

    Raises:
        BenchError: when the files' headers differ (they came from different perf_analyzer versions).
    """
    blocks = [_first_block(path.read_text(encoding="utf-8").splitlines(keepends=True)) for path in paths]
    for path, block in zip(paths, blocks, strict=True):
        if block[0] != blocks[0][0]:
            raise BenchError(f"{path}: its CSV header differs from {paths[0]}'s")
    destination.write_text(
        "".join([blocks[0][0], *(row for block in blocks for row in block[1:])]), encoding="utf-8"
    )
    return destination
