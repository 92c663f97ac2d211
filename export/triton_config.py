"""config.pbtxt for Triton's onnxruntime backend, derived from the ONNX graph itself.

Tensor names, types and dims come from the graph (``export.onnx_graph.read_signature``), so
the config cannot drift from the model. The text is rendered from Triton's own protobuf schema
(``ModelConfig``), so it always parses.
"""

from __future__ import annotations

import dataclasses

import onnx
from tritonclient.grpc import model_config_pb2

from export.model_repository import LABELS_FILENAME, config_text
from export.onnx_graph import TensorSignature, read_signature
from export.settings import ExportError, ExportSettings
from imaging.contract import DENSITY_REFERENCE_PARAMETER, FIELD_OF_VIEW_PARAMETER


def triton_data_type(signature: TensorSignature) -> int:
    """Map an ONNX element type to Triton's ``DataType`` (UINT8 -> TYPE_UINT8, FLOAT -> TYPE_FP32)."""
    triton_names = {
        "FLOAT": "TYPE_FP32",
        "FLOAT16": "TYPE_FP16",
        "DOUBLE": "TYPE_FP64",
        "BFLOAT16": "TYPE_BF16",
        "BOOL": "TYPE_BOOL",
        "STRING": "TYPE_STRING",
    }
    name = triton_names.get(signature.type_name, f"TYPE_{signature.type_name}")
    if name not in model_config_pb2.DataType.keys():
        raise ExportError(
            f"tensor {signature.name!r} has ONNX type {signature.type_name}, which Triton cannot serve"
        )
    return model_config_pb2.DataType.Value(name)


def _batched_dims(signature: TensorSignature) -> list[int]:
    """The dims Triton lists for a batched model: all but the first, which must be dynamic."""
    if not signature.dims or signature.dims[0] is not None:
        raise ExportError(
            f"tensor {signature.name!r} has dims {signature.dims}; with max_batch_size > 0 "
            "Triton needs a dynamic first (batch) dimension"
        )
    if any(dim is None for dim in signature.dims[1:]):
        raise ExportError(f"tensor {signature.name!r} has dynamic non-batch dims {signature.dims}")
    return [int(dim) for dim in signature.dims[1:]]


def build_model_config(
    graph_model: onnx.ModelProto,
    settings: ExportSettings,
    field_of_view_mm: float | None = None,
    density_reference_hu: float | None = None,
) -> model_config_pb2.ModelConfig:
    """Build the Triton ``ModelConfig`` of an exported graph.

    Args:
        graph_model: the graph that will be served (any precision: the interface is the same).
        settings: batching, instances and accelerator choices.
        field_of_view_mm: a region model's ROI side (the run's), written as the
            ``field_of_view_mm`` parameter clients read; None for a slice-level model (no parameter).
        density_reference_hu: the lung density reference (HU) a region model's training studies
            were shifted to, written as the ``density_reference_hu`` parameter; None: no parameter.

    Returns:
        The config: onnxruntime backend, explicit max batch, dynamic batching with a queue delay,
        GPU instances, labels on the output, a zero-data batch-1 warmup, optionally the field of
        view and density reference parameters, and optionally TensorRT.
    """
    settings = settings.resolved_for(field_of_view_mm)
    image, probabilities = read_signature(graph_model)
    image_dims, output_dims = _batched_dims(image), _batched_dims(probabilities)
    config = model_config_pb2.ModelConfig(
        name=settings.model_name,
        backend="onnxruntime",
        max_batch_size=settings.max_batch_size,
        # Only the newest version loads, so an older version at another image size never
        # meets this config's dims.
        version_policy=model_config_pb2.ModelVersionPolicy(
            latest=model_config_pb2.ModelVersionPolicy.Latest(num_versions=1)
        ),
    )
    config.input.add(name=image.name, data_type=triton_data_type(image), dims=image_dims)
    config.output.add(
        name=probabilities.name,
        data_type=triton_data_type(probabilities),
        dims=output_dims,
        label_filename=LABELS_FILENAME,
    )
    config.instance_group.add(
        count=settings.instance_count, kind=model_config_pb2.ModelInstanceGroup.KIND_GPU
    )
    config.dynamic_batching.max_queue_delay_microseconds = settings.queue_delay_us
    # Warmup runs one zero batch before the model reports READY: the first real request then
    # does not pay for CUDA/cuDNN initialisation (or the TensorRT engine build).
    warmup = config.model_warmup.add(name=f"{image.name}_zeros_batch_1", batch_size=1)
    warmup.inputs[image.name].data_type = triton_data_type(image)
    warmup.inputs[image.name].dims.extend(image_dims)
    warmup.inputs[image.name].zero_data = True
    if field_of_view_mm is not None:
        config.parameters[FIELD_OF_VIEW_PARAMETER].string_value = f"{field_of_view_mm:g}"
    if density_reference_hu is not None:
        config.parameters[DENSITY_REFERENCE_PARAMETER].string_value = f"{density_reference_hu:g}"
    if settings.tensorrt:
        _add_tensorrt(config, image.name, image_dims, settings)
    return config


def _add_tensorrt(
    config: model_config_pb2.ModelConfig, input_name: str, image_dims: list[int], settings: ExportSettings
) -> None:
    """The onnxruntime TensorRT execution accelerator with an engine cache and batch profiles.

    Profiles cover batch 1..max_batch_size so dynamic batching never triggers an engine rebuild;
    the cache keeps the engine across restarts (building it takes minutes).
    """

    def shape(batch: int) -> str:
        return f"{input_name}:{'x'.join(str(dim) for dim in [batch, *image_dims])}"

    cache_path = f"{settings.tensorrt_cache_root.rstrip('/')}/{settings.model_name}"
    optimal = min(settings.tensorrt_optimal_batch, settings.max_batch_size)
    parameters = {
        # A QDQ int8 graph needs TensorRT's int8 mode; fp32/fp16 graphs are built in fp16.
        "precision_mode": "INT8" if settings.precision == "int8" else "FP16",
        "max_workspace_size_bytes": str(settings.tensorrt_workspace_bytes),
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": cache_path,
        "trt_profile_min_shapes": shape(1),
        "trt_profile_opt_shapes": shape(optimal),
        "trt_profile_max_shapes": shape(settings.max_batch_size),
    }
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    for key, value in parameters.items():
        accelerator.parameters[key] = value


def generating_command(settings: ExportSettings) -> str:
    """The command that writes a config; the run only matters through its graph's signature."""
    words = [
        "emphysema export --run RUN",
        f"--model {settings.model_name}",
        f"--max-batch-size {settings.max_batch_size}",
        f"--queue-delay-us {settings.queue_delay_us}",
    ]
    if settings.precision != "fp32":
        words.append(f"--precision {settings.precision}")
    if settings.tensorrt:
        words.append("--tensorrt")
    return " ".join(words)


def render_config(config: model_config_pb2.ModelConfig, settings: ExportSettings) -> str:
    """The config.pbtxt text: a generated-file header, then the protobuf text format."""
    settings = dataclasses.replace(settings, max_batch_size=config.max_batch_size)  # as resolved
    same_runs = "any run whose graph has this input/output signature"
    if FIELD_OF_VIEW_PARAMETER in config.parameters:
        same_runs += " and whose ROIs have this field of view"
    header = (
        "# Generated from the ONNX graph by `emphysema export` (export/triton_config.py); do not edit.\n"
        f"# Command: {generating_command(settings)}\n"
        f"# ({same_runs} writes this same file)\n"
    )
    return config_text(config, header)
