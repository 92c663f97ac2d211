"""Why a goal was missed, in terms of the run's own measurements, and which knob would close it.

Each explanation quotes measured figures (latency breakdown, mean batch, in-process batch gain,
CPU features) so the report's "why" can be checked against the tables above it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FP32_BATCHING = "fp32_dynamic_batching"
FP32_NO_BATCHING = "fp32_no_batching"
INT8_BATCHING = "int8_dynamic_batching"
# perf_analyzer's averaged latency components, in the order a request meets them.
LATENCY_PARTS: tuple[str, ...] = (
    "client_send_ms", "network_server_send_receive_ms", "server_queue_ms", "server_compute_input_ms",
    "server_compute_infer_ms", "server_compute_output_ms", "client_receive_ms",
)  # fmt: skip


def level_at(variant: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """The perf_analyzer row of a variant at one concurrency level."""
    for level in variant["levels"]:
        if level["concurrency"] == concurrency:
            return level
    raise KeyError(f"concurrency {concurrency} was not measured for {variant['label']}")


def onnxruntime_at_batch(results: dict[str, Any], batch_size: float) -> dict[str, Any]:
    """The in-process onnxruntime fp32 measurement at the measured batch nearest ``batch_size``."""
    batches = results["onnxruntime"]["fp32"]["batches"]
    return min(batches, key=lambda summary: abs(summary["batch_size"] - batch_size))


def onnxruntime_batch_gain(results: dict[str, Any], batch_size: float) -> float:
    """In-process onnxruntime throughput at the measured batch nearest ``batch_size`` over batch 1."""
    batch_1 = results["onnxruntime"]["fp32"]["batch_1"]["throughput"]
    return onnxruntime_at_batch(results, batch_size)["throughput"] / batch_1


SERVING_FIX = (
    "raise max_queue_delay_microseconds so served batches approach the in-process best batch; run the "
    "client on other cores or another machine; the native onnxruntime backend (the GPU container) "
    "avoids the python backend's shared-memory copies and its extra process"
)


def _serving_overhead(results: dict[str, Any], concurrency: int) -> tuple[str, str]:
    best = results["triton"]["variants"][FP32_BATCHING]["best"]
    in_process = results["onnxruntime"]["fp32"]["best"]
    total = sum(best[part] for part in LATENCY_PARTS)
    outside = 1 - best["server_compute_infer_ms"] / total if total else 0.0
    batch = best["mean_batch_size"] or 1.0
    same_batch = onnxruntime_at_batch(results, batch)
    copies = best["server_compute_input_ms"] + best["server_compute_output_ms"]
    why = (
        f"Triton's best level (concurrency {best['concurrency']}) formed batches of {batch:.1f} on average; "
        f"in process, onnxruntime at batch {same_batch['batch_size']} runs {same_batch['throughput']:.1f} "
        f"images/s, {same_batch['throughput'] / in_process['throughput']:.0%} of its best (batch "
        f"{in_process['batch_size']}), so batch size accounts for that much. Of a served request's time "
        f"{outside:.0%} was outside the model (queue {best['server_queue_ms']:.1f} ms, transport "
        f"{best['network_server_send_receive_ms']:.1f} ms, python-backend input/output {copies:.1f} ms); "
        "the rest is the cores shared with perf_analyzer's client threads and Triton itself"
    )
    return why, SERVING_FIX


def _triton_vs_keras(results: dict[str, Any], concurrency: int) -> tuple[str, str]:
    keras, onnxruntime = results["keras"], results["onnxruntime"]["fp32"]
    in_process = onnxruntime["best"]["throughput"] / keras["throughput"]
    latencies = (
        f"Keras predict takes {keras['p50_latency_ms']:.1f} ms per image against onnxruntime's "
        f"{onnxruntime['batch_1']['p50_latency_ms']:.1f} ms at batch 1"
    )
    if in_process < 3:
        why = (
            f"{latencies}, and in-process onnxruntime at its best is only {in_process:.2f}x Keras: Triton "
            "cannot beat the runtime it wraps on the same cores"
        )
        return why, "int8 on a CPU with VNNI, fewer FLOPs per image (smaller input or architecture), or a GPU"
    served = results["ratios"]["serving_overhead"]["value"]
    why = (
        f"{latencies}; in process onnxruntime reaches {in_process:.2f}x Keras, but serving keeps only "
        f"{served:.2f} of that (see the serving overhead)"
    )
    return why, SERVING_FIX


def _dynamic_batching(results: dict[str, Any], concurrency: int) -> tuple[str, str]:
    on = level_at(results["triton"]["variants"][FP32_BATCHING], concurrency)
    batch = on["mean_batch_size"] or 1.0
    gain = onnxruntime_batch_gain(results, batch)
    cores = results["environment"]["cpu"]["cores"]
    if gain < 1.15:
        why = (
            f"at concurrency {concurrency} the batcher formed batches of {batch:.1f} on average, but "
            "onnxruntime on "
            f"this CPU gains only {gain:.2f}x from batch 1 to batch {round(batch)} in process: the {cores} "
            "cores are "
            "already busy with one image, so a batch costs about as much per image and batching adds only "
            "queueing"
        )
    else:
        why = (
            f"at concurrency {concurrency} the batcher formed batches of {batch:.1f} on average and "
            "onnxruntime gains "
            f"{gain:.2f}x from that batch in process, but each served request also waited "
            f"{on['server_queue_ms']:.1f} ms in the queue and {on['network_server_send_receive_ms']:.1f} "
            "ms in "
            "transport, which batching does not shrink"
        )
    fix = (
        "dynamic batching pays where a batch is much cheaper per image (a GPU); on a CPU try instance_group "
        "count = cores with 1 thread each, or tune max_queue_delay_microseconds against the latency budget"
    )
    return why, fix


def _achieved_vs_ceiling(results: dict[str, Any], concurrency: int) -> tuple[str, str]:
    by_op = results["model"]["fp32"]["macs_by_op"]
    convolutions = sum(value for op, value in by_op.items() if "Conv" in op) / max(1, sum(by_op.values()))
    in_process = results["achieved"]["onnxruntime_best"]["fraction_of_ceiling"]
    why = (
        f"{convolutions:.0%} of the model's arithmetic is convolutions, which onnxruntime runs at "
        f"{in_process:.0%} of "
        "the compute ceiling even in process (im2col and packing, NHWC<->NCHW transposes from tf2onnx, "
        "memory-bound "
        "element-wise ops, small late feature maps); serving then adds its own overhead"
    )
    fix = (
        "an offline-optimised graph (ORT_ENABLE_ALL, saved once), the batch size where the convolution "
        "kernels are "
        "most efficient, int8 with VNNI, and a core left to the client"
    )
    return why, fix


def _int8(results: dict[str, Any], concurrency: int) -> tuple[str, str]:
    int8, fp32 = results["onnxruntime"].get("int8"), results["onnxruntime"]["fp32"]
    gain = int8["best"]["throughput"] / fp32["best"]["throughput"] if int8 else float("nan")
    features = [flag for flag in results["environment"]["cpu"]["flags"] if "vnni" in flag or "amx" in flag]
    why = (
        f"in process the int8 graph runs {gain:.2f}x the fp32 one at their best batches: where onnxruntime "
        "cannot "
        "fuse a QuantizeLinear/DequantizeLinear pair into an integer kernel it pays for both; CPU int8 "
        "features: "
        f"{', '.join(features) or 'none'}"
    )
    fix = (
        "export with `--int8-activations uint8`: onnxruntime's x86 kernels fuse uint8 activations with int8 "
        "weights into integer convolutions (VNNI), while signed activations, kept for TensorRT, mostly pay "
        "for quantizing and dequantizing; or quantize only the Conv-heavy part"
    )
    return why, fix


EXPLAINERS: dict[str, Callable[[dict[str, Any], int], tuple[str, str]]] = {
    "serving_overhead": _serving_overhead,
    "triton_vs_keras": _triton_vs_keras,
    "dynamic_batching_on_off": _dynamic_batching,
    "achieved_vs_ceiling": _achieved_vs_ceiling,
    "int8_vs_fp32": _int8,
}


def explain_missed_goal(name: str, results: dict[str, Any], concurrency: int) -> tuple[str, str]:
    """Return (why, what would close it) for a missed goal, quoting the run's measurements.

    Args:
        name: the goal's ratio name.
        results: the run's results so far (measurements, achieved compute).
        concurrency: the level at which dynamic batching on and off are compared.
    """
    return EXPLAINERS[name](results, concurrency)
