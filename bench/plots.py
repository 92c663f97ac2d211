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


def _curve(axis, points: list, latency: str, labels: list[str], offset: tuple[int, int], **style) -> None:
    """One labelled curve of throughput against ``latency`` (an attribute of each point)."""
    xy = [(getattr(point, latency), point.throughput) for point in points]
    (line,) = axis.plot(*zip(*xy, strict=True), **style)
    for position, label in zip(xy, labels, strict=True):
        axis.annotate(
            label, position, xytext=offset, textcoords="offset points", color=line.get_color(), fontsize=7
        )


def plot_throughput_latency(results: BenchResults, path: Path) -> Path:
    """Plot throughput against p50 and p99 latency for every configuration and save it as PNG.

    Triton configurations are curves over concurrency (each point labelled with it), onnxruntime
    in process is a curve over batch size (latency of one batch), Keras is one point.
    """
    figure, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for axis, (key, name) in zip(axes, LATENCIES, strict=True):
        for variant in results.triton.variants.values():
            labels = [str(level.concurrency) for level in variant.levels]
            _curve(
                axis, variant.levels, key, labels, (3, 3), marker="o", label=f"Triton gRPC, {variant.label}"
            )
        for precision, measured in results.onnxruntime.items():
            labels = [f"b{batch.batch_size}" for batch in measured.batches]
            label = f"onnxruntime in process, {precision} (batch size)"
            _curve(axis, measured.batches, key, labels, (3, -9), marker="s", linestyle="--", label=label)
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
