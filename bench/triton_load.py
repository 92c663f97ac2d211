"""Triton under load: perf_analyzer over gRPC against the embedded server, per configuration.

The bench builds its own small model repository next to its results (never touching the
committed one): one model per configuration — the fp32 export with dynamic batching as
committed, the same graph with dynamic batching removed, and the int8 export if there is one —
each with its `config.pbtxt` derived from the committed config. `deploy.embedded.EmbeddedTriton`
then writes its python-backend twin and serves all of them from one server, measured one at a time.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format
from tqdm import tqdm

from bench.perf_analyzer import (
    PerfAnalyzer,
    merge_perf_csv,
    parse_perf_csv,
    perf_analyzer_arguments,
    run_perf_analyzer,
    write_input_data,
)
from bench.settings import BenchError, BenchSettings
from deploy.twin import CONFIG_FILENAME, read_model_config

# The last resort's stability criterion: windows may differ tenfold, i.e. take what was measured.
UNSTABLE_PERCENTAGE = 1000


@dataclasses.dataclass(frozen=True)
class ServedVariant:
    """One configuration Triton serves during the bench.

    Attributes:
        key: its key in results.json, e.g. ``"fp32_dynamic_batching"``.
        served_name: the model name in the bench repository (what perf_analyzer asks for).
        onnx_path: the exported graph.
        version: the export's version in the committed repository.
        precision: fp32 or int8 (from the model card).
        dynamic_batching: whether Triton may merge concurrent requests into one batch.
        image_latency_ms: one image's in-process latency; sizes perf_analyzer's windows so each
            holds several answers even at high concurrency.
    """

    key: str
    served_name: str
    onnx_path: Path
    version: int
    precision: str
    dynamic_batching: bool
    image_latency_ms: float = 0.0

    @property
    def label(self) -> str:
        """A human name, e.g. ``"fp32, dynamic batching on"``."""
        return f"{self.precision}, dynamic batching {'on' if self.dynamic_batching else 'off'}"


def write_bench_repository(model_directory: Path, variants: list[ServedVariant], destination: Path) -> Path:
    """Write a repository with one model per variant, configs derived from the committed one.

    Args:
        model_directory: the committed ``model_repository/<model>`` folder.
        variants: the configurations to serve.
        destination: an absent or empty folder.

    Returns:
        ``destination``.
    """
    committed = read_model_config(model_directory / CONFIG_FILENAME)
    for variant in variants:
        config = type(committed)()
        config.CopyFrom(committed)
        config.name = variant.served_name
        config.ClearField("version_policy")  # the bench repository holds exactly one version
        if not variant.dynamic_batching:
            config.ClearField("dynamic_batching")  # Triton's default scheduler: one request per execution
        target = destination / variant.served_name
        (target / "1").mkdir(parents=True)
        (target / CONFIG_FILENAME).write_text(text_format.MessageToString(config), encoding="utf-8")
        for entry in model_directory.iterdir():  # labels.txt, warmup data and the like
            if entry.name != CONFIG_FILENAME and not entry.name.isdigit() and not entry.name.startswith("."):
                (target / entry.name).symlink_to(entry.resolve())
        (target / "1" / "model.onnx").symlink_to(variant.onnx_path.resolve())
    return destination


def batching_settings(repository: Path, variant: ServedVariant) -> dict[str, Any]:
    """The batching facts of a served variant, read back from its config."""
    config = read_model_config(repository / variant.served_name / CONFIG_FILENAME)
    return {
        "max_batch_size": config.max_batch_size,
        "dynamic_batching": config.HasField("dynamic_batching"),
        "max_queue_delay_us": config.dynamic_batching.max_queue_delay_microseconds
        if config.HasField("dynamic_batching")
        else None,
    }


def measure_served(
    repository: Path,
    variants: list[ServedVariant],
    images: np.ndarray,
    settings: BenchSettings,
    analyzer: PerfAnalyzer,
    work_folder: Path,
    raw_folder: Path,
) -> dict[str, Any]:
    """Serve the bench repository with the embedded Triton and run perf_analyzer on each variant.

    Args:
        repository: written by `write_bench_repository`.
        variants: the models in it, measured in this order.
        images: uint8 ``(N, S, S, 1)`` inputs, sent through `--input-data`.
        settings: concurrency levels, windows, threads.
        analyzer: the located perf_analyzer.
        work_folder: scratch space (the input JSON, one CSV and log per level).
        raw_folder: where each variant's CSV (perf_analyzer's rows, verbatim) and log are kept.

    Returns:
        ``{"server": {...}, "variants": {key: {"label", ..., "levels": [...], "best": {...}}}}``.
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
    results: dict[str, Any] = {}
    print(f"bench: starting the embedded Triton with {len(variants)} model(s)", flush=True)
    with (
        EmbeddedTriton(repository, serve_settings) as server,
        grpcclient.InferenceServerClient(server.grpc_url) as client,
    ):
        server_facts = {
            "version": client.get_server_metadata().version,
            "threads": settings.threads,
            "protocol": "grpc",
            "perf_analyzer": analyzer.version,
        }
        for variant in variants:
            levels = []
            for concurrency in tqdm(settings.concurrency_levels, desc=f"perf_analyzer {variant.label}"):
                levels.append(
                    _measure_level(
                        client,
                        analyzer,
                        server.grpc_url,
                        variant,
                        concurrency,
                        input_data,
                        settings,
                        work_folder,
                    )
                )
            merged = merge_perf_csv(
                [work_folder / level["csv"] for level in levels], raw_folder / f"perf_{variant.key}.csv"
            )
            _concatenate(
                [(work_folder / level["csv"]).with_suffix(".log") for level in levels],
                raw_folder / f"perf_{variant.key}.log",
            )
            for level in levels:
                level["csv"] = merged.name
            results[variant.key] = {
                "label": variant.label,
                "served_name": variant.served_name,
                "version": variant.version,
                "precision": variant.precision,
                "onnx": str(variant.onnx_path),
                **batching_settings(repository, variant),
                "levels": levels,
                "best": max(levels, key=lambda level: level["throughput"]),
            }
    return {"server": server_facts, "variants": results}


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


def _measure_level(
    client,
    analyzer: PerfAnalyzer,
    url: str,
    variant: ServedVariant,
    concurrency: int,
    input_data: Path,
    settings: BenchSettings,
    work_folder: Path,
) -> dict[str, Any]:
    before = _counts(client, variant.served_name)
    stem = f"perf_{variant.key}_c{concurrency:02d}"
    csv_path, log_path = work_folder / f"{stem}.csv", work_folder / f"{stem}.log"
    failure: BenchError | None = None
    for window_ms, stability in measurement_attempts(settings, concurrency, variant.image_latency_ms):
        arguments = perf_analyzer_arguments(
            variant.served_name,
            url,
            concurrency,
            input_data,
            csv_path,
            window_ms,
            settings.max_trials,
            stability,
        )
        # Each window waits for its slowest request; allow every trial plus generous start-up.
        timeout = settings.max_trials * window_ms / 1000 * 4 + 120
        try:
            run_perf_analyzer(analyzer, arguments, log_path, timeout)
        except BenchError as error:
            # perf_analyzer exits non-zero and writes no CSV when the windows never agree; retry looser.
            failure = error
            continue
        row = parse_perf_csv(csv_path)[0]
        after = _counts(client, variant.served_name)
        inferences, executions = (after[0] - before[0]), (after[1] - before[1])
        row.update(
            {
                "measurement_window_ms": window_ms,
                "stability_percentage": stability,
                "csv": csv_path.name,
                "inference_count": inferences,
                "execution_count": executions,
                "mean_batch_size": inferences / executions if executions else None,
            }
        )
        return row
    raise BenchError(
        f"perf_analyzer could not measure {variant.label} at concurrency {concurrency}: {failure}"
    )


def _counts(client, model_name: str) -> tuple[int, int]:
    """Triton's cumulative (inference count, execution count) for a model: their ratio is the mean batch."""
    statistics = client.get_inference_statistics(model_name=model_name).model_stats
    return (
        sum(entry.inference_count for entry in statistics),
        sum(entry.execution_count for entry in statistics),
    )


def _concatenate(paths: list[Path], destination: Path) -> None:
    destination.write_text(
        "\n".join(path.read_text(encoding="utf-8") for path in paths if path.is_file()), encoding="utf-8"
    )
