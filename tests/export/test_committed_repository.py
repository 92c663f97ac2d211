"""The committed model_repository/: each config.pbtxt parses and equals what its export would write."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from export.model_repository import labels_text
from export.onnx_graph import convert_keras_to_onnx, read_signature
from export.parity import measure_parity
from export.settings import ExportSettings
from export.triton_config import build_model_config, render_config
from imaging.contract import ARCHITECTURES, DEFAULT_IMAGE_SIZE

REPOSITORY = Path(__file__).resolve().parents[2] / "model_repository"
COMMITTED_IMAGE_SIZE = DEFAULT_IMAGE_SIZE


def exported_config_text(graph: onnx.ModelProto, model_name: str) -> str:
    """What `emphysema export --model MODEL` with default settings writes for this graph."""
    settings = ExportSettings(model_name=model_name)
    return render_config(build_model_config(graph, settings), settings)


@pytest.fixture(scope="module")
def contract_graph_224(build_contract_model) -> onnx.ModelProto:
    """A cheap model with the served signature (uint8 [batch,224,224,1] -> fp32 [batch,4]), exported."""
    return convert_keras_to_onnx(build_contract_model(COMMITTED_IMAGE_SIZE), COMMITTED_IMAGE_SIZE, opset=17)


@pytest.mark.parametrize("model_name", ARCHITECTURES)
def test_committed_config_parses_and_equals_the_exporters(model_name, contract_graph_224):
    text = (REPOSITORY / model_name / "config.pbtxt").read_text(encoding="utf-8")
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    assert config.name == model_name and config.backend == "onnxruntime" and config.max_batch_size > 0
    assert config.HasField("dynamic_batching")
    assert (config.input[0].name, config.input[0].data_type, list(config.input[0].dims)) == (
        "image",
        model_config_pb2.TYPE_UINT8,
        [COMMITTED_IMAGE_SIZE, COMMITTED_IMAGE_SIZE, 1],
    )
    assert (config.output[0].name, config.output[0].data_type, list(config.output[0].dims)) == (
        "probabilities",
        model_config_pb2.TYPE_FP32,
        [4],
    )
    assert config.output[0].label_filename == "labels.txt"
    assert text == exported_config_text(contract_graph_224, model_name)


@pytest.mark.parametrize("model_name", ARCHITECTURES)
def test_committed_labels_are_the_class_order(model_name):
    assert (REPOSITORY / model_name / "labels.txt").read_text(encoding="utf-8") == labels_text()


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ARCHITECTURES)
def test_real_architecture_exports_to_the_committed_config(model_name):
    """The real architecture at 224 (training.models) exports to exactly the committed config, with parity."""
    models = pytest.importorskip("training.models")
    model = models.build_model(model_name, COMMITTED_IMAGE_SIZE)
    started = time.perf_counter()
    graph = convert_keras_to_onnx(model, COMMITTED_IMAGE_SIZE, opset=17)
    seconds = time.perf_counter() - started
    assert [signature.dims for signature in read_signature(graph)] == [(None, 224, 224, 1), (None, 4)]
    committed = (REPOSITORY / model_name / "config.pbtxt").read_text(encoding="utf-8")
    assert exported_config_text(graph, model_name) == committed
    images = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 1), dtype=np.uint8)
    difference = measure_parity(model, graph, images)
    assert difference <= 1e-4
    print(
        f"\n{model_name}@224: convert {seconds:.1f} s, {graph.ByteSize() / 1e6:.1f} MB, "
        f"parity {difference:.2e}"
    )
