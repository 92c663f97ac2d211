"""The machine's practical compute ceiling: the fastest dense float32 kernel on these cores, in GFLOP/s.

Dense kernels are the best case for a CPU's vector units, so the fastest of them bounds what a
convolution-heavy model can reach. Three are measured, with the served model's thread count where
the library lets us choose: numpy's BLAS matmul, onnxruntime's MatMul on the same matrices, and
onnxruntime's Conv on a large 3x3 layer. On AVX-512 onnxruntime runs convolutions in a blocked
(NCHWc) layout that beats both matmuls (AMD EPYC, 2 cores: 227 GFLOP/s against 198 and 185), so a
matmul-only ceiling let a model "exceed the hardware limit".

Other work on the machine only slows a kernel down, so the bench measures the ceiling at the start
and the end of its run and keeps the higher (`keep_higher_ceiling`); `bench.goals` refuses to judge
a model far above it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bench.baselines import open_session
from bench.results import Ceiling, Kernel
from bench.timing import time_calls

# The convolution: batch 4, 256 -> 256 channels, 28 x 28, 3 x 3 ("same"): 3.7 GFLOP per call, a
# mid-network layer of the size that dominates InceptionV3's and ResNet50's arithmetic.
CONVOLUTION_SHAPE = {"batch": 4, "channels": 256, "size": 28, "kernel": 3}


def matmul_flop(size: int) -> int:
    """FLOPs of one ``size x size`` by ``size x size`` product (a multiply and an add per MAC)."""
    return 2 * size**3


def convolution_flop(batch: int, channels: int, size: int, kernel: int) -> int:
    """FLOPs of one "same" convolution, ``channels`` in and out, on a ``size x size`` map."""
    return 2 * batch * channels * channels * kernel * kernel * size * size


def one_node_graph(
    node: onnx.NodeProto, shapes: dict[str, list[int]], weights: dict[str, np.ndarray]
) -> onnx.ModelProto:
    """A float32 graph of one node: ``shapes`` names its inputs then its output, ``weights`` its constants."""
    *inputs, output = (
        helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in shapes.items()
    )
    initializers = [numpy_helper.from_array(value, name) for name, value in weights.items()]
    graph = helper.make_graph([node], node.op_type, inputs, [output], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def matmul_graph(size: int) -> onnx.ModelProto:
    """``product = left @ right`` on float32 ``size x size`` inputs."""
    node = helper.make_node("MatMul", ["left", "right"], ["product"])
    return one_node_graph(node, {name: [size, size] for name in ("left", "right", "product")}, {})


def convolution_graph(batch: int, channels: int, size: int, kernel: int) -> onnx.ModelProto:
    """A "same" ``kernel x kernel`` Conv with fixed random weights."""
    weights = np.random.default_rng(0).standard_normal((channels, channels, kernel, kernel), dtype=np.float32)
    node = helper.make_node("Conv", ["features", "weights"], ["output"], pads=[kernel // 2] * 4)
    shape = [batch, channels, size, size]
    return one_node_graph(node, {"features": shape, "output": shape}, {"weights": weights * 0.01})


def _onnxruntime_call(graph: onnx.ModelProto, threads: int) -> Callable[[], Any]:
    session = open_session(graph.SerializeToString(), threads)
    generator = np.random.default_rng(0)
    feed = {
        item.name: generator.standard_normal([int(dimension) for dimension in item.shape], dtype=np.float32)
        for item in session.get_inputs()
    }
    return lambda: session.run(None, feed)


def _numpy_matmul_call(size: int) -> Callable[[], Any]:
    generator = np.random.default_rng(0)
    left = generator.standard_normal((size, size), dtype=np.float32)
    right = generator.standard_normal((size, size), dtype=np.float32)
    product = np.empty((size, size), dtype=np.float32)
    return lambda: np.matmul(left, right, out=product)


def measure_kernel(name: str, call: Callable[[], Any], flop: int, minimum_seconds: float) -> Kernel:
    """Time ``call`` (``flop`` floating-point operations each) and summarise it in GFLOP/s."""
    timing = time_calls(call, items_per_call=1, minimum_seconds=minimum_seconds, minimum_calls=5)
    # The median call, not the fastest: a ceiling a model could be held to, not a lucky moment.
    median_seconds = float(np.median(timing.call_seconds))
    return Kernel(
        kernel=name,
        flop_per_call=flop,
        calls=len(timing.call_seconds),
        median_seconds=median_seconds,
        gflops_per_second=flop / median_seconds / 1e9,
        best_gflops_per_second=flop / min(timing.call_seconds) / 1e9,
    )


def measure_ceiling(size: int, threads: int, minimum_seconds: float) -> Ceiling:
    """Measure the three dense kernels (``size`` x ``size`` matmuls); the ceiling is the fastest.

    onnxruntime runs ``threads`` intra-op threads; numpy's BLAS picks its own, normally every core.
    """
    # Each kernel's inputs and session are made just before it runs and dropped after it.
    makers = {
        "numpy_matmul": (lambda: _numpy_matmul_call(size), matmul_flop(size)),
        "onnxruntime_matmul": (lambda: _onnxruntime_call(matmul_graph(size), threads), matmul_flop(size)),
        "onnxruntime_convolution": (
            lambda: _onnxruntime_call(convolution_graph(**CONVOLUTION_SHAPE), threads),
            convolution_flop(**CONVOLUTION_SHAPE),
        ),
    }
    kernels = {
        name: measure_kernel(name, make(), flop, minimum_seconds) for name, (make, flop) in makers.items()
    }
    ceiling = Ceiling(kernels, size, dict(CONVOLUTION_SHAPE), os.cpu_count(), ())
    return dataclasses.replace(ceiling, measurements=(ceiling.gflops_per_second,))


def keep_higher_ceiling(first: Ceiling, second: Ceiling) -> Ceiling:
    """Merge two ceiling measurements of the same machine: the higher of each kernel counts.

    Both totals are kept in ``measurements`` so the report can show how much load moved them.
    """
    kernels = {
        name: max(first.kernels[name], second.kernels[name], key=lambda kernel: kernel.gflops_per_second)
        for name in first.kernels
    }
    measurements = (*first.measurements, *second.measurements)
    return dataclasses.replace(first, kernels=kernels, measurements=measurements)
