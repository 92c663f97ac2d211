"""report.md's measurement tables: Triton levels, in-process paths, compute, int8, GPU, environment.

Numbers are printed with the precision their size deserves (`format_figure`), never rounded to a
misleading 0; every figure is read from the results, so the report cannot say what was not measured.
"""

from __future__ import annotations

from bench.results import BenchResults, Ceiling, InProcess
from emphysema.versions import instruction_set


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: header, separator, one line per row."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def format_figure(value: float | None) -> str:
    """A measured number with the precision its size deserves (never rounded to a misleading 0)."""
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def triton_lines(results: BenchResults) -> list[str]:
    """Triton section: one table per served configuration, one row per concurrency level."""
    server = results.triton.server
    lines = [
        "## Triton over gRPC (perf_analyzer)",
        "",
        f"Triton {server['version']} (embedded, python backend running onnxruntime with {server['threads']} "
        "threads) driven by perf_analyzer (tritonclient 2.50.0 wheel) with synchronous clients on the same "
        "machine; latencies in ms, averages except the percentiles. Mean batch = Triton's inference count "
        '/ execution count over the level. "Stable within" is the stability criterion the level\'s '
        "measurement windows met.",
        "",
    ]
    header = ["concurrency", "infer/s", "p50", "p95", "p99", "mean batch", "server queue", "compute infer",
              "stable within"]  # fmt: skip
    for key, variant in results.triton.variants.items():
        delay = variant.max_queue_delay_us
        delay_text = f", max queue delay {delay} µs" if delay is not None else ""
        rows = [
            [str(level.concurrency), *map(format_figure, (
                level.throughput, level.p50_latency_ms, level.p95_latency_ms, level.p99_latency_ms,
                level.mean_batch_size, level.server_queue_ms, level.server_compute_infer_ms)),
             # Above 100 % is the last resort (any three windows): say so rather than print "1000%".
             f"{level.stability_percentage}%" if level.stability_percentage <= 100 else "**unstable**"]
            for level in variant.levels
        ]  # fmt: skip
        lines += [
            f"### {variant.label}",
            "",
            f"Model `{variant.served_name}` (export version {variant.version}), max_batch_size "
            f"{variant.max_batch_size}{delay_text}; raw CSV `raw/perf_{key}.csv`.",
            "",
            *markdown_table(header, rows),
            "",
        ]
    return lines


def _timing_table(measured: InProcess, with_calls: bool) -> list[str]:
    rows = [
        [str(batch.batch_size), format_figure(batch.throughput), format_figure(batch.p50_latency_ms),
         format_figure(batch.p99_latency_ms), *([str(batch.calls)] if with_calls else [])]
        for batch in measured.batches
    ]  # fmt: skip
    header = ["batch", "images/s", "p50 per batch", "p99 per batch", *(["calls"] if with_calls else [])]
    return [*markdown_table(header, rows), ""]


def in_process_lines(results: BenchResults) -> list[str]:
    """In-process section: Keras one image per call, onnxruntime per batch size."""
    keras = results.keras
    lines = [
        "## In process",
        "",
        f"Keras `model.predict`, one image per call ({keras.calls} calls): "
        f"**{format_figure(keras.throughput)} images/s**, p50 {format_figure(keras.p50_latency_ms)} ms, "
        f"p95 {format_figure(keras.p95_latency_ms)} ms, p99 {format_figure(keras.p99_latency_ms)} ms. "
        "Keras and onnxruntime agree to max |difference| "
        f"{results.model.keras_onnx_max_abs_difference:.1e} on the bench inputs (the same model).",
        "",
    ]
    for precision, measured in results.onnxruntime.items():
        lines += [
            f"onnxruntime {precision} ({measured.provider}, {results.settings.threads} threads), "
            f"best batch {measured.best.batch_size}:",
            "",
            *_timing_table(measured, with_calls=True),
        ]
    return lines


def _kernel_figures(ceiling: Ceiling) -> str:
    size, shape = ceiling.matrix_size, ceiling.convolution_shape
    descriptions = {
        "numpy_matmul": f"numpy matmul {size}²",
        "onnxruntime_matmul": f"onnxruntime MatMul {size}²",
        "onnxruntime_convolution": f"onnxruntime Conv {shape['kernel']}x{shape['kernel']}, "
        f"{shape['channels']} channels, {shape['size']}², batch {shape['batch']}",
    }
    return ", ".join(
        f"{descriptions[name]} {format_figure(kernel.gflops_per_second)} GFLOP/s"
        for name, kernel in ceiling.kernels.items()
    )


def compute_lines(results: BenchResults) -> list[str]:
    """Compute section: the dense-kernel ceiling, the model's FLOPs and each path's share of it."""
    ceiling, model = results.ceiling, results.model.fp32
    lines = [
        "## Compute: the ceiling and how close each path gets",
        "",
        "The ceiling is the fastest of three dense float32 kernels on the same cores (median call): "
        f"{_kernel_figures(ceiling)}; ceiling = **{format_figure(ceiling.gflops_per_second)} GFLOP/s** "
        f"({ceiling.source.replace('_', ' ')}).",
    ]
    if len(ceiling.measurements) == 2:
        start, end = map(format_figure, ceiling.measurements)
        lines.append(
            f"Measured at the start ({start} GFLOP/s) and at the end ({end}) of the run; the higher counts, "
            "because other work on the machine can only slow a kernel down."
        )
    by_op = ", ".join(f"{op} {format_figure(macs / 1e9)} G" for op, macs in model.macs_by_op.items())
    lines += [
        "",
        "Model arithmetic from the ONNX graph (shape inference at batch 1): "
        f"{format_figure(model.macs_per_image / 1e9)} GMAC = **{format_figure(model.gflop_per_image)} "
        f"GFLOP per image** ({by_op} MAC).",
        "",
    ]
    rows = [
        [name.replace("_", " "), format_figure(entry.throughput), format_figure(entry.gflops_per_second),
         f"{entry.fraction_of_ceiling:.1%}"]
        for name, entry in results.achieved.items()
    ]  # fmt: skip
    lines += [*markdown_table(["path", "images/s", "model GFLOP/s", "of ceiling"], rows), ""]
    if any("int8" in name for name in results.achieved):
        lines += [
            "int8 rows count the model's float32 arithmetic done in 8-bit integers, against the float32 "
            "ceiling, so they can pass 100 %: integer kernels (VNNI) do more operations per cycle.",
            "",
        ]
    return lines


def int8_lines(results: BenchResults) -> list[str]:
    """int8 section: the export's accuracy change from its model card."""
    int8 = results.model.int8
    if int8 is None:
        missing = "No int8 export in the repository; `emphysema export --precision int8` makes one."
        return ["## int8", "", missing, ""]
    change = int8.accuracy_change or {}
    accuracy = "its model card records no accuracy change"
    if "accuracy" in change:
        accuracy = (
            f"accuracy on the {change.get('split', 'evaluation')} split ({change.get('samples', '?')} "
            f"scans): fp32 {change['fp32_accuracy']:.4f} -> int8 {change['accuracy']:.4f} (change "
            f"{change['accuracy_change']:+.4f}), agreement with fp32 {change['agreement_with_fp32']:.3f}"
        )
    return ["## int8", "", f"Export version {int8.version}: {accuracy} (from its model_card.json).", ""]


def gpu_lines(results: BenchResults) -> list[str]:
    """GPU section: onnxruntime GPU providers per batch size, and what was not measured, why."""
    gpu = results.gpu
    if not gpu.providers:
        return ["## GPU", "", f"Not measured: {gpu.skipped}.", ""]
    lines = ["## GPU (onnxruntime in process)", ""]
    for provider, measured in gpu.providers.items():
        lines += [f"{provider}:", "", *_timing_table(measured, with_calls=False)]
    return lines + ([f"Not measured: {gpu.skipped}.", ""] if gpu.skipped else [])


def environment_lines(results: BenchResults) -> list[str]:
    """Environment section: CPU, memory, load, packages, Triton, inputs, duration."""
    environment, inputs = results.environment, results.inputs
    cpu = environment.cpu
    packages = ", ".join(f"{name} {version}" for name, version in environment.packages.items())
    # Printed as lists, as the first results were.
    start, end = (
        None if load is None else list(load)
        for load in (environment.load_average_at_start, environment.load_average_at_end)
    )
    return [
        "## Environment",
        "",
        f"- CPU: {cpu['model']} ({cpu['machine']}), {cpu['cores']} cores, "
        f"{instruction_set(cpu['flags'])}; features: {', '.join(cpu['flags'])}",
        f"- Memory: {environment.memory_gib} GiB; OS: {environment.os}",
        f"- Load average (1, 5, 15 min) at start {start}, at end {end}",
        f"- Packages: {packages}",
        f"- Triton {results.triton.server['version']}; perf_analyzer from the tritonclient 2.50.0 wheel",
        f"- Inputs: {inputs.count} synthetic scans ({inputs.source}), seed {inputs.seed}, the same for every "
        "path",
        f"- Run: {environment.date_utc}, {results.duration_seconds:.0f} s",
        "",
    ]


SECTIONS = (triton_lines, in_process_lines, compute_lines, int8_lines, gpu_lines, environment_lines)
