"""report.md's measurement tables: Triton levels, in-process paths, compute, GPU.

Numbers are printed with the precision their size deserves (`format_figure`), never rounded to a
misleading 0; every figure is read from the results, so the report cannot say what was not measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bench.results import BenchResults, Ceiling
from bench.served_results import Level


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


def record_table(records: Iterable[Any], columns: dict[str, str | Callable[[Any], str]]) -> list[str]:
    """A Markdown table, one row per record: each column an attribute's value or a function's text.

    Counts (integers) are printed as they are, measurements with `format_figure`.
    """

    def cell(record: Any, column: str | Callable[[Any], str]) -> str:
        if callable(column):
            return column(record)
        value = getattr(record, column)
        return str(value) if isinstance(value, int) else format_figure(value)

    rows = [[cell(record, column) for column in columns.values()] for record in records]
    return markdown_table(list(columns), rows)


def _stability(level: Level) -> str:
    # Above 100 % is the last resort (any three windows): say so rather than print "1000%".
    return f"{level.stability_percentage}%" if level.stability_percentage <= 100 else "**unstable**"


LEVEL_COLUMNS = {
    "concurrency": "concurrency",
    "infer/s": "throughput",
    "p50": "p50_latency_ms",
    "p95": "p95_latency_ms",
    "p99": "p99_latency_ms",
    "mean batch": "mean_batch_size",
    "server queue": "server_queue_ms",
    "compute infer": "server_compute_infer_ms",
    "stable within": _stability,
}
BATCH_COLUMNS = {
    "batch": "batch_size",
    "images/s": "throughput",
    "p50 per batch": "p50_latency_ms",
    "p99 per batch": "p99_latency_ms",
}


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
    for key, variant in results.triton.variants.items():
        delay = variant.max_queue_delay_us
        delay_text = f", max queue delay {delay} µs" if delay is not None else ""
        lines += [
            f"### {variant.label}",
            "",
            f"Model `{variant.served_name}` (export version {variant.version}), max_batch_size "
            f"{variant.max_batch_size}{delay_text}; raw CSV `raw/perf_{key}.csv`.",
            "",
            *record_table(variant.levels, LEVEL_COLUMNS),
            "",
        ]
    return lines


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
            *record_table(measured.batches, {**BATCH_COLUMNS, "calls": "calls"}),
            "",
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
        [
            name.replace("_", " "),
            format_figure(entry.throughput),
            format_figure(entry.gflops_per_second),
            f"{entry.fraction_of_ceiling:.1%}",
        ]
        for name, entry in results.achieved.items()
    ]
    lines += [*markdown_table(["path", "images/s", "model GFLOP/s", "of ceiling"], rows), ""]
    if any("int8" in name for name in results.achieved):
        lines += [
            "int8 rows count the model's float32 arithmetic done in 8-bit integers, against the float32 "
            "ceiling, so they can pass 100 %: integer kernels (VNNI) do more operations per cycle.",
            "",
        ]
    return lines


def gpu_lines(results: BenchResults) -> list[str]:
    """GPU section: onnxruntime GPU providers per batch size, and what was not measured, why."""
    gpu = results.gpu
    if not gpu.providers:
        return ["## GPU", "", f"Not measured: {gpu.skipped}.", ""]
    lines = ["## GPU (onnxruntime in process)", ""]
    for provider, measured in gpu.providers.items():
        lines += [f"{provider}:", "", *record_table(measured.batches, BATCH_COLUMNS), ""]
    return lines + ([f"Not measured: {gpu.skipped}.", ""] if gpu.skipped else [])
