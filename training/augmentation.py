"""The paper's augmentation (rotation, shift, shear, zoom, horizontal flip) as Keras preprocessing layers.

It runs in the tf.data pipeline on the training split only and is never part of the saved model:
the served model must be deterministic, and these layers do not export to ONNX.
"""

from __future__ import annotations

import keras

from training.settings import TrainSettings

# "reflect" continues the lung texture into the corners a rotation or shift uncovers, instead of
# drawing black borders the model could learn as a cue.
FILL_MODE = "reflect"


def build_augmentation(settings: TrainSettings) -> keras.Sequential | None:
    """Return the augmentation pipeline for ``settings``, or None when it is off or all zero.

    The layers take float images in 0..255 with shape ``(batch, S, S, 1)`` and draw a different
    transform for every image of the batch; seeds derive from ``settings.seed``.
    """
    if not settings.augment:
        return None
    seed = settings.seed
    layers: list[keras.layers.Layer] = []
    if settings.rotation_degrees > 0:
        layers.append(
            keras.layers.RandomRotation(settings.rotation_degrees / 360.0, fill_mode=FILL_MODE, seed=seed)
        )
    if settings.shift_fraction > 0:
        shift = settings.shift_fraction
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode=FILL_MODE, seed=seed + 1))
    if settings.shear_fraction > 0:
        shear = settings.shear_fraction
        layers.append(
            keras.layers.RandomShear(x_factor=shear, y_factor=shear, fill_mode=FILL_MODE, seed=seed + 2)
        )
    if settings.zoom_fraction > 0:
        layers.append(keras.layers.RandomZoom(settings.zoom_fraction, fill_mode=FILL_MODE, seed=seed + 3))
    if settings.horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 4))
    if not layers:
        return None
    return keras.Sequential(layers, name="augmentation")
