"""Where a base network's starting weights come from: ImageNet (downloaded), a local file, or none."""

from __future__ import annotations

import socket
from pathlib import Path

import keras

from imaging.errors import UsageError
from training.errors import TrainingError

# The Keras applications' own "no top" ImageNet files (origin, file hash), as keras.applications uses.
_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"
IMAGENET_WEIGHTS: dict[str, tuple[str, str]] = {
    "inceptionv3": (
        _KERAS_WEIGHTS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    "resnet50": (
        _KERAS_WEIGHTS + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "efficientnetb0": (
        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d",
    ),
}
# Seconds one blocked network operation may take, so a firewalled machine fails instead of hanging.
DOWNLOAD_SOCKET_TIMEOUT = 30.0


class WeightsUnavailableError(TrainingError):
    """The ImageNet weights could not be downloaded; the message says how to continue offline."""


def offline_instructions(architecture: str) -> str:
    """Return the two ways to train ``architecture`` without network access."""
    origin, _ = IMAGENET_WEIGHTS[architecture]
    return (
        "To continue offline, either train from scratch with `--weights none`, or download "
        f"{origin} on a machine with internet access, copy it here and pass "
        f"`--weights PATH/TO/{Path(origin).name}`."
    )


def download_imagenet_weights(architecture: str, cache_dir: str | Path | None = None) -> Path:
    """Return the local path of ``architecture``'s ImageNet "no top" weights, downloading if needed.

    Args:
        architecture: ``inceptionv3``, ``resnet50`` or ``efficientnetb0``.
        cache_dir: the Keras cache folder (default ``~/.keras`` or ``$KERAS_HOME``).

    Raises:
        WeightsUnavailableError: the download failed (no internet, proxy, firewall, bad file).
    """
    if architecture not in IMAGENET_WEIGHTS:
        raise UsageError(f"{architecture} has no ImageNet weights; use --weights none")
    origin, file_hash = IMAGENET_WEIGHTS[architecture]
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT)
    try:
        path = keras.utils.get_file(
            Path(origin).name,
            origin,
            cache_subdir="models",
            file_hash=file_hash,
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
    except Exception as error:  # get_file wraps URLError/HTTPError/timeouts in a bare Exception
        raise WeightsUnavailableError(
            f"could not download the ImageNet weights for {architecture} from {origin} "
            f"({type(error).__name__}: {error}). {offline_instructions(architecture)}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return Path(path)


def resolve_weights(architecture: str, weights: str, cache_dir: str | Path | None = None) -> Path | None:
    """Turn ``--weights imagenet|none|PATH`` into a local weights file, or None for random weights.

    Raises:
        WeightsUnavailableError: ``imagenet`` was asked for and cannot be downloaded.
        ValueError: ``PATH`` does not exist.
    """
    if weights == "none":
        return None
    if weights == "imagenet":
        return download_imagenet_weights(architecture, cache_dir)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise TrainingError(f"{weights}: weights file not found (use imagenet, none or a Keras weights file)")
    return path
