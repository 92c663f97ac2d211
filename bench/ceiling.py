"""The machine's practical compute ceiling: a large float32 matrix multiply, in GFLOP/s.

A big square matmul is the best case for a CPU's vector units (high arithmetic intensity, tuned
BLAS kernels), so it is the honest upper bound a convolution-heavy model can approach on the
same cores. It is measured twice — numpy's BLAS and onnxruntime's own MatMul kernel with the
thread count the served model uses — and the higher of the two is the ceiling.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

from bench.timing import time_calls


def matmul_flop(size: int) -> int:
    """FLOPs of one ``size x size`` by ``size x size`` product (a multiply and an add per MAC)."""
    return 2 * size**3


def measure_numpy_matmul(size: int, minimum_seconds: float) -> dict[str, Any]:
    """Measure numpy's float32 matmul (its BLAS uses every core it is allowed)."""
    generator = np.random.default_rng(0)
    left = generator.standard_normal((size, size), dtype=np.float32)
    right = generator.standard_normal((size, size), dtype=np.float32)
    product = np.empty((size, size), dtype=np.float32)
    timing = time_calls(
        lambda: np.matmul(left, right, out=product),
        items_per_call=1,
        minimum_seconds=minimum_seconds,
        minimum_calls=5,
    )
    return _gflops_summary("numpy", size, timing.call_seconds)


def matmul_graph(size: int) -> onnx.ModelProto:
    """A one-node ONNX graph: ``product = left @ right`` on float32 ``size x size`` inputs."""
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size]) for name in ("left", "right")
    ]
    output = helper.make_tensor_value_info("product", TensorProto.FLOAT, [size, size])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["left", "right"], ["product"])], "matmul", inputs, [output]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def measure_onnxruntime_matmul(size: int, threads: int, minimum_seconds: float) -> dict[str, Any]:
    """Measure onnxruntime's float32 MatMul with ``threads`` intra-op threads on the CPU."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        matmul_graph(size).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    generator = np.random.default_rng(0)
    feed = {name: generator.standard_normal((size, size), dtype=np.float32) for name in ("left", "right")}
    timing = time_calls(
        lambda: session.run(None, feed), items_per_call=1, minimum_seconds=minimum_seconds, minimum_calls=5
    )
    return _gflops_summary("onnxruntime", size, timing.call_seconds)


def measure_ceiling(size: int, threads: int, minimum_seconds: float) -> dict[str, Any]:
    """Measure both matmuls; the ceiling is the faster one.

    Args:
        size: n of the n x n matrices (2048 makes ~17 GFLOP per product).
        threads: onnxruntime intra-op threads (numpy's BLAS picks its own, normally every core).
        minimum_seconds: the least time each measurement runs.

    Returns:
        ``{"numpy": {...}, "onnxruntime": {...}, "gflops_per_second": best, "source": which}``.
    """
    numpy_result = measure_numpy_matmul(size, minimum_seconds)
    onnxruntime_result = measure_onnxruntime_matmul(size, threads, minimum_seconds)
    best = max((numpy_result, onnxruntime_result), key=lambda result: result["gflops_per_second"])
    return {
        "numpy": numpy_result,
        "onnxruntime": onnxruntime_result,
        "gflops_per_second": best["gflops_per_second"],
        "source": best["library"],
        "cores": os.cpu_count(),
    }


def _gflops_summary(library: str, size: int, call_seconds: tuple[float, ...]) -> dict[str, Any]:
    # The median call, not the fastest: a ceiling a model could be held to, not a lucky moment.
    median_seconds = float(np.median(call_seconds))
    return {
        "library": library,
        "matrix_size": size,
        "calls": len(call_seconds),
        "median_seconds": median_seconds,
        "gflops_per_second": matmul_flop(size) / median_seconds / 1e9,
        "best_gflops_per_second": matmul_flop(size) / min(call_seconds) / 1e9,
    }
