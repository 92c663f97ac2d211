"""config.pbtxt rendering: derived from the graph, parses with Triton's schema, TensorRT block."""

from __future__ import annotations

import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from export.onnx_graph import convert_keras_to_onnx
from export.settings import ExportError, ExportSettings
from export.triton_config import build_model_config, render_config
from imaging.errors import UsageError


@pytest.fixture(scope="module")
def tiny_graph(build_contract_model) -> onnx.ModelProto:
    return convert_keras_to_onnx(build_contract_model(40), 40, opset=17)


def parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_config_follows_the_graph_not_constants(tiny_graph):
    renamed = onnx.ModelProto()
    renamed.CopyFrom(tiny_graph)
    renamed.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 41  # only the graph says 41
    config = parse(
        render_config(build_model_config(renamed, ExportSettings(model_name="m")), ExportSettings())
    )
    assert list(config.input[0].dims) == [41, 40, 1]
    assert list(config.model_warmup[0].inputs["image"].dims) == [41, 40, 1]


def test_tensorrt_block_renders_and_parses(tiny_graph):
    settings = ExportSettings(model_name="inceptionv3", tensorrt=True, max_batch_size=16)
    text = render_config(build_model_config(tiny_graph, settings), settings)
    assert text.startswith("# Generated from the ONNX graph by `emphysema export`")
    assert "--tensorrt" in text.splitlines()[1]
    accelerators = parse(text).optimization.execution_accelerators.gpu_execution_accelerator
    assert [accelerator.name for accelerator in accelerators] == ["tensorrt"]
    parameters = dict(accelerators[0].parameters)
    assert parameters["precision_mode"] == "FP16"
    assert parameters["trt_engine_cache_enable"] == "1"
    assert parameters["trt_engine_cache_path"] == "/trt_cache/inceptionv3"
    assert parameters["trt_profile_min_shapes"] == "image:1x40x40x1"
    assert parameters["trt_profile_opt_shapes"] == "image:8x40x40x1"
    assert parameters["trt_profile_max_shapes"] == "image:16x40x40x1"
    int8 = ExportSettings(tensorrt=True, precision="int8")
    assert (
        dict(
            build_model_config(tiny_graph, int8)
            .optimization.execution_accelerators.gpu_execution_accelerator[0]
            .parameters
        )["precision_mode"]
        == "INT8"
    )


def test_without_tensorrt_there_is_no_accelerator_block(tiny_graph):
    assert not build_model_config(tiny_graph, ExportSettings()).HasField("optimization")


def test_fixed_batch_graph_is_refused(tiny_graph):
    fixed = onnx.ModelProto()
    fixed.CopyFrom(tiny_graph)
    fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    with pytest.raises(ExportError, match="dynamic first"):
        build_model_config(fixed, ExportSettings())


@pytest.mark.parametrize(
    "field, value",
    [
        ("precision", "int4"),
        ("max_batch_size", 0),
        ("region_max_batch_size", 0),
        ("model_name", "a/b"),
        ("accuracy_drop_tolerance", 2.0),
        ("opset", 9),
    ],
)
def test_bad_settings_are_refused(field, value):
    with pytest.raises(UsageError, match=field.split("_")[0]):
        ExportSettings(**{field: value})
