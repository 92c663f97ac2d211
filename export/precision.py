"""Reduced-precision graphs: fp16 weights/arithmetic, and int8 static quantization (QDQ).

Both keep the contract's interface: the input stays uint8 ``image`` and the output stays fp32
``probabilities``, so config.pbtxt and every client are unchanged whatever the precision.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from export.settings import ExportError


def convert_to_fp16(graph_model: onnx.ModelProto) -> onnx.ModelProto:
    """Return an fp16 copy of the graph with fp32 inputs/outputs kept (uint8 input untouched).

    Cast nodes stay in fp32: the converter retypes their outputs but not their ``to``
    attribute, which breaks the uint8 -> float Cast at the graph's entry (onnxruntime then refuses
    the graph). Blocked nodes get explicit fp32<->fp16 casts around them instead.
    """
    from onnxconverter_common import float16

    converted = float16.convert_float_to_float16(
        graph_model, keep_io_types=True, op_block_list=[*float16.DEFAULT_OP_BLOCK_LIST, "Cast"]
    )
    onnx.checker.check_model(converted, full_check=True)
    return converted


class _CalibrationReader(CalibrationDataReader):
    """Feeds calibration scans one at a time to onnxruntime's quantizer."""

    def __init__(self, input_name: str, images: np.ndarray) -> None:
        super().__init__()
        self._batches = iter([{input_name: images[index : index + 1]} for index in range(len(images))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)

    def rewind(self) -> None:  # the quantizer may ask; one pass is all MinMax calibration needs
        pass


def quantize_to_int8(
    graph_model: onnx.ModelProto,
    calibration_images: np.ndarray,
    activations: str = "int8",
    reduce_range: bool = True,
) -> onnx.ModelProto:
    """Statically quantize to int8 in QDQ format, calibrated on real scans.

    Weights are per-channel symmetric int8. Activations are int8 by default (the layout TensorRT's
    explicit quantization expects), or uint8, which onnxruntime's x86 CPU kernels fuse with the
    int8 weights into integer convolutions; with int8 activations on a CPU it mostly pays for
    quantizing and dequantizing. Softmax stays in float: quantizing the probabilities themselves
    would round them to steps of 1/255 for no speed gain.

    Args:
        graph_model: the checked fp32 graph.
        calibration_images: uint8 ``(N, S, S, 1)`` training scans (never the evaluation split).
        activations: ``"int8"`` or ``"uint8"``, the activations' integer type.
        reduce_range: 7-bit weights, so x86 integer kernels without VNNI cannot saturate (see
            ``ExportSettings.int8_reduce_range``).
    """
    if len(calibration_images) == 0:
        raise ExportError("int8 quantization needs calibration scans; the run's train split is empty")
    input_name = graph_model.graph.input[0].name
    softmax_nodes = [node.name for node in graph_model.graph.node if node.op_type == "Softmax"]
    with tempfile.TemporaryDirectory(prefix="emphysema-int8-") as folder:
        source, prepared, quantized = (Path(folder) / name for name in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(graph_model, source)
        # Shape inference only: onnxruntime's graph optimizations would add com.microsoft ops
        # that the TensorRT and other runtimes in the serving container may not know.
        quant_pre_process(str(source), str(prepared), skip_optimization=True, skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(quantized),
            _CalibrationReader(input_name, calibration_images),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8 if activations == "uint8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
            nodes_to_exclude=softmax_nodes,
        )
        converted = onnx.load(str(quantized))
    onnx.checker.check_model(converted, full_check=True)
    return converted


def reduce_precision(
    graph_model: onnx.ModelProto,
    precision: str,
    calibration_images: np.ndarray | None = None,
    int8_activations: str = "int8",
    int8_reduce_range: bool = True,
) -> onnx.ModelProto:
    """Return the graph at ``precision`` (fp32 returns it unchanged)."""
    if precision == "fp32":
        return graph_model
    if precision == "fp16":
        return convert_to_fp16(graph_model)
    if precision == "int8":
        return quantize_to_int8(
            graph_model, np.asarray(calibration_images), int8_activations, int8_reduce_range
        )
    raise ExportError(f"unknown precision {precision!r}")
