"""`--weights imagenet|none|PATH`: the offline error, local files, and no half-written run."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from emphysema import cli
from training.errors import TrainingError
from training.models import BACKBONE_NAME, build_model, build_simple_cnn
from training.weights import (
    IMAGENET_WEIGHTS,
    WeightsUnavailableError,
    download_imagenet_weights,
    resolve_weights,
)


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure the download cannot reach the internet, even on a machine that has it.

    Where name resolution already fails (these machines have no internet), this changes nothing;
    elsewhere it fails resolution the same way, so the test never downloads 90 MB or hangs.
    """
    try:
        socket.getaddrinfo("storage.googleapis.com", 443)
    except OSError:
        return  # really offline: test the real failure

    def refuse(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("architecture", sorted(IMAGENET_WEIGHTS))
def test_imagenet_without_network_says_how_to_continue_offline(architecture: str, tmp_path: Path, no_network):
    started = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as caught:
        download_imagenet_weights(architecture, cache_dir=tmp_path)  # empty cache: it must download
    message = str(caught.value)
    assert "--weights none" in message
    assert "--weights PATH" in message
    assert IMAGENET_WEIGHTS[architecture][0] in message  # the exact file to fetch elsewhere
    assert time.monotonic() - started < 60
    assert socket.getdefaulttimeout() is None  # the temporary download timeout was restored


@pytest.mark.timeout(120)
def test_train_cli_with_imagenet_offline_fails_clearly_and_writes_nothing(
    tiny_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    no_network,
):
    monkeypatch.setattr("keras.src.backend.config._KERAS_DIR", str(tmp_path / "keras_home"))  # no cached file
    out = tmp_path / "runs" / "resnet"
    status = cli.main(
        [
            "train",
            "--data",
            str(tiny_dataset),
            "--architecture",
            "resnet50",
            "--weights",
            "imagenet",
            "--out",
            str(out),
            "--image-size",
            "32",
            "--epochs",
            "1",
        ]
    )
    assert status == 1
    error = capsys.readouterr().err
    assert "could not download the ImageNet weights for resnet50" in error
    assert "--weights none" in error
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no run folder, no staging leftovers


def test_weights_none_and_missing_paths(tmp_path: Path):
    assert resolve_weights("inceptionv3", "none") is None
    with pytest.raises(TrainingError, match="weights file not found"):
        resolve_weights("inceptionv3", str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="no ImageNet weights"):
        download_imagenet_weights("simple_cnn")


def test_a_local_weights_file_initialises_the_base(tmp_path: Path):
    source = build_simple_cnn(32)
    path = tmp_path / "base.weights.h5"
    source.save_weights(path)
    model = build_model("simple_cnn", 32, resolve_weights("simple_cnn", str(path)))
    for loaded, expected in zip(
        model.get_layer(BACKBONE_NAME).get_weights(), source.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(loaded, expected)


def test_a_wrong_weights_file_names_the_file(tmp_path: Path):
    path = tmp_path / "not_weights.h5"
    path.write_bytes(b"this is not an HDF5 file")
    with pytest.raises(ValueError, match="not_weights.h5"):
        build_model("simple_cnn", 32, path)
