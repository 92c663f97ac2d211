"""Preprocessing that lives inside the model, so training, ONNX export and serving cannot differ.

The model takes the contract's uint8 ``(S, S, 1)`` lung-windowed image. These small layers turn it
into what each architecture was designed for. They are registered Keras layers (not ``Lambda``),
so ``model.keras`` reloads without custom code and tf2onnx sees plain Cast/Concat/Sub/Mul ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

# Caffe-style ImageNet means in BGR order, as keras.applications.resnet50.preprocess_input uses.
# A grey image has B == G == R, so the RGB->BGR flip that function also does changes nothing.
CAFFE_BGR_MEAN: tuple[float, float, float] = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="emphysema")
class GreyToChannels(keras.layers.Layer):
    """Cast uint8 grey levels to float32 (still 0..255) and repeat the one channel ``channels`` times."""

    def __init__(self, channels: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        self.channels = channels

    def call(self, inputs):
        """Return float32 grey levels with ``channels`` identical channels."""
        values = ops.cast(inputs, "float32")
        if self.channels == 1:
            return values
        return ops.concatenate([values] * self.channels, axis=-1)

    def compute_output_shape(self, input_shape):
        """Same spatial shape, ``channels`` channels."""
        return (*input_shape[:-1], self.channels)

    def get_config(self) -> dict:
        """Serializable configuration."""
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="emphysema")
class SubtractChannelMean(keras.layers.Layer):
    """Subtract a per-channel mean (ResNet50's caffe preprocessing on 0..255 inputs)."""

    def __init__(self, mean: Sequence[float] = CAFFE_BGR_MEAN, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mean = tuple(float(value) for value in mean)

    def call(self, inputs):
        """Return ``inputs - mean`` broadcast over the channel axis."""
        return inputs - ops.convert_to_tensor(self.mean, dtype=inputs.dtype)

    def compute_output_shape(self, input_shape):
        """Unchanged shape."""
        return input_shape

    def get_config(self) -> dict:
        """Serializable configuration."""
        return {**super().get_config(), "mean": list(self.mean)}


def architecture_scaling(architecture: str) -> keras.layers.Layer | None:
    """Return the layer mapping float 0..255 to the range ``architecture`` expects, or None.

    - inceptionv3: [-1, 1] (``inception_v3.preprocess_input``).
    - resnet50: caffe BGR mean subtraction, no scaling (``resnet50.preprocess_input``).
    - efficientnetb0: none. Keras' EfficientNet rescales 0..255 inside itself; feeding it [0, 1]
      is the bug behind the paper's 14.44 % EfficientNet result.
    - simple_cnn: [0, 1].
    """
    name = f"{architecture}_scaling"
    if architecture == "inceptionv3":
        return keras.layers.Rescaling(scale=1.0 / 127.5, offset=-1.0, name=name)
    if architecture == "resnet50":
        return SubtractChannelMean(CAFFE_BGR_MEAN, name=name)
    if architecture == "efficientnetb0":
        return None
    if architecture == "simple_cnn":
        return keras.layers.Rescaling(scale=1.0 / 255.0, name=name)
    raise ValueError(f"unknown architecture {architecture!r}")
