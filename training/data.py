"""tf.data pipelines from uint8 image arrays: batching, shuffling, training-only augmentation."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from imaging.contract import CLASS_NAMES


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    augmentation: keras.Sequential | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Return a dataset of ``(uint8 images, one-hot labels)`` batches.

    Augmented images are rounded back to uint8, so the model trains on exactly the input type it
    is served with.

    Args:
        images: uint8 ``(N, S, S, 1)``.
        labels: ``(N,)`` class indices.
        batch_size: images per batch.
        augmentation: layers applied to each training batch (None for validation/test data).
        shuffle: reshuffle every epoch (training data).
        seed: the shuffle seed.
    """
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"expected uint8 images of shape (N, S, S, 1), got {images.dtype} {images.shape}")
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            f"need one label per image and at least one image, got {len(images)} and {len(labels)}"
        )
    one_hot = keras.utils.to_categorical(np.asarray(labels, dtype=int), len(CLASS_NAMES)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((images, one_hot))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augmentation is not None:

        def augment(batch: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            augmented = augmentation(tf.cast(batch, tf.float32), training=True)
            return tf.cast(tf.clip_by_value(tf.round(augmented), 0.0, 255.0), tf.uint8), targets

        dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def class_weights(labels: np.ndarray, class_count: int = len(CLASS_NAMES)) -> dict[int, float]:
    """Inverse-frequency class weights ``N / (classes present * count)``, as scikit-learn's "balanced".

    Classes absent from ``labels`` get weight 1 (they contribute no loss anyway).
    """
    labels = np.asarray(labels, dtype=int)
    counts = np.bincount(labels, minlength=class_count)
    present = int((counts > 0).sum())
    return {
        index: float(len(labels) / (present * count)) if count else 1.0 for index, count in enumerate(counts)
    }
