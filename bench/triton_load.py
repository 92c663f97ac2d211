"""Triton under load: perf_analyzer over gRPC against the embedded server, per configuration.

The configurations live in the bench's own repository (`bench.served_variants`);
`deploy.embedded.EmbeddedTriton` writes its python-backend twin and serves all of them from one
server, and each is measured in turn, one concurrency level at a time.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.perf_analyzer import PerfAnalyzer, measure_concurrency, write_input_data
from bench.perf_csv import merge_perf_csv
from bench.served_results import Level, TritonResults
from bench.served_variants import ServedVariant, served_result
from bench.settings import BenchSettings
from export.model_repository import CONFIG_FILENAME, read_model_config

# The last resort's stability criterion: windows may differ tenfold, i.e. take what was measured.
UNSTABLE_PERCENTAGE = 1000


def measure_served(
    repository: Path,
    variants: list[ServedVariant],
    images: np.ndarray,
    settings: BenchSettings,
    analyzer: PerfAnalyzer,
    work_folder: Path,
    raw_folder: Path,
) -> TritonResults:
    """Serve the bench repository (`write_bench_repository`) and run perf_analyzer on each variant in turn.

    ``work_folder`` gets the input JSON and one CSV and log per level; ``raw_folder`` keeps each
    variant's CSV (perf_analyzer's rows, verbatim) and log.
    """
    import tritonclient.grpc as grpcclient

    from deploy.embedded import EmbeddedTriton
    from deploy.ports import free_ports
    from deploy.settings import ServeSettings

    grpc_port, http_port, metrics_port = free_ports(3)
    serve_settings = ServeSettings(
        grpc_port=grpc_port, http_port=http_port, metrics_port=metrics_port, threads=settings.threads
    )
    input_name = read_model_config(repository / variants[0].served_name / CONFIG_FILENAME).input[0].name
    input_data = write_input_data(images, input_name, work_folder / "perf_analyzer_input.json")
    print(f"bench: starting the embedded Triton with {len(variants)} model(s)", flush=True)
    with (
        EmbeddedTriton(repository, serve_settings) as server,
        grpcclient.InferenceServerClient(server.grpc_url) as client,
    ):

        def measure_level(variant: ServedVariant, concurrency: int) -> Level:
            before = _counts(client, variant.served_name)
            attempts = measurement_attempts(settings, concurrency, variant.image_latency_ms)
            csv_path = work_folder / f"perf_{variant.key}_c{concurrency:02d}.csv"
            url, model = server.grpc_url, variant.served_name
            row, window_ms, stability = measure_concurrency(
                analyzer, model, url, concurrency, input_data, csv_path, attempts, settings.max_trials
            )
            after = _counts(client, variant.served_name)
            return Level(
                **row,
                measurement_window_ms=window_ms,
                stability_percentage=stability,
                csv=csv_path.name,
                inference_count=after[0] - before[0],
                execution_count=after[1] - before[1],
            )

        server_facts = {
            "version": client.get_server_metadata().version,
            "threads": settings.threads,
            "protocol": "grpc",
            "perf_analyzer": analyzer.version,
        }
        results = {}
        for variant in variants:
            levels = [
                measure_level(variant, concurrency)
                for concurrency in tqdm(settings.concurrency_levels, desc=f"perf_analyzer {variant.label}")
            ]
            csv_paths = [work_folder / level.csv for level in levels]
            merged = merge_perf_csv(csv_paths, raw_folder / f"perf_{variant.key}.csv")
            logs = "\n".join(path.with_suffix(".log").read_text(encoding="utf-8") for path in csv_paths)
            (raw_folder / f"perf_{variant.key}.log").write_text(logs, encoding="utf-8")
            levels = [dataclasses.replace(level, csv=merged.name) for level in levels]
            results[variant.key] = served_result(repository, variant, levels)
    return TritonResults(server_facts, results)


def measurement_attempts(
    settings: BenchSettings, concurrency: int, image_latency_ms: float
) -> list[tuple[int, int]]:
    """(window ms, stability %) pairs to try in turn, each longer and looser than the one before.

    A window must hold several answers for every client: at concurrency c a request may wait for
    c images' worth of compute, so the window is at least `window_requests` x c x one image's
    latency. perf_analyzer gives up when consecutive windows disagree (a shared machine is noisy)
    or when a window sees no answer at all; the next attempt doubles the window and the tolerance,
    and the last accepts any three windows (`UNSTABLE_PERCENTAGE`), which the report flags.
    """
    expected_ms = settings.window_requests * concurrency * image_latency_ms
    window = max(settings.measurement_interval_ms, math.ceil(expected_ms))
    stability = settings.stability_percentage
    return [(window, stability), (2 * window, min(100, 2 * stability)), (2 * window, UNSTABLE_PERCENTAGE)]


def _counts(client, model_name: str) -> tuple[int, int]:
    """Triton's cumulative (inference count, execution count) for a model: their ratio is the mean batch."""
    statistics = client.get_inference_statistics(model_name=model_name).model_stats
    return (
        sum(entry.inference_count for entry in statistics),
        sum(entry.execution_count for entry in statistics),
    )
