"""The benchmark run itself: measure every path on the same model and inputs, then write the results.

Order: locate perf_analyzer (fail fast), pick the exported versions, make the inputs, measure in
process (compute ceiling, onnxruntime, Keras, GPU providers), serve the variants with Triton under
perf_analyzer, then derive achieved compute, ratios and goals, and write results.json, report.md
and the plot.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.settings import BenchError, BenchSettings
from training.run_folder import read_run

SETTINGS_FILENAME = "bench_settings.json"
INPUT_SEED = 0


def _step(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _display_path(path: Path) -> str:
    """A path relative to the working folder when inside it (committed results carry no home folders)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def measure_in_process(settings: BenchSettings, fp32, int8, images) -> dict[str, Any]:
    """Keras, onnxruntime (CPU; GPU where present) and the compute ceiling, in this process."""
    import numpy as np

    from bench import baselines, ceiling

    results: dict[str, Any] = {}
    _step(f"compute ceiling: {settings.matmul_size}² float32 matmul (numpy, onnxruntime) and a large Conv")
    results["ceiling"] = ceiling.measure_ceiling(
        settings.matmul_size, settings.threads, settings.minimum_seconds
    )
    _step(f"onnxruntime in process, batch sizes {list(settings.batch_sizes)}")
    session = baselines.open_session(fp32.onnx_path, settings.threads)
    results["onnxruntime"] = {
        "fp32": baselines.measure_onnxruntime(
            session, images, settings.batch_sizes, settings.minimum_seconds
        ),
        "int8": None,
    }
    if int8 is not None:
        int8_session = baselines.open_session(int8.onnx_path, settings.threads)
        results["onnxruntime"]["int8"] = baselines.measure_onnxruntime(
            int8_session, images, settings.batch_sizes, settings.minimum_seconds
        )
    _step(f"Keras model.predict, one image per call, {settings.keras_calls} calls ({fp32.keras_path})")
    keras_model = read_run(fp32.run_folder).load_model()
    compared = images[: min(4, len(images))]
    onnx_output = session.run(None, {session.get_inputs()[0].name: compared})[0]
    results["keras_onnx_max_abs_difference"] = float(
        np.max(np.abs(keras_model.predict(compared, verbose=0) - onnx_output))
    )
    results["keras"] = baselines.measure_keras(keras_model, images, settings.keras_calls)
    results["gpu"] = baselines.measure_gpu(
        fp32.onnx_path, images, settings.gpu_batch_sizes, settings.threads, settings.minimum_seconds
    )
    return results


def _model_facts(version, flops) -> dict[str, Any]:
    return {
        "version": version.version,
        "onnx": _display_path(version.onnx_path),
        "precision": version.precision,
        "macs_per_image": flops.macs,
        "gflop_per_image": flops.gflops,
        "macs_by_op": flops.macs_by_op,
        "counted_nodes": flops.counted_nodes,
        "export_command": (version.card or {}).get("command"),  # how the graph was made, for reproduction
    }


def variants_to_serve(settings: BenchSettings, fp32, int8, onnxruntime: dict[str, Any]) -> list:
    """The configurations Triton serves: fp32 with and without dynamic batching, int8 with it."""
    from bench import analysis
    from bench.served_variants import ServedVariant

    latency = onnxruntime["fp32"]["batch_1"]["p50_latency_ms"]
    name, path, version, off = settings.model, fp32.onnx_path, fp32.version, analysis.FP32_NO_BATCHING
    variants = [
        ServedVariant(analysis.FP32_BATCHING, name, path, version, "fp32", True, latency),
        ServedVariant(off, f"{name}_no_batching", path, version, "fp32", False, latency),
    ]
    if int8 is not None:
        int8_latency = onnxruntime["int8"]["batch_1"]["p50_latency_ms"]
        variants.append(ServedVariant(analysis.INT8_BATCHING, f"{settings.model}_int8", int8.onnx_path,
                                      int8.version, "int8", True, int8_latency))  # fmt: skip
    return variants


def run_bench(settings: BenchSettings, command: str, destination: Path) -> dict[str, Any]:
    """Measure everything and write the results into ``destination`` (an empty folder).

    Raises:
        BenchError: a missing model, Keras source, perf_analyzer, or a failed measurement.
    """
    from bench import (
        analysis,
        ceiling,
        environment,
        model_source,
        plots,
        report,
        served_variants,
        triton_load,
    )
    from bench.flops import count_model_flops
    from bench.inputs import synthetic_inputs
    from bench.perf_analyzer import locate_perf_analyzer
    from export.model_repository import CARD_FILENAME, CONFIG_FILENAME, input_image_size

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
    results: dict[str, Any] = {
        "command": command,
        "settings": settings.to_dict(),
        "environment": environment.describe_environment(),
    }
    _step(f"{settings.sample_count} synthetic scans at {image_size} px")
    images = synthetic_inputs(settings.sample_count, image_size, seed=INPUT_SEED)
    results["inputs"] = {
        "count": len(images),
        "shape": list(images.shape[1:]),
        "seed": INPUT_SEED,
        "source": "imaging.phantom through imaging.scan.to_model_input",
    }
    model = {
        "name": settings.model,
        "image_size": image_size,
        "keras": _display_path(fp32.keras_path),
        "fp32": _model_facts(fp32, count_model_flops(fp32.onnx_path)),
        "int8": None,
    }
    if int8 is not None:
        model["int8"] = {
            **_model_facts(int8, count_model_flops(int8.onnx_path)),
            "accuracy_change": int8.accuracy_change,
        }
    measured = measure_in_process(settings, fp32, int8, images)
    model["keras_onnx_max_abs_difference"] = measured.pop("keras_onnx_max_abs_difference")
    results["model"] = model
    results.update(measured)

    variants = variants_to_serve(settings, fp32, int8, measured["onnxruntime"])
    raw = destination / "raw"
    raw.mkdir()
    with tempfile.TemporaryDirectory(prefix="emphysema-bench-") as work:
        repository = served_variants.write_bench_repository(
            settings.repository / settings.model, variants, Path(work) / "repository"
        )
        results["triton"] = triton_load.measure_served(
            repository, variants, images, settings, analyzer, Path(work), raw
        )
    _step("compute ceiling again, so load during either measurement cannot lower it")
    at_end = ceiling.measure_ceiling(settings.matmul_size, settings.threads, settings.minimum_seconds)
    results["ceiling"] = ceiling.keep_higher_ceiling(results["ceiling"], at_end)
    results["achieved"] = analysis.achieved_compute(results)
    results["ratios"] = analysis.compute_ratios(results, settings.comparison_concurrency)
    results["goals"] = analysis.assess_goals(results, results["ratios"], settings.comparison_concurrency)
    results["environment"]["load_average_at_end"] = environment.load_average()
    results["duration_seconds"] = time.perf_counter() - started
    (destination / SETTINGS_FILENAME).write_text(
        json.dumps(settings.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    report.write_results(results, destination)
    plots.plot_throughput_latency(results, destination / report.PLOT_FILENAME)
    report.write_report(results, destination)
    return results
