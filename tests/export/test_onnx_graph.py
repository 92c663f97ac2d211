"""Keras -> ONNX: contract names, dynamic batch, captured constants, refusals."""

from __future__ import annotations

import keras
import numpy as np
import onnx
import pytest

from export.onnx_graph import convert_keras_to_onnx, read_signature
from export.parity import measure_parity
from export.settings import ExportError


@pytest.fixture(scope="module")
def tiny_graph(build_contract_model) -> onnx.ModelProto:
    return convert_keras_to_onnx(build_contract_model(40), 40, opset=17)


def test_graph_follows_the_contract(tiny_graph):
    image, probabilities = read_signature(tiny_graph)
    assert (image.name, image.type_name, image.dims) == ("image", "UINT8", (None, 40, 40, 1))
    assert (probabilities.name, probabilities.type_name, probabilities.dims) == (
        "probabilities",
        "FLOAT",
        (None, 4),
    )
    assert tiny_graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_model_breaking_the_contract_is_refused():
    image = keras.Input((32, 32, 1), dtype="float32", name="image")
    model = keras.Model(image, keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(image)))
    with pytest.raises(ExportError, match="must be uint8"):
        convert_keras_to_onnx(model, 32, opset=17)


def test_augmentation_layers_are_refused():
    image = keras.Input((32, 32, 1), dtype="uint8", name="image")
    features = keras.layers.RandomFlip()(keras.layers.Rescaling(1 / 255)(image))
    model = keras.Model(image, keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(features)))
    with pytest.raises(ExportError, match="augmentation layers"):
        convert_keras_to_onnx(model, 32, opset=17)


def test_captured_constants_become_initializers_not_inputs():
    """A Normalization with fixed statistics (as in EfficientNet) is captured as constants by tf.function;
    tf2onnx would make them graph inputs that no client feeds."""
    image = keras.Input((32, 32, 1), dtype="uint8", name="image")
    features = keras.layers.Normalization(mean=90.0, variance=900.0)(keras.layers.Rescaling(1.0)(image))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(features))
    model = keras.Model(image, keras.layers.Dense(4, activation="softmax")(features))
    graph = convert_keras_to_onnx(model, 32, opset=17)
    assert [value.name for value in graph.graph.input] == ["image"]
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 1), dtype=np.uint8)
    assert measure_parity(model, graph, images) <= 1e-5
