"""Pick the distribution strategy: all local GPUs when there are several, the default device otherwise."""

from __future__ import annotations

import tensorflow as tf


def select_strategy() -> tf.distribute.Strategy:
    """Return ``MirroredStrategy`` over every GPU when more than one is visible, else the default.

    With ``MirroredStrategy`` each step splits the batch across the GPUs, so ``--batch-size`` is
    the global batch. Nothing else changes for the user.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """Where training runs, in words for the run log: "CPU, 1 device", "1 GPU", "2 GPUs, mirrored"."""
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return f"{replicas} GPUs, mirrored (--batch-size is split across them)"
    return "1 GPU" if tf.config.list_logical_devices("GPU") else "CPU, 1 device"
