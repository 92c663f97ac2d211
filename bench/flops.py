"""Count a model's multiply-accumulates per image from its ONNX graph (Conv, Gemm, MatMul and int8 kin).

The count comes from the graph itself after ONNX shape inference at batch 1, so it follows
whatever the exporter produced (preprocessing, head, quantisation) rather than a textbook figure.
1 MAC = 2 FLOP. Element-wise ops, pooling and softmax are left out: they are a small fraction
of a CNN's arithmetic and are memory-bound, not compute-bound.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import onnx

# Ops whose output element each needs (input channels / group) x kernel MACs.
CONVOLUTIONS = frozenset({"Conv", "ConvInteger", "QLinearConv"})
MATRIX_PRODUCTS = frozenset({"MatMul", "MatMulInteger", "QLinearMatMul", "Gemm"})
# The weight (or B matrix) is input 1, or 3 for the QLinear ops (after the input's scale and zero point).
WEIGHT_INPUT = {op: 3 if op.startswith("QLinear") else 1 for op in CONVOLUTIONS | MATRIX_PRODUCTS}


@dataclasses.dataclass(frozen=True)
class ModelFlops:
    """Multiply-accumulates of one image through a graph, in all and by op type, and the nodes counted."""

    macs: int
    macs_by_op: dict[str, int]
    counted_nodes: int


def count_model_flops(path: Path) -> ModelFlops:
    """Return the MACs per image of the ONNX model at ``path``.

    Raises:
        ValueError: naming the file, when it is not an ONNX model or no shape can be inferred.
    """
    try:
        model = onnx.load(str(path))
    except Exception as error:  # onnx raises DecodeError and friends for a bad file
        raise ValueError(f"{path}: not a readable ONNX model: {error}") from error
    shapes = _shapes_at_batch_one(model)
    by_op: Counter[str] = Counter()
    counted = 0
    for node in model.graph.node:
        if node.op_type not in CONVOLUTIONS | MATRIX_PRODUCTS:
            continue
        macs = _node_macs(node, shapes)
        if macs is None:
            raise ValueError(f"{path}: cannot infer the shapes around {node.op_type} node {node.name!r}")
        by_op[node.op_type] += macs
        counted += 1
    return ModelFlops(macs=int(sum(by_op.values())), macs_by_op=dict(by_op), counted_nodes=counted)


def _shapes_at_batch_one(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Infer every tensor's shape with the dynamic batch dimension set to 1."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    # Exported value infos carry the symbolic batch; drop them so inference starts from batch 1.
    del copy.graph.value_info[:]
    for value in [*copy.graph.input, *copy.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    inferred = onnx.shape_inference.infer_shapes(copy, data_prop=True)
    shapes: dict[str, tuple[int, ...]] = {}
    for value in [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]:
        dims = value.type.tensor_type.shape.dim
        if all(dim.HasField("dim_value") for dim in dims):
            shapes[value.name] = tuple(dim.dim_value for dim in dims)
    for initializer in inferred.graph.initializer:
        shapes[initializer.name] = tuple(initializer.dims)
    return shapes


def _node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int | None:
    output = shapes.get(node.output[0])
    weight = shapes.get(node.input[WEIGHT_INPUT[node.op_type]])
    if output is None or weight is None:
        return None
    if node.op_type in CONVOLUTIONS:
        # Weight is [C_out, C_in / group, kH, kW]: each output element costs the product of the rest.
        return int(np.prod(output, dtype=np.int64) * np.prod(weight[1:], dtype=np.int64))
    first = shapes.get(node.input[0])
    if first is None:
        return None
    # Each output element sums over the inner dimension: A's last, or its first when Gemm transposes A.
    transposed = node.op_type == "Gemm" and any(item.name == "transA" and item.i for item in node.attribute)
    return int(np.prod(output, dtype=np.int64) * (first[0] if transposed else first[-1]))
