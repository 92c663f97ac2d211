"""Markdown tables of the measurements: Triton levels, in-process paths, compute, int8, GPU, environment.

Numbers are printed with the precision their size deserves (`format_figure`), never rounded to a
misleading 0; every figure is read from results.json, so the report cannot say what was not measured.
"""

from __future__ import annotations

from typing import Any

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


_ms = format_figure


def _stability(percentage: int) -> str:
    # Above 100 % is the last resort (any three windows): say so rather than print "1000%".
    return f"{percentage}%" if percentage <= 100 else "**unstable**"


def triton_lines(results: dict[str, Any]) -> list[str]:
    """Triton section: one table per served configuration, one row per concurrency level."""
    lines = [
        "## Triton over gRPC (perf_analyzer)",
        "",
        f"Triton {results['triton']['server']['version']} (embedded, python backend running onnxruntime with "
        f"{results['triton']['server']['threads']} threads) driven by perf_analyzer (tritonclient 2.50.0 "
        "wheel) "
        "with synchronous clients on the same machine; latencies in ms, averages except the percentiles. "
        'Mean batch = Triton\'s inference count / execution count over the level. "Stable within" is the '
        "stability criterion the level's measurement windows met.",
        "",
    ]
    for key, variant in results["triton"]["variants"].items():
        delay = variant["max_queue_delay_us"]
        lines += [
            f"### {variant['label']}",
            "",
            f"Model `{variant['served_name']}` (export version {variant['version']}), max_batch_size "
            f"{variant['max_batch_size']}"
            + (f", max queue delay {delay} µs" if delay is not None else "")
            + f"; raw CSV `raw/perf_{key}.csv`.",
            "",
        ]
        rows = [
            [
                str(level["concurrency"]),
                format_figure(level["throughput"]),
                _ms(level["p50_latency_ms"]),
                _ms(level["p95_latency_ms"]),
                _ms(level["p99_latency_ms"]),
                format_figure(level["mean_batch_size"]),
                _ms(level["server_queue_ms"]),
                _ms(level["server_compute_infer_ms"]),
                _stability(level["stability_percentage"]),
            ]
            for level in variant["levels"]
        ]
        lines += [
            *markdown_table(
                [
                    "concurrency",
                    "infer/s",
                    "p50",
                    "p95",
                    "p99",
                    "mean batch",
                    "server queue",
                    "compute infer",
                    "stable within",
                ],
                rows,
            ),
            "",
        ]
    return lines


def in_process_lines(results: dict[str, Any]) -> list[str]:
    """In-process section: Keras one image per call, onnxruntime per batch size."""
    keras = results["keras"]
    lines = [
        "## In process",
        "",
        f"Keras `model.predict`, one image per call ({keras['calls']} calls): "
        f"**{format_figure(keras['throughput'])} "
        f"images/s**, p50 {_ms(keras['p50_latency_ms'])} ms, p95 {_ms(keras['p95_latency_ms'])} ms, "
        f"p99 {_ms(keras['p99_latency_ms'])} ms. "
        "Keras and onnxruntime agree to max |difference| "
        f"{results['model']['keras_onnx_max_abs_difference']:.1e} "
        "on the bench inputs (the same model).",
        "",
    ]
    for precision, measured in results["onnxruntime"].items():
        if not measured:
            continue
        rows = [
            [
                str(batch["batch_size"]),
                format_figure(batch["throughput"]),
                _ms(batch["p50_latency_ms"]),
                _ms(batch["p99_latency_ms"]),
                str(batch["calls"]),
            ]
            for batch in measured["batches"]
        ]
        lines += [
            f"onnxruntime {precision} ({measured['provider']}, {results['settings']['threads']} threads), "
            f"best batch {measured['best']['batch_size']}:",
            "",
            *markdown_table(["batch", "images/s", "p50 per batch", "p99 per batch", "calls"], rows),
            "",
        ]
    return lines


def _kernel_figures(ceiling: dict[str, Any]) -> str:
    size, shape = ceiling["matrix_size"], ceiling["convolution_shape"]
    descriptions = {
        "numpy_matmul": f"numpy matmul {size}²",
        "onnxruntime_matmul": f"onnxruntime MatMul {size}²",
        "onnxruntime_convolution": (
            f"onnxruntime Conv {shape['kernel']}x{shape['kernel']}, {shape['channels']} channels, "
            f"{shape['size']}², batch {shape['batch']}"
        ),
    }
    return ", ".join(
        f"{descriptions[name]} {format_figure(kernel['gflops_per_second'])} GFLOP/s"
        for name, kernel in ceiling["kernels"].items()
    )


def _ceiling_measurements(ceiling: dict[str, Any]) -> list[str]:
    if "measurements" not in ceiling:
        return []
    start, end = (format_figure(value) for value in ceiling["measurements"])
    return [
        f"Measured at the start ({start} GFLOP/s) and at the end ({end}) of the run; the higher counts, "
        "because other work on the machine can only slow a kernel down."
    ]


def compute_lines(results: dict[str, Any]) -> list[str]:
    """Compute section: the dense-kernel ceiling, the model's FLOPs and each path's share of it."""
    ceiling, model = results["ceiling"], results["model"]["fp32"]
    lines = [
        "## Compute: the ceiling and how close each path gets",
        "",
        "The ceiling is the fastest of three dense float32 kernels on the same cores (median call): "
        f"{_kernel_figures(ceiling)}; ceiling = **{format_figure(ceiling['gflops_per_second'])} GFLOP/s** "
        f"({ceiling['source'].replace('_', ' ')}).",
        *_ceiling_measurements(ceiling),
        "",
        "Model arithmetic from the ONNX graph (shape inference at batch 1): "
        f"{format_figure(model['macs_per_image'] / 1e9)}"
        f" GMAC = **{format_figure(model['gflop_per_image'])} GFLOP per image** "
        f"({', '.join(f'{op} {format_figure(macs / 1e9)} G' for op, macs in model['macs_by_op'].items())} "
        "MAC).",
        "",
    ]
    rows = [
        [
            name.replace("_", " "),
            format_figure(entry["throughput"]),
            format_figure(entry["gflops_per_second"]),
            f"{entry['fraction_of_ceiling']:.1%}",
        ]
        for name, entry in results["achieved"].items()
    ]
    notes = []
    if any("int8" in name for name in results["achieved"]):
        notes = [
            "int8 rows count the model's float32 arithmetic done in 8-bit integers, against the float32 "
            "ceiling, so they can pass 100 %: integer kernels (VNNI) do more operations per cycle.",
            "",
        ]
    return [*lines, *markdown_table(["path", "images/s", "model GFLOP/s", "of ceiling"], rows), "", *notes]


def int8_lines(results: dict[str, Any]) -> list[str]:
    """int8 section: the export's accuracy change from its model card."""
    int8 = results["model"].get("int8")
    if not int8:
        return [
            "## int8",
            "",
            "No int8 export in the repository; `emphysema export --precision int8` makes one.",
            "",
        ]
    change = int8.get("accuracy_change") or {}
    if "accuracy" in change:
        accuracy = (
            f"accuracy on the {change.get('split', 'evaluation')} split ({change.get('samples', '?')} "
            "scans): "
            f"fp32 {change['fp32_accuracy']:.4f} -> int8 {change['accuracy']:.4f} "
            f"(change {change['accuracy_change']:+.4f}), agreement with fp32 "
            f"{change['agreement_with_fp32']:.3f}"
        )
    else:
        accuracy = "its model card records no accuracy change"
    return ["## int8", "", f"Export version {int8['version']}: {accuracy} (from its model_card.json).", ""]


def gpu_lines(results: dict[str, Any]) -> list[str]:
    """GPU section: onnxruntime GPU providers per batch size, or why none was measured."""
    gpu = results["gpu"]
    if "skipped" in gpu:
        return ["## GPU", "", f"Not measured: {gpu['skipped']}.", ""]
    lines = ["## GPU (onnxruntime in process)", ""]
    for provider, measured in gpu["providers"].items():
        if "skipped" in measured:
            lines += [f"{provider}: not measured: {measured['skipped']}.", ""]
            continue
        rows = [
            [
                str(batch["batch_size"]),
                format_figure(batch["throughput"]),
                _ms(batch["p50_latency_ms"]),
                _ms(batch["p99_latency_ms"]),
            ]
            for batch in measured["batches"]
        ]
        lines += [
            f"{provider}:",
            "",
            *markdown_table(["batch", "images/s", "p50 per batch", "p99 per batch"], rows),
            "",
        ]
    return lines


def environment_lines(results: dict[str, Any]) -> list[str]:
    """Environment section: CPU, memory, load, packages, Triton, inputs, duration."""
    environment = results["environment"]
    cpu = environment["cpu"]
    packages = ", ".join(f"{name} {version}" for name, version in environment["packages"].items())
    return [
        "## Environment",
        "",
        f"- CPU: {cpu['model']} ({cpu['machine']}), {cpu['cores']} cores, "
        f"{instruction_set(cpu['flags'])}; features: {', '.join(cpu['flags'])}",
        f"- Memory: {environment['memory_gib']} GiB; OS: {environment['os']}",
        f"- Load average (1, 5, 15 min) at start {environment['load_average_at_start']}, at end "
        f"{environment.get('load_average_at_end')}",
        f"- Packages: {packages}",
        f"- Triton {results['triton']['server']['version']}; perf_analyzer from the tritonclient 2.50.0 "
        "wheel",
        f"- Inputs: {results['inputs']['count']} synthetic scans ({results['inputs']['source']}), "
        f"seed {results['inputs']['seed']}, the same for every path",
        f"- Run: {environment['date_utc']}, {results['duration_seconds']:.0f} s",
        "",
    ]
