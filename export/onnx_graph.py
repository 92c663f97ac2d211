"""Keras inference model -> ONNX graph with the contract's tensor names, and reading that graph back.

The model is traced with ``tf.function`` and converted by ``tf2onnx.convert.from_function``,
which is what Keras' ``model.export(format="onnx")`` does too, but here the traced function's
captured constants are at hand and can be bound (see ``_captured_constants``). Left alone,
tf2onnx names the output ``Identity:0`` and the batch dimension ``unk__NNN``; the contract
needs ``image`` uint8 ``[batch, H, W, 1]`` and
``probabilities`` fp32 ``[batch, 4]``, so the graph is renamed here, once, and everything
downstream (config.pbtxt, parity, the model card) reads names and shapes from the graph.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import warnings

import keras
import numpy as np
import onnx

from export.settings import BATCH_DIMENSION, ExportError
from imaging.contract import CLASS_NAMES, INPUT_NAME, OUTPUT_NAME


@dataclasses.dataclass(frozen=True)
class TensorSignature:
    """One graph input or output as the serving side sees it.

    Attributes:
        name: the tensor name.
        elem_type: the ONNX element type (``onnx.TensorProto.UINT8``, ``FLOAT``, ...).
        dims: every dimension; ``None`` for a symbolic (dynamic) one.
    """

    name: str
    elem_type: int
    dims: tuple[int | None, ...]

    @property
    def type_name(self) -> str:
        """The ONNX element type's name, e.g. ``"UINT8"``."""
        return onnx.TensorProto.DataType.Name(self.elem_type)


def check_inference_model(model: keras.Model, image_size: int) -> None:
    """Raise ExportError unless the Keras model follows the contract at ``image_size``."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError(
            f"the model must have one input and one output, it has "
            f"{len(model.inputs)} and {len(model.outputs)}"
        )
    input_tensor, output_tensor = model.inputs[0], model.outputs[0]
    if str(input_tensor.dtype) != "uint8" or tuple(input_tensor.shape[1:]) != (image_size, image_size, 1):
        raise ExportError(
            f"the model input must be uint8 ({image_size}, {image_size}, 1) as in the run's settings, "
            f"got {input_tensor.dtype} {tuple(input_tensor.shape[1:])}"
        )
    if tuple(output_tensor.shape[1:]) != (len(CLASS_NAMES),):
        raise ExportError(
            f"the model output must have {len(CLASS_NAMES)} classes, got shape "
            f"{tuple(output_tensor.shape[1:])}"
        )
    # Keras augmentation layers (RandomFlip, RandomRotation, ...) fail in tf2onnx and make no sense
    # at inference; the run folder must hold the inference-only model.
    augmentation = [layer.name for layer in model.layers if type(layer).__name__.startswith("Random")]
    if augmentation:
        raise ExportError(f"augmentation layers do not belong in an inference model: {augmentation}")


def convert_keras_to_onnx(model: keras.Model, image_size: int, opset: int) -> onnx.ModelProto:
    """Convert the inference model to an ONNX graph that follows the contract and passes the checker.

    Args:
        model: the run's inference model (uint8 ``(S, S, 1)`` input, softmax output).
        image_size: S, from the run's settings.
        opset: the ONNX opset to pin.

    Returns:
        The checked graph: input ``image`` uint8 ``[batch, S, S, 1]``, output ``probabilities``
        fp32 ``[batch, 4]``.
    """
    check_inference_model(model, image_size)
    import tensorflow as tf
    import tf2onnx

    # An explicit signature names the input and keeps the batch dimension dynamic (None).
    signature = tf.TensorSpec((None, image_size, image_size, 1), tf.uint8, name=INPUT_NAME)
    serve = tf.function(lambda image: model(image, training=False), input_signature=[signature])
    constants = _captured_constants(serve.get_concrete_function())
    # tf2onnx prints its own progress lines; keep the CLI's output to what the user needs.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        graph_model, _ = tf2onnx.convert.from_function(serve, [signature], opset=opset)
    _bind_captured_constants(graph_model, constants)
    apply_contract_names(graph_model)
    onnx.checker.check_model(graph_model, full_check=True)
    return graph_model


def _captured_constants(concrete_function) -> dict[str, np.ndarray]:
    """Tensors (not variables) the traced function captured, by their name inside the function.

    Keras layers that compute state at build time (EfficientNet's Normalization mean and
    variance) are captured as constants; tf2onnx turns such captures into extra graph inputs
    that nobody would feed. Their values are known here, so they become initializers.
    """
    arguments = len(concrete_function.inputs) - len(concrete_function.captured_inputs)
    return {
        inner.name: outer.numpy()
        for outer, inner in zip(
            concrete_function.captured_inputs, concrete_function.inputs[arguments:], strict=True
        )
        if inner.dtype.name != "resource"
    }


def _bind_captured_constants(graph_model: onnx.ModelProto, constants: dict[str, np.ndarray]) -> None:
    graph = graph_model.graph
    for value in list(graph.input):
        if value.name in constants:
            graph.initializer.append(onnx.numpy_helper.from_array(constants[value.name], value.name))
            graph.input.remove(value)


def apply_contract_names(graph_model: onnx.ModelProto) -> None:
    """Rename the single input/output to the contract names and the batch dimension to ``batch``."""
    graph = graph_model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ExportError(
            f"expected one graph input and one output, got {len(graph.input)} and {len(graph.output)}"
        )
    rename_tensor(graph, graph.input[0].name, INPUT_NAME)
    rename_tensor(graph, graph.output[0].name, OUTPUT_NAME)
    for value in (graph.input[0], graph.output[0]):
        first = value.type.tensor_type.shape.dim[0]
        if first.HasField("dim_value"):
            raise ExportError(
                f"tensor {value.name!r} has a fixed batch of {first.dim_value}; "
                "Triton batching needs a dynamic first dimension"
            )
        first.dim_param = BATCH_DIMENSION


def rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a tensor everywhere it appears: graph inputs/outputs, node inputs/outputs, value infos."""
    if old == new:
        return
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.name == old:
            value.name = new


def read_signature(graph_model: onnx.ModelProto) -> tuple[TensorSignature, TensorSignature]:
    """Return the (input, output) signatures of a single-input, single-output graph."""
    graph = graph_model.graph
    initializers = {initializer.name for initializer in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ExportError(
            f"expected one graph input and one output, got {len(inputs)} and {len(graph.output)}"
        )
    return _signature_of(inputs[0]), _signature_of(graph.output[0])


def _signature_of(value: onnx.ValueInfoProto) -> TensorSignature:
    tensor_type = value.type.tensor_type
    dims = tuple(dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim)
    return TensorSignature(name=value.name, elem_type=tensor_type.elem_type, dims=dims)


def sample_input(signature: TensorSignature, batch_size: int) -> np.ndarray:
    """Zeros shaped like the input with a concrete batch (for smoke runs of a graph)."""
    dtype = onnx.helper.tensor_dtype_to_np_dtype(signature.elem_type)
    return np.zeros((batch_size, *signature.dims[1:]), dtype=dtype)
