"""Triton under load: the configurations the bench serves, and perf_analyzer over gRPC against each.

The bench builds its own small repository (never touching the committed one): one model per
configuration — the fp32 export with dynamic batching as committed, the same graph with dynamic
batching removed, and the int8 export if there is one — each with its `config.pbtxt` derived from
the committed config and symlinks to the exported graph. `deploy.embedded.EmbeddedTriton` serves
them all from one server; each is measured in turn, one concurrency level at a time.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tritonclient.grpc import model_config_pb2

from bench.model_source import ExportedVersion
from bench.perf_analyzer import PerfAnalyzer, measure_concurrency, write_input_data
from bench.perf_csv import merge_perf_csv
from bench.results import InProcess
from bench.served_results import (
    FP32_BATCHING,
    FP32_NO_BATCHING,
    INT8_BATCHING,
    Level,
    ServedResult,
    TritonResults,
)
from bench.settings import BenchSettings
from export.model_repository import CONFIG_FILENAME, ONNX_FILENAME, read_model_config, write_model_config

# The last resort's stability criterion: windows may differ tenfold, i.e. take what was measured.
UNSTABLE_PERCENTAGE = 1000


def plan_variants(
    settings: BenchSettings, fp32: ExportedVersion, int8: ExportedVersion | None
) -> dict[str, ServedResult]:
    """The configurations to serve, keyed as in results.json, not measured yet (no levels)."""
    committed = read_model_config(settings.repository / settings.model / CONFIG_FILENAME)
    plans = [(FP32_BATCHING, "", fp32, True), (FP32_NO_BATCHING, "_no_batching", fp32, False)]
    plans += [] if int8 is None else [(INT8_BATCHING, "_int8", int8, True)]
    variants = {}
    for key, suffix, export, wants_batching in plans:
        batching = wants_batching and committed.HasField("dynamic_batching")
        variants[key] = ServedResult(
            label=f"{export.precision}, dynamic batching {'on' if batching else 'off'}",
            served_name=settings.model + suffix,
            version=export.version,
            precision=export.precision,
            onnx=str(export.onnx_path),
            max_batch_size=committed.max_batch_size,
            dynamic_batching=batching,
            max_queue_delay_us=committed.dynamic_batching.max_queue_delay_microseconds if batching else None,
            levels=(),
        )
    return variants


def write_bench_repository(
    model_directory: Path,
    committed: model_config_pb2.ModelConfig,
    variants: dict[str, ServedResult],
    destination: Path,
) -> None:
    """Write one model per variant into ``destination``, its config derived from the committed one."""
    for variant in variants.values():
        config = model_config_pb2.ModelConfig()
        config.CopyFrom(committed)
        config.name = variant.served_name
        config.ClearField("version_policy")  # the bench repository holds exactly one version
        if not variant.dynamic_batching:
            config.ClearField("dynamic_batching")  # Triton's default scheduler: one request per execution
        target = destination / variant.served_name
        (target / "1").mkdir(parents=True)
        write_model_config(target / CONFIG_FILENAME, config)
        for entry in model_directory.iterdir():  # labels.txt, warmup data and the like
            if entry.name != CONFIG_FILENAME and not entry.name.isdigit() and not entry.name.startswith("."):
                (target / entry.name).symlink_to(entry.resolve())
        (target / "1" / ONNX_FILENAME).symlink_to(Path(variant.onnx).resolve())


def measure_served(
    settings: BenchSettings,
    variants: dict[str, ServedResult],
    onnxruntime: dict[str, InProcess],
    images: np.ndarray,
    analyzer: PerfAnalyzer,
    raw_folder: Path,
) -> TritonResults:
    """Serve the variants and run perf_analyzer on each; ``raw_folder`` keeps each one's CSV and log.

    ``onnxruntime`` (one image's latency in process, per precision) sizes perf_analyzer's windows.
    """
    import tritonclient.grpc as grpcclient

    from deploy.embedded import EmbeddedTriton
    from deploy.settings import ServeSettings

    serve_settings = ServeSettings.on_free_ports(threads=settings.threads)
    model_directory = settings.repository / settings.model
    committed = read_model_config(model_directory / CONFIG_FILENAME)
    with tempfile.TemporaryDirectory(prefix="emphysema-bench-") as work_name:
        work = Path(work_name)
        write_bench_repository(model_directory, committed, variants, work / "repository")
        input_data = write_input_data(images, committed.input[0].name, work / "perf_analyzer_input.json")
        print(f"bench: starting the embedded Triton with {len(variants)} model(s)", flush=True)
        with (
            EmbeddedTriton(work / "repository", serve_settings) as server,
            grpcclient.InferenceServerClient(server.grpc_url) as client,
        ):

            def measure_level(key: str, variant: ServedResult, concurrency: int) -> Level:
                before = _counts(client, variant.served_name)
                latency = onnxruntime[variant.precision].batch_1.p50_latency_ms
                attempts = measurement_attempts(settings, concurrency, latency)
                csv_path = work / f"perf_{key}_c{concurrency:02d}.csv"
                row, window_ms, stability = measure_concurrency(
                    analyzer,
                    variant.served_name,
                    server.grpc_url,
                    concurrency,
                    input_data,
                    csv_path,
                    attempts,
                    settings.max_trials,
                )
                after = _counts(client, variant.served_name)
                return Level(
                    **row,
                    measurement_window_ms=window_ms,
                    stability_percentage=stability,
                    csv=f"perf_{key}.csv",  # the level's row is kept in the variant's merged CSV
                    inference_count=after[0] - before[0],
                    execution_count=after[1] - before[1],
                )

            server_facts = {
                "version": client.get_server_metadata().version,
                "threads": settings.threads,
                "protocol": "grpc",
                "perf_analyzer": analyzer.version,
            }
            measured = {}
            for key, variant in variants.items():
                levels = tqdm(settings.concurrency_levels, desc=f"perf_analyzer {variant.label}")
                levels = tuple(measure_level(key, variant, concurrency) for concurrency in levels)
                csv_paths = [work / f"perf_{key}_c{level.concurrency:02d}.csv" for level in levels]
                merge_perf_csv(csv_paths, raw_folder / f"perf_{key}.csv")
                logs = "\n".join(path.with_suffix(".log").read_text(encoding="utf-8") for path in csv_paths)
                (raw_folder / f"perf_{key}.log").write_text(logs, encoding="utf-8")
                measured[key] = dataclasses.replace(variant, levels=levels)
    return TritonResults(server_facts, measured)


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
