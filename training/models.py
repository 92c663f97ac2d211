"""The four architectures, each taking the contract's uint8 image and ending in the paper's head.

Every model is ``image`` (uint8 ``(S, S, 1)``) -> grey to channels -> the architecture's own
scaling -> ``backbone`` -> head (Flatten or global pooling, Dense(128, relu), Dense(4, softmax)
named ``probabilities``). Augmentation is never inside: it runs in the tf.data pipeline.
"""

from __future__ import annotations

from pathlib import Path

import keras

from imaging.contract import ARCHITECTURES, CLASS_NAMES, INPUT_NAME, OUTPUT_NAME
from training.preprocessing import GreyToChannels, architecture_scaling
from training.settings import MINIMUM_IMAGE_SIZE, POOLING_CHOICES

BACKBONE_NAME = "backbone"

_APPLICATIONS = {
    "inceptionv3": keras.applications.InceptionV3,
    "resnet50": keras.applications.ResNet50,
    "efficientnetb0": keras.applications.EfficientNetB0,
}


def build_simple_cnn(image_size: int, channels: int = 1) -> keras.Model:
    """A small VGG-like network (four conv blocks) trained from scratch; the CPU-friendly baseline."""
    inputs = keras.Input((image_size, image_size, channels))
    features = inputs
    for filters in (32, 64, 128, 128):
        features = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(features)
        features = keras.layers.BatchNormalization()(features)
        features = keras.layers.Activation("relu")(features)
        features = keras.layers.MaxPooling2D()(features)
    return keras.Model(inputs, features, name=BACKBONE_NAME)


def build_backbone(architecture: str, image_size: int, weights_path: Path | None) -> keras.Model:
    """Return the convolutional base (no top), with weights from ``weights_path`` or random ones."""
    if architecture == "simple_cnn":
        backbone = build_simple_cnn(image_size)
    else:
        backbone = _APPLICATIONS[architecture](
            include_top=False, weights=None, input_shape=(image_size, image_size, 3), name=BACKBONE_NAME
        )
    if weights_path is not None:
        _load_weights(backbone, weights_path)
    return backbone


def _load_weights(backbone: keras.Model, weights_path: Path) -> None:
    try:
        backbone.load_weights(str(weights_path))
    except Exception as error:  # h5py/keras raise many types for a wrong or corrupt file
        raise ValueError(
            f"{weights_path}: cannot load these weights into the {backbone.name} base "
            f"({type(error).__name__}: {error}). Use the Keras application's 'notop' .h5 file."
        ) from error


def build_model(
    architecture: str,
    image_size: int,
    weights_path: Path | None = None,
    *,
    pooling: str = "flatten",
    dense_units: int = 128,
    dropout_rate: float = 0.0,
    scratch_batch_norm_momentum: float | None = 0.9,
) -> keras.Model:
    """Build an inference-ready classifier with preprocessing inside and no augmentation.

    Args:
        architecture: ``inceptionv3``, ``resnet50``, ``efficientnetb0`` or ``simple_cnn``.
        image_size: side of the square input in pixels.
        weights_path: a local weights file for the base (see ``training.weights.resolve_weights``);
            None trains the base from scratch.
        pooling: ``"flatten"`` (the paper's head) or ``"average"`` (global average pooling).
        dense_units: width of the hidden Dense layer.
        dropout_rate: dropout before and after the hidden Dense layer (0 disables it).
        scratch_batch_norm_momentum: BatchNormalization momentum for a base trained from scratch
            (None keeps Keras' default).

    Returns:
        A ``keras.Model`` from uint8 ``image`` ``(S, S, 1)`` to float32 ``probabilities`` ``(4,)``.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    if image_size < MINIMUM_IMAGE_SIZE[architecture]:
        raise ValueError(
            f"{architecture} needs an image size of at least {MINIMUM_IMAGE_SIZE[architecture]} px"
        )
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"pooling must be one of {', '.join(POOLING_CHOICES)}, got {pooling!r}")
    pretrained = weights_path is not None
    channels = 1 if architecture == "simple_cnn" else 3
    backbone = build_backbone(architecture, image_size, weights_path)
    if not pretrained and scratch_batch_norm_momentum is not None:
        set_batch_norm_momentum(backbone, scratch_batch_norm_momentum)

    image = keras.Input((image_size, image_size, 1), dtype="uint8", name=INPUT_NAME)
    features = GreyToChannels(channels, name="grey_to_channels")(image)
    scaling = architecture_scaling(architecture)
    if scaling is not None:
        features = scaling(features)
    # A pretrained base keeps its BatchNorm statistics (inference mode) even while fine-tuning,
    # as the Keras transfer-learning guide advises; a base learning from scratch updates them.
    features = backbone(features, training=False) if pretrained else backbone(features)
    if pooling == "flatten":
        features = keras.layers.Flatten(name="flatten")(features)
    else:
        features = keras.layers.GlobalAveragePooling2D(name="average_pooling")(features)
    if dropout_rate > 0:
        features = keras.layers.Dropout(dropout_rate, name="dropout_features")(features)
    features = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(features)
    if dropout_rate > 0:
        features = keras.layers.Dropout(dropout_rate, name="dropout_head")(features)
    probabilities = keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name=OUTPUT_NAME)(features)
    return keras.Model(image, probabilities, name=architecture)


def set_batch_norm_momentum(network: keras.Model, momentum: float) -> None:
    """Set the moving-average momentum of every BatchNormalization layer in ``network``."""
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def backbone_of(model: keras.Model) -> keras.Model:
    """Return the nested convolutional base of a model built by ``build_model``."""
    return model.get_layer(BACKBONE_NAME)


def freeze_backbone(model: keras.Model) -> None:
    """Freeze the whole base, so only the head trains (transfer learning, phase one)."""
    backbone_of(model).trainable = False


def unfreeze_top_of_backbone(model: keras.Model, fraction: float) -> int:
    """Unfreeze the top ``fraction`` of the base's layers for fine-tuning; return how many.

    BatchNormalization layers stay frozen: their ImageNet statistics are worth keeping and a
    small batch would only add noise to them.
    """
    backbone = backbone_of(model)
    backbone.trainable = True
    layers = backbone.layers
    first_trainable = len(layers) - round(fraction * len(layers))
    unfrozen = 0
    for index, layer in enumerate(layers):
        trainable = index >= first_trainable and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        unfrozen += int(trainable and bool(layer.weights))
    return unfrozen
