"""In-process baselines: the paper's Keras `model.predict` per image, and onnxruntime at several batches.

Both run in this Python process on the same synthetic inputs and the same model (the Keras
model the ONNX graph was exported from), so the served figures can be read against them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from bench.inputs import batch_of
from bench.timing import time_calls

GPU_PROVIDERS: tuple[str, ...] = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def measure_keras(model, images: np.ndarray, calls: int) -> dict[str, Any]:
    """Time the paper's way: `model.predict` on one image per call.

    Args:
        model: the loaded Keras model.
        images: uint8 ``(N, S, S, 1)`` inputs, used in turn.
        calls: timed calls (after two untimed warm-up calls).

    Returns:
        Throughput (images/s) and latency percentiles of one call.
    """
    position = iter(range(10**9))

    def predict_one() -> None:
        index = next(position) % len(images)
        model.predict(images[index : index + 1], verbose=0)

    timing = time_calls(
        predict_one, items_per_call=1, minimum_seconds=0.0, minimum_calls=calls, maximum_calls=calls
    )
    return {"method": "keras model.predict, one image per call", **timing.summary()}


def open_session(
    onnx_path: Path, threads: int, provider: str = "CPUExecutionProvider", cache_folder: Path | None = None
) -> onnxruntime.InferenceSession:
    """Open an onnxruntime session the way the served model does (intra-op threads, one inter-op thread).

    Args:
        onnx_path: the model.
        threads: intra-op threads on the CPU.
        provider: the execution provider to put first.
        cache_folder: where TensorRT may cache its engines (TensorRT only).
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    providers: list[Any] = [provider]
    if provider == "TensorrtExecutionProvider":
        providers = [
            (
                provider,
                {
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(cache_folder),
                    "trt_fp16_enable": False,
                },
            ),
            "CUDAExecutionProvider",
        ]
    return onnxruntime.InferenceSession(str(onnx_path), options, providers=providers)


def measure_onnxruntime(
    session: onnxruntime.InferenceSession,
    images: np.ndarray,
    batch_sizes: tuple[int, ...],
    minimum_seconds: float,
) -> dict[str, Any]:
    """Time one session at each batch size; the best batch is the one with the highest throughput.

    Returns:
        ``{"provider", "batches": [summary per batch size], "batch_1": {...}, "best": {...}}``.
    """
    input_name = session.get_inputs()[0].name
    batches = []
    for batch_size in batch_sizes:
        feed = {input_name: batch_of(images, batch_size)}
        timing = time_calls(
            lambda feed=feed: session.run(None, feed),
            items_per_call=batch_size,
            minimum_seconds=minimum_seconds,
        )
        batches.append(timing.summary())
    best = max(batches, key=lambda summary: summary["throughput"])
    first = next((summary for summary in batches if summary["batch_size"] == 1), None)
    return {"provider": session.get_providers()[0], "batches": batches, "batch_1": first, "best": best}


def available_gpu_providers() -> list[str]:
    """The GPU execution providers this onnxruntime build offers (TensorRT, CUDA), best first."""
    available = set(onnxruntime.get_available_providers())
    return [provider for provider in GPU_PROVIDERS if provider in available]


def measure_gpu(
    onnx_path: Path, images: np.ndarray, batch_sizes: tuple[int, ...], threads: int, minimum_seconds: float
) -> dict[str, Any]:
    """Measure every GPU provider at each batch size, or say why nothing was measured.

    Returns:
        ``{"providers": {name: measurement}}`` or ``{"skipped": reason}`` on a machine without one.
    """
    providers = available_gpu_providers()
    if not providers:
        return {
            "skipped": "no GPU execution provider in this onnxruntime build (available: "
            f"{', '.join(onnxruntime.get_available_providers())})"
        }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="emphysema-trt-cache-") as cache:
        for provider in providers:
            session = open_session(onnx_path, threads, provider, Path(cache))
            if session.get_providers()[0] != provider:  # onnxruntime fell back (no device, no library)
                results[provider] = {"skipped": f"onnxruntime fell back to {session.get_providers()[0]}"}
                continue
            results[provider] = measure_onnxruntime(session, images, batch_sizes, minimum_seconds)
    return {"providers": results}
