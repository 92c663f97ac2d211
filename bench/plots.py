"""The throughput-versus-latency plot: one curve per served configuration, in-process paths beside them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.ticker import FuncFormatter  # noqa: E402

from bench.results import BenchResults  # noqa: E402

PLAIN_NUMBERS = FuncFormatter(lambda value, _: f"{value:g}")
# Minor ticks on a log axis: label only 2x and 5x, so labels never overlap.
SPARSE_NUMBERS = FuncFormatter(lambda value, _: f"{value:g}" if f"{value:e}"[0] in "25" else "")

LATENCIES: tuple[tuple[str, str], ...] = (("p50_latency_ms", "p50"), ("p99_latency_ms", "p99"))


def plot_throughput_latency(results: BenchResults, path: Path) -> Path:
    """Plot throughput against p50 and p99 latency for every configuration and save it as PNG.

    Triton configurations are curves over concurrency (each point labelled with it), onnxruntime
    in process is a curve over batch size (latency of one batch), Keras is one point.
    """
    figure, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for axis, (key, name) in zip(axes, LATENCIES, strict=True):
        for variant in results.triton.variants.values():
            levels = variant.levels
            (line,) = axis.plot(
                [getattr(level, key) for level in levels],
                [level.throughput for level in levels],
                marker="o",
                label=f"Triton gRPC, {variant.label}",
            )
            for level in levels:
                axis.annotate(
                    str(level.concurrency),
                    (getattr(level, key), level.throughput),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                    color=line.get_color(),
                )
        for precision, measured in results.onnxruntime.items():
            batches = measured.batches
            (line,) = axis.plot(
                [getattr(batch, key) for batch in batches],
                [batch.throughput for batch in batches],
                marker="s",
                linestyle="--",
                label=f"onnxruntime in process, {precision} (batch size)",
            )
            for batch in batches:
                axis.annotate(
                    f"b{batch.batch_size}",
                    (getattr(batch, key), batch.throughput),
                    fontsize=7,
                    xytext=(3, -9),
                    textcoords="offset points",
                    color=line.get_color(),
                )
        keras = results.keras
        axis.plot(
            [getattr(keras, key)],
            [keras.throughput],
            marker="*",
            markersize=12,
            linestyle="none",
            label="Keras model.predict, 1 image per call",
        )
        axis.set_xscale("log")
        axis.set_yscale("log")
        for scale in (axis.xaxis, axis.yaxis):  # plain numbers, not 6x10^0
            scale.set_major_formatter(PLAIN_NUMBERS)
            scale.set_minor_formatter(SPARSE_NUMBERS)
        axis.set_xlabel(f"{name} latency per request or batch (ms, log scale)")
        axis.set_title(f"Throughput vs {name} latency")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("throughput (images/s, log scale)")
    axes[0].legend(fontsize=8, loc="best")
    model, cpu = results.model, results.environment.cpu
    figure.suptitle(
        f"{model.name} at {model.image_size} px on {cpu['cores']} cores ({cpu['model']}); "
        "labels: concurrency (Triton) or batch size (b)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
