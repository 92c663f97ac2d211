"""The builders: contract input/output, preprocessing inside the model, no augmentation inside."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from imaging.contract import INPUT_NAME, OUTPUT_NAME
from training.models import (
    BACKBONE_NAME,
    build_model,
    freeze_backbone,
    unfreeze_top_of_backbone,
)
from training.preprocessing import CAFFE_BGR_MEAN, architecture_scaling

# Smallest input each architecture accepts (InceptionV3's stem needs 75 px).
TINY_SIZES = {"simple_cnn": 32, "inceptionv3": 75, "resnet50": 32, "efficientnetb0": 32}
DEEP = ["inceptionv3", "resnet50", "efficientnetb0"]
ARCHITECTURE_PARAMETERS = [pytest.param("simple_cnn")] + [
    pytest.param(name, marks=pytest.mark.slow) for name in DEEP
]


def uint8_batch(size: int, count: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 1), dtype=np.uint8)


def all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers += all_layers(layer)
    return layers


@pytest.mark.parametrize("architecture", ARCHITECTURE_PARAMETERS)
def test_builder_takes_uint8_and_returns_probabilities_that_survive_reloading(
    architecture: str, tmp_path: Path
):
    size = TINY_SIZES[architecture]
    model = build_model(architecture, size)
    assert model.inputs[0].dtype == "uint8"
    assert tuple(model.inputs[0].shape) == (None, size, size, 1)
    assert model.layers[0].name == INPUT_NAME
    assert model.layers[-1].name == OUTPUT_NAME
    images = uint8_batch(size)
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (3, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(probabilities >= 0)
    # Preprocessing is inside the model: the saved file alone maps the same uint8 batch to the same output.
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), probabilities, atol=1e-6)
    # Never any augmentation layer in the served model (it would not export and is not deterministic).
    assert not [layer.name for layer in all_layers(reloaded) if type(layer).__name__.startswith("Random")]


def test_each_architecture_gets_its_own_input_scaling():
    grey = keras.ops.convert_to_tensor(
        np.array([[[[0.0, 0.0, 0.0]], [[255.0, 255.0, 255.0]]]], dtype="float32")
    )
    inception = keras.ops.convert_to_numpy(architecture_scaling("inceptionv3")(grey))
    np.testing.assert_allclose(inception.ravel(), [-1, -1, -1, 1, 1, 1], atol=1e-6)
    resnet = keras.ops.convert_to_numpy(architecture_scaling("resnet50")(grey))
    np.testing.assert_allclose(resnet[0, 0, 0], -np.array(CAFFE_BGR_MEAN), atol=1e-4)
    np.testing.assert_allclose(resnet[0, 1, 0], 255.0 - np.array(CAFFE_BGR_MEAN), atol=1e-4)
    # EfficientNet rescales inside itself: it must receive 0..255 (the paper's 14.44 % bug fed it 0..1).
    assert architecture_scaling("efficientnetb0") is None
    simple = keras.ops.convert_to_numpy(architecture_scaling("simple_cnn")(grey))
    np.testing.assert_allclose(simple.ravel(), [0, 0, 0, 1, 1, 1], atol=1e-6)


def test_efficientnet_base_receives_grey_levels_0_to_255_on_three_channels():
    model = build_model("efficientnetb0", 32)
    before_base = keras.Model(model.inputs, model.get_layer("grey_to_channels").output)
    images = uint8_batch(32)
    fed = before_base.predict(images, verbose=0)
    assert fed.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(fed[..., 0], images[..., 0].astype(np.float32))
    np.testing.assert_array_equal(fed[..., 2], images[..., 0].astype(np.float32))
    assert model.get_layer(BACKBONE_NAME).input.shape[-1] == 3


def test_freezing_then_unfreezing_the_top_of_the_base():
    model = build_model("simple_cnn", 32)
    backbone = model.get_layer(BACKBONE_NAME)
    freeze_backbone(model)
    assert not backbone.trainable_weights
    head_trainable = len(model.trainable_weights)
    assert head_trainable == 4  # two Dense layers, kernel + bias each
    unfrozen = unfreeze_top_of_backbone(model, 0.5)
    assert unfrozen >= 1
    trainable_layers = [layer for layer in backbone.layers if layer.trainable and layer.weights]
    assert trainable_layers and all(
        not isinstance(layer, keras.layers.BatchNormalization) for layer in trainable_layers
    )
    first_conv = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D))
    assert not first_conv.trainable  # the bottom of the base stays frozen


@pytest.mark.parametrize(
    ("architecture", "size", "message"),
    [
        ("inceptionv3", 64, "at least 75"),
        ("vgg16", 64, "unknown architecture"),
        ("simple_cnn", 16, "at least 32"),
    ],
)
def test_bad_builder_arguments_are_refused_clearly(architecture: str, size: int, message: str):
    with pytest.raises(ValueError, match=message):
        build_model(architecture, size)


def test_a_dropout_head_and_average_pooling_are_options():
    model = build_model("simple_cnn", 32, pooling="average", dropout_rate=0.3)
    names = [layer.name for layer in model.layers]
    assert "average_pooling" in names and "flatten" not in names
    assert "dropout_head" in names
    probabilities = model.predict(uint8_batch(32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
