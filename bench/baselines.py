"""In-process baselines: the paper's Keras `model.predict` per image, and onnxruntime at several batches.

Both run in this Python process on the same synthetic inputs and the same model (the Keras
model the ONNX graph was exported from), so the served figures can be read against them.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from bench.inputs import batch_of
from bench.results import CallTiming, GpuResults, InProcess
from bench.timing import time_calls

CPU_PROVIDER = "CPUExecutionProvider"
GPU_PROVIDERS: tuple[str, ...] = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def measure_keras(model, images: np.ndarray, calls: int) -> CallTiming:
    """Time the paper's way: the loaded Keras model's `predict` on one image per call, images in turn."""
    position = itertools.count()

    def predict_one() -> None:
        index = next(position) % len(images)
        model.predict(images[index : index + 1], verbose=0)

    return time_calls(predict_one, items_per_call=1, minimum_seconds=0.0, minimum_calls=calls).summary()


def keras_onnx_difference(keras_model, session: onnxruntime.InferenceSession, images: np.ndarray) -> float:
    """The largest difference between Keras's and onnxruntime's outputs on ``images`` (the same model)."""
    onnx_output = session.run(None, {session.get_inputs()[0].name: images})[0]
    return float(np.max(np.abs(keras_model.predict(images, verbose=0) - onnx_output)))


def open_session(
    model: Path | bytes, threads: int, provider: str = CPU_PROVIDER, cache_folder: Path | None = None
) -> onnxruntime.InferenceSession:
    """Open an onnxruntime session the way the served model does (intra-op threads, one inter-op thread).

    ``model`` is an ONNX file or a serialised graph; ``provider`` goes first; TensorRT caches its
    engines in ``cache_folder``.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    providers: list[Any] = [provider]
    if provider == "TensorrtExecutionProvider":
        cache = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_folder)}
        providers = [(provider, {**cache, "trt_fp16_enable": False}), "CUDAExecutionProvider"]
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=providers)


def measure_onnxruntime(
    session: onnxruntime.InferenceSession,
    images: np.ndarray,
    batch_sizes: tuple[int, ...],
    minimum_seconds: float,
) -> InProcess:
    """Time one session at each batch size."""
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
    return InProcess(session.get_providers()[0], tuple(batches))


def available_gpu_providers() -> list[str]:
    """The GPU execution providers this onnxruntime build offers (TensorRT, CUDA), best first."""
    available = set(onnxruntime.get_available_providers())
    return [provider for provider in GPU_PROVIDERS if provider in available]


def measure_gpu(
    onnx_path: Path, images: np.ndarray, batch_sizes: tuple[int, ...], threads: int, minimum_seconds: float
) -> GpuResults:
    """Measure every GPU provider at each batch size, and say which were not measured and why."""
    providers = available_gpu_providers()
    if not providers:
        available = ", ".join(onnxruntime.get_available_providers())
        return GpuResults({}, f"no GPU execution provider in this onnxruntime build (available: {available})")
    measured, fell_back = {}, []
    with tempfile.TemporaryDirectory(prefix="emphysema-trt-cache-") as cache:
        for provider in providers:
            session = open_session(onnx_path, threads, provider, Path(cache))
            if session.get_providers()[0] != provider:  # onnxruntime fell back (no device, no library)
                fell_back.append(f"{provider} (onnxruntime fell back to {session.get_providers()[0]})")
                continue
            measured[provider] = measure_onnxruntime(session, images, batch_sizes, minimum_seconds)
    return GpuResults(measured, ", ".join(fell_back) or None)
