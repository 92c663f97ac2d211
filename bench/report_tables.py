"""report.md's measurement sections: Triton levels, in-process paths, compute, GPU.

Numbers are printed with the precision their size deserves (`format_figure`), never rounded to a
misleading 0; every figure is read from the results, so the report cannot say what was not measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bench.results import BenchResults
from bench.served_results import Level


def section(heading: str, *blocks: str) -> str:
    """A Markdown heading and its non-empty blocks (paragraphs, tables), each followed by a blank line."""
    return "\n".join([heading, "", *(f"{block}\n" for block in blocks if block)])


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> str:
    """A Markdown table: header, separator, one line per row."""
    lines = ["| " + " | ".join(row) + " |" for row in [header, *rows]]
    return "\n".join([lines[0], "|" + "---|" * len(header), *lines[1:]])


def format_figure(value: float | None) -> str:
    """A measured number with the precision its size deserves (never rounded to a misleading 0)."""
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.2g}"


def record_table(records: Iterable[Any], columns: dict[str, str | Callable[[Any], str]]) -> str:
    """One row per record; a column is an attribute (a count as is, a measurement as a figure) or a text."""

    def cell(record: Any, column: str | Callable[[Any], str]) -> str:
        if callable(column):
            return column(record)
        value = getattr(record, column)
        return str(value) if isinstance(value, int) else format_figure(value)

    return markdown_table(
        list(columns), ([cell(row, column) for column in columns.values()] for row in records)
    )


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
BATCH_COLUMNS = {"batch": "batch_size", "images/s": "throughput"}
BATCH_COLUMNS |= {"p50 per batch": "p50_latency_ms", "p99 per batch": "p99_latency_ms"}


def triton_section(results: BenchResults) -> str:
    """One table per served configuration, one row per concurrency level."""
    server = results.triton.server
    blocks = [
        f"Triton {server['version']} (embedded, python backend running onnxruntime with {server['threads']} "
        "threads) driven by perf_analyzer (tritonclient 2.50.0 wheel) with synchronous clients on the same "
        "machine; latencies in ms, averages except the percentiles. Mean batch = Triton's inference count "
        '/ execution count over the level. "Stable within" is the stability criterion the level\'s '
        "measurement windows met."
    ]
    for key, variant in results.triton.variants.items():
        delay = variant.max_queue_delay_us
        blocks += [
            f"### {variant.label}",
            f"Model `{variant.served_name}` (export version {variant.version}), max_batch_size "
            f"{variant.max_batch_size}{'' if delay is None else f', max queue delay {delay} µs'}; "
            f"raw CSV `raw/perf_{key}.csv`.",
            record_table(variant.levels, LEVEL_COLUMNS),
        ]
    return section("## Triton over gRPC (perf_analyzer)", *blocks)


def in_process_section(results: BenchResults) -> str:
    """Keras one image per call, onnxruntime per batch size."""
    keras, figure = results.keras, format_figure
    blocks = [
        f"Keras `model.predict`, one image per call ({keras.calls} calls): **{figure(keras.throughput)} "
        f"images/s**, p50 {figure(keras.p50_latency_ms)} ms, p95 {figure(keras.p95_latency_ms)} ms, p99 "
        f"{figure(keras.p99_latency_ms)} ms. Keras and onnxruntime agree to max |difference| "
        f"{results.model.keras_onnx_max_abs_difference:.1e} on the bench inputs (the same model)."
    ]
    for precision, measured in results.onnxruntime.items():
        blocks += [
            f"onnxruntime {precision} ({measured.provider}, {results.settings.threads} threads), "
            f"best batch {measured.best.batch_size}:",
            record_table(measured.batches, {**BATCH_COLUMNS, "calls": "calls"}),
        ]
    return section("## In process", *blocks)


def compute_section(results: BenchResults) -> str:
    """The dense-kernel ceiling, the model's FLOPs and each path's share of the ceiling."""
    ceiling, model, figure = results.ceiling, results.model.fp32, format_figure
    size, shape = ceiling.matrix_size, ceiling.convolution_shape
    names = {
        "numpy_matmul": f"numpy matmul {size}²",
        "onnxruntime_matmul": f"onnxruntime MatMul {size}²",
        "onnxruntime_convolution": f"onnxruntime Conv {shape['kernel']}x{shape['kernel']}, "
        f"{shape['channels']} channels, {shape['size']}², batch {shape['batch']}",
    }
    kernels = [
        f"{names[name]} {figure(kernel.gflops_per_second)} GFLOP/s"
        for name, kernel in ceiling.kernels.items()
    ]
    measured = (
        "The ceiling is the fastest of three dense float32 kernels on the same cores (median call): "
        f"{', '.join(kernels)}; ceiling = **{figure(ceiling.gflops_per_second)} GFLOP/s** "
        f"({ceiling.source.replace('_', ' ')})."
    )
    if len(ceiling.measurements) == 2:
        start, end = map(figure, ceiling.measurements)
        measured += (
            f"\nMeasured at the start ({start} GFLOP/s) and at the end ({end}) of the run; the higher "
            "counts, because other work on the machine can only slow a kernel down."
        )
    by_op = ", ".join(f"{op} {figure(macs / 1e9)} G" for op, macs in model.macs_by_op.items())
    rows = (
        [
            name.replace("_", " "),
            figure(path.throughput),
            figure(path.gflops_per_second),
            f"{path.fraction_of_ceiling:.1%}",
        ]
        for name, path in results.achieved.items()
    )
    blocks = [
        measured,
        "Model arithmetic from the ONNX graph (shape inference at batch 1): "
        f"{figure(model.macs_per_image / 1e9)} GMAC = **{figure(model.gflop_per_image)} GFLOP per image** "
        f"({by_op} MAC).",
        markdown_table(["path", "images/s", "model GFLOP/s", "of ceiling"], rows),
    ]
    if any("int8" in name for name in results.achieved):
        blocks.append(
            "int8 rows count the model's float32 arithmetic done in 8-bit integers, against the float32 "
            "ceiling, so they can pass 100 %: integer kernels (VNNI) do more operations per cycle."
        )
    return section("## Compute: the ceiling and how close each path gets", *blocks)


def gpu_section(results: BenchResults) -> str:
    """The GPU providers of onnxruntime per batch size, and what was not measured, why."""
    gpu = results.gpu
    if not gpu.providers:
        return section("## GPU", f"Not measured: {gpu.skipped}.")
    blocks = [
        text
        for name, measured in gpu.providers.items()
        for text in (f"{name}:", record_table(measured.batches, BATCH_COLUMNS))
    ]
    skipped = f"Not measured: {gpu.skipped}." if gpu.skipped else ""
    return section("## GPU (onnxruntime in process)", *blocks, skipped)
