"""The benchmark run itself: measure every path on the same model and inputs, then write the results.

Order: locate perf_analyzer (fail fast), pick the exported versions, make the inputs, measure in
process (compute ceiling, onnxruntime, Keras, GPU providers), serve the variants with Triton under
perf_analyzer, measure the ceiling again, judge the goals, and write results.json, report.md and
the plot.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from bench.model_source import ExportedVersion
from bench.results import BenchResults, ExportFacts, InputFacts, ModelFacts
from bench.settings import BenchError, BenchSettings

INPUT_SEED = 0
INPUT_SOURCE = "imaging.phantom through imaging.scan.to_model_input"


def _step(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _display_path(path: Path) -> str:
    """A path relative to the working folder when inside it (committed results carry no home folders)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def export_facts(version: ExportedVersion, accuracy_change: dict | None = None) -> ExportFacts:
    """Where an exported graph is, how it was made (for reproduction) and its arithmetic per image."""
    from bench.flops import count_model_flops

    flops = count_model_flops(version.onnx_path)
    return ExportFacts(
        version=version.version,
        onnx=_display_path(version.onnx_path),
        precision=version.precision,
        macs_per_image=flops.macs,
        macs_by_op=flops.macs_by_op,
        counted_nodes=flops.counted_nodes,
        export_command=(version.card or {}).get("command"),
        accuracy_change=accuracy_change,
    )


def run_bench(settings: BenchSettings, command: str, destination: Path) -> BenchResults:
    """Measure everything and write the results into ``destination`` (an empty folder).

    Raises:
        BenchError: a missing model, Keras source, perf_analyzer, or a failed measurement.
    """
    from bench import baselines, ceiling, environment, goals, model_source, plots, report, triton_load
    from bench.inputs import synthetic_inputs
    from bench.perf_analyzer import locate_perf_analyzer
    from bench.results_json import RESULTS_FILENAME, SETTINGS_FILENAME, write_json
    from export.model_repository import CARD_FILENAME, CONFIG_FILENAME, input_image_size
    from training.run_folder import read_run

    started = time.perf_counter()
    analyzer = locate_perf_analyzer()  # fail before spending minutes on the rest
    fp32, int8 = model_source.select_versions(settings.repository, settings.model, settings.version)
    int8 = int8 if settings.include_int8 else None
    if fp32.keras_path is None or not fp32.keras_path.is_file():
        raise BenchError(
            f"{fp32.onnx_path.parent / CARD_FILENAME}: the Keras baseline needs the source "
            f"run's model.keras (card says {fp32.keras_path}); export from a run folder that still exists"
        )
    image_size = input_image_size(settings.repository / settings.model / CONFIG_FILENAME)
    described = environment.describe_environment()
    _step(f"{settings.sample_count} synthetic scans at {image_size} px")
    images = synthetic_inputs(settings.sample_count, image_size, seed=INPUT_SEED)
    inputs = InputFacts(len(images), images.shape[1:], INPUT_SEED, INPUT_SOURCE)
    exports = [export_facts(fp32), None if int8 is None else export_facts(int8, int8.accuracy_change)]

    _step(f"compute ceiling: {settings.matmul_size}² float32 matmul (numpy, onnxruntime) and a large Conv")
    at_start = ceiling.measure_ceiling(settings.matmul_size, settings.threads, settings.minimum_seconds)
    _step(f"onnxruntime in process, batch sizes {list(settings.batch_sizes)}")
    sessions = {
        export.precision: baselines.open_session(export.onnx_path, settings.threads)
        for export in (fp32, int8)
        if export
    }
    onnxruntime = {
        precision: baselines.measure_onnxruntime(
            session, images, settings.batch_sizes, settings.minimum_seconds
        )
        for precision, session in sessions.items()
    }
    _step(f"Keras model.predict, one image per call, {settings.keras_calls} calls ({fp32.keras_path})")
    keras_model = read_run(fp32.run_folder).load_model()
    difference = baselines.keras_onnx_difference(keras_model, sessions["fp32"], images[:4])
    keras = baselines.measure_keras(keras_model, images, settings.keras_calls)
    gpu = baselines.measure_gpu(
        fp32.onnx_path, images, settings.gpu_batch_sizes, settings.threads, settings.minimum_seconds
    )

    (destination / "raw").mkdir()
    variants = triton_load.plan_variants(settings, fp32, int8)
    triton = triton_load.measure_served(
        settings, variants, onnxruntime, images, analyzer, destination / "raw"
    )
    _step("compute ceiling again, so load during either measurement cannot lower it")
    at_end = ceiling.measure_ceiling(settings.matmul_size, settings.threads, settings.minimum_seconds)
    model = ModelFacts(settings.model, image_size, _display_path(fp32.keras_path), *exports, difference)
    results = goals.judge(
        BenchResults(
            command=command,
            settings=settings,
            environment=dataclasses.replace(described, load_average_at_end=environment.load_average()),
            inputs=inputs,
            model=model,
            ceiling=ceiling.keep_higher_ceiling(at_start, at_end),
            onnxruntime=onnxruntime,
            keras=keras,
            gpu=gpu,
            triton=triton,
            duration_seconds=time.perf_counter() - started,
        )
    )
    write_json(settings, destination / SETTINGS_FILENAME)
    write_json(results, destination / RESULTS_FILENAME)
    plots.plot_throughput_latency(results, destination / report.PLOT_FILENAME)
    report.write_report(results, destination)
    return results
