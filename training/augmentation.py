"""The training-only augmentation: the paper's geometric layers, and kernel noise, blur and density.

The paper's (rotation, shift, shear, zoom, horizontal flip) are Keras preprocessing layers; kernel
noise (``noise_hu``), kernel blur (``blur_px``) and density shifts (``density_shift_hu``) are
ours: the paper's scans came from one protocol. All run in the tf.data
pipeline on the training split only and are never part of the saved model: the served model must
be deterministic, and these layers do not export to ONNX.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from training.settings import TrainSettings

# "reflect" continues the lung texture into the corners a rotation or shift uncovers, instead of
# drawing black borders the model could learn as a cue.
FILL_MODE = "reflect"
# The noise grain in input pixels (Gaussian sigma): a CT's noise is correlated over about a pixel
# of the scan, and an ROI of a full-size scan is upsampled to the input about 1.5 times.
NOISE_GRAIN_PX = 1.0


def gaussian_kernel(sigma_px: float) -> np.ndarray:
    """A normalised 2-D Gaussian ``(k, k, 1, 1)`` for a depthwise convolution, 3 sigma each side."""
    radius = max(int(np.ceil(3 * sigma_px)), 1)
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    profile = np.exp(-0.5 * (offsets / sigma_px) ** 2)
    kernel = np.outer(profile, profile)
    return (kernel / kernel.sum())[:, :, np.newaxis, np.newaxis].astype(np.float32)


class RandomKernelNoise(keras.layers.Layer):
    """Add correlated Gaussian noise, its standard deviation drawn per image in ``[0, maximum_grey]``.

    A reconstruction kernel sets how noisy a scan is; a model that has only seen each patient
    at one noise level can learn the level as a cue to the pattern. Training only; in grey levels
    (the images are windowed), so ``maximum_grey`` is the HU limit times 255 / window width.
    """

    def __init__(self, maximum_grey: float, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.maximum_grey = float(maximum_grey)
        self.seed = seed
        kernel = gaussian_kernel(NOISE_GRAIN_PX)
        # Unit sum of squares: filtered unit white noise keeps a standard deviation of one.
        self.kernel = kernel / np.sqrt((kernel**2).sum())

    def call(self, images, training=True):
        """Return the images plus noise (training), or the images unchanged."""
        if not training:
            return images
        shape = tf.shape(images)
        white = tf.random.normal(shape, seed=self.seed)
        noise = tf.nn.depthwise_conv2d(white, tf.constant(self.kernel), [1, 1, 1, 1], "SAME")
        spread = tf.random.uniform([shape[0], 1, 1, 1], 0.0, self.maximum_grey, seed=self.seed + 1)
        return images + spread * noise


class RandomKernelBlur(keras.layers.Layer):
    """Blend each image with its Gaussian blur (``sigma_px``) by a weight drawn per image in [0, 1].

    A smooth reconstruction kernel flattens the lung's texture as panlobular emphysema does; a
    model that has seen each patient with one kernel can learn the smoothness as a cue. The blend
    spans every sharpness from the image's own to the blur's. Training only.
    """

    def __init__(self, sigma_px: float, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sigma_px = float(sigma_px)
        self.seed = seed
        self.kernel = gaussian_kernel(self.sigma_px)

    def call(self, images, training=True):
        """Return the images blurred by a random amount (training), or unchanged."""
        if not training:
            return images
        radius = self.kernel.shape[0] // 2
        padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
        blurred = tf.nn.depthwise_conv2d(padded, tf.constant(self.kernel), [1, 1, 1, 1], "VALID")
        weight = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], 0.0, 1.0, seed=self.seed)
        return images + weight * (blurred - images)


class RandomDensityShift(keras.layers.Layer):
    """Shift each image's density by an offset drawn per image in ``[-maximum_grey, maximum_grey]``.

    Patients differ in the density of their normal lung (and scanners in calibration) by tens of
    HU; a model that has seen each patient at one density can read a dark normal lung as the
    diffuse low attenuation of panlobular emphysema. Training only; in grey levels, as the noise.
    """

    def __init__(self, maximum_grey: float, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.maximum_grey = float(maximum_grey)
        self.seed = seed

    def call(self, images, training=True):
        """Return the images shifted (training), or the images unchanged."""
        if not training:
            return images
        shape = tf.shape(images)
        offset = tf.random.uniform([shape[0], 1, 1, 1], -self.maximum_grey, self.maximum_grey, seed=self.seed)
        return images + offset


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
    if settings.blur_px > 0:
        layers.append(RandomKernelBlur(settings.blur_px, seed + 8))
    if settings.density_shift_hu > 0:
        grey = settings.density_shift_hu * 255.0 / settings.window_width
        layers.append(RandomDensityShift(grey, seed + 7))
    if settings.noise_hu > 0:
        # Last, so no transform blurs the grain.
        layers.append(RandomKernelNoise(settings.noise_hu * 255.0 / settings.window_width, seed + 5))
    if not layers:
        return None
    return keras.Sequential(layers, name="augmentation")
