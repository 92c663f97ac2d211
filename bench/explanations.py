"""Why a goal was missed, quoting the run's own measurements, and which knob would close it."""

from __future__ import annotations

from bench.results import BenchResults
from bench.served_results import FP32_BATCHING

SERVING_FIX = (
    "raise max_queue_delay_microseconds so served batches approach the in-process best batch, or run the "
    "client on other cores"
)


def _serving_overhead(results: BenchResults) -> tuple[str, str]:
    best, onnxruntime = results.triton.variants[FP32_BATCHING].best, results.onnxruntime["fp32"]
    same_batch = onnxruntime.nearest(best.mean_batch_size or 1.0)
    why = (
        f"Triton's best level formed batches of {best.mean_batch_size or 1.0:.1f}, at which onnxruntime runs "
        f"{same_batch.throughput / onnxruntime.best.throughput:.0%} of its best in process; a request spent "
        f"{best.server_queue_ms:.1f} ms queued and {best.network_server_send_receive_ms:.1f} ms in transport"
    )
    return why, SERVING_FIX


def _triton_vs_keras(results: BenchResults) -> tuple[str, str]:
    in_process = results.onnxruntime["fp32"].best.throughput / results.keras.throughput
    why = (
        f"in process onnxruntime at its best is {in_process:.2f}x Keras, and Triton cannot beat what it wraps"
    )
    if in_process < 3:
        return why, "int8 on a CPU with VNNI, fewer FLOPs per image, or a GPU"
    return why, SERVING_FIX


def _dynamic_batching(results: BenchResults) -> tuple[str, str]:
    concurrency = results.settings.comparison_concurrency
    on, onnxruntime = results.triton.variants[FP32_BATCHING].at(concurrency), results.onnxruntime["fp32"]
    batch = on.mean_batch_size or 1.0
    gain = onnxruntime.nearest(batch).throughput / onnxruntime.batch_1.throughput
    why = (
        f"at concurrency {concurrency} batches averaged {batch:.1f} images, and onnxruntime gains only "
        f"{gain:.2f}x from batch 1 to {round(batch)} in process on {results.environment.cpu['cores']} cores"
    )
    return why, "a GPU, where a batch is much cheaper per image; on a CPU, one model instance per core"


def _achieved_vs_ceiling(results: BenchResults) -> tuple[str, str]:
    in_process = results.achieved["onnxruntime_best"].fraction_of_ceiling
    why = f"onnxruntime reaches {in_process:.0%} of the ceiling even in process; serving adds its overhead"
    return why, "an offline-optimised graph, the most efficient batch size, or int8 with VNNI"


def _int8(results: BenchResults) -> tuple[str, str]:
    fp32, int8 = results.onnxruntime["fp32"], results.onnxruntime.get("int8")
    gain = int8.best.throughput / fp32.best.throughput if int8 else float("nan")
    features = [flag for flag in results.environment.cpu["flags"] if "vnni" in flag or "amx" in flag]
    why = f"in process int8 runs {gain:.2f}x fp32; CPU int8 features: {', '.join(features) or 'none'}"
    return why, "export with `--int8-activations uint8`, which onnxruntime fuses into integer convolutions"


EXPLAINERS = {
    "serving_overhead": _serving_overhead,
    "triton_vs_keras": _triton_vs_keras,
    "dynamic_batching_on_off": _dynamic_batching,
    "achieved_vs_ceiling": _achieved_vs_ceiling,
    "int8_vs_fp32": _int8,
}


def explain_missed_goal(name: str, results: BenchResults) -> tuple[str, str]:
    """Return (why, what would close it) for the missed goal ``name``."""
    return EXPLAINERS[name](results)
