"""The gRPC wrapper's deadline, retry and error translation, against real sockets (no server needed)."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from client.contract import check_model_metadata
from client.errors import ModelContractError, TritonUnavailableError
from client.triton import TritonClassifier, TritonSettings, number_parameter


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: every gRPC call hits its deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_unreachable_server_is_retried_with_exponential_backoff_then_explained():
    url = f"127.0.0.1:{_closed_port()}"
    waits: list[float] = []
    settings = TritonSettings(url=url, retries=3, backoff_seconds=0.01, timeout_seconds=2)
    with TritonClassifier(settings, sleep=waits.append) as classifier:
        assert classifier.is_server_ready() is False
        with pytest.raises(TritonUnavailableError) as caught:
            classifier.classify(np.zeros((2, 16, 16, 1), np.uint8))
    assert waits == [0.01, 0.02, 0.04]
    message = str(caught.value)
    assert f"Triton at {url} is not reachable" in message
    assert "emphysema serve" in message
    assert "tried 4 times" in message
    assert caught.value.status == "UNAVAILABLE"


def test_a_silent_server_fails_within_the_deadline_not_forever(silent_server):
    settings = TritonSettings(url=silent_server, retries=1, backoff_seconds=0.0, timeout_seconds=0.5)
    started = time.monotonic()
    with TritonClassifier(settings) as classifier, pytest.raises(TritonUnavailableError) as caught:
        classifier.model_info()
    elapsed = time.monotonic() - started
    # Two tries of 0.5 s each; generous slack for a loaded 2-core machine.
    assert 0.9 <= elapsed < 5.0
    assert caught.value.status == "DEADLINE_EXCEEDED"
    assert "did not answer within 0.5 s" in str(caught.value)


def test_readiness_of_a_silent_server_is_false_within_the_deadline(silent_server):
    settings = TritonSettings(url=silent_server, timeout_seconds=0.3)
    started = time.monotonic()
    with TritonClassifier(settings) as classifier:
        assert classifier.is_server_ready() is False
        assert classifier.is_model_ready() is False
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "http://localhost:8001"}, "host:port"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"retries": -1}, "retries"),
        ({"max_batch_size": 0}, "max_batch_size"),
    ],
)
def test_settings_refuse_unusable_values(settings, message):
    with pytest.raises(ValueError, match=message):
        TritonSettings(**settings)


def _metadata(image_shape, image_type="UINT8", output_shape=("-1", "4"), output_type="FP32"):
    return {
        "name": "tiny",
        "versions": ["1"],
        "inputs": [{"name": "image", "datatype": image_type, "shape": list(image_shape)}],
        "outputs": [{"name": "probabilities", "datatype": output_type, "shape": list(output_shape)}],
    }


def test_contract_check_reads_the_image_size_from_the_metadata():
    info = check_model_metadata(_metadata(["-1", "48", "48", "1"]), 8, "h:1")
    assert (info.name, info.image_size, info.max_batch_size, info.versions) == ("tiny", 48, 8, ("1",))


def test_a_result_names_the_newest_version_and_the_field_of_view_if_any():
    metadata = {**_metadata(["-1", "48", "48", "1"]), "versions": ["2", "10", "9"]}
    slice_level = check_model_metadata(metadata, 8, "h:1")
    assert slice_level.version == "10"  # Triton answers with the newest version by default
    assert slice_level.describe() == "model tiny, version 10, slice-level (no field of view)"
    assert slice_level.as_record() == {"model": "tiny", "model_version": "10", "field_of_view_mm": None}
    config = {"parameters": {"field_of_view_mm": {"string_value": "350"}}}
    with_view = check_model_metadata(metadata, 8, "h:1", number_parameter(config, "field_of_view_mm"))
    assert with_view.describe() == "model tiny, version 10, field of view 350 mm"
    assert number_parameter({}, "field_of_view_mm") is None
    wide = {"parameters": {"field_of_view_mm": {"string_value": "wide"}}}
    assert number_parameter(wide, "field_of_view_mm") is None


@pytest.mark.parametrize(
    ("metadata", "max_batch_size", "message"),
    [
        (_metadata(["-1", "48", "48", "1"], image_type="FP32"), 8, "expected UINT8"),
        (_metadata(["48", "48", "1"]), 8, r"expected \[-1, S, S, 1\]"),
        (_metadata(["-1", "48", "48", "3"]), 8, r"expected \[-1, S, S, 1\]"),
        (_metadata(["-1", "48", "32", "1"]), 8, "square"),
        (_metadata(["-1", "48", "48", "1"], output_shape=["-1", "5"]), 8, "expected FP32"),
        (_metadata(["-1", "48", "48", "1"]), 0, "needs batching"),
        ({"name": "tiny", "inputs": [], "outputs": []}, 8, "no input named 'image'"),
    ],
)
def test_contract_check_names_what_is_wrong(metadata, max_batch_size, message):
    with pytest.raises(ModelContractError, match=message):
        check_model_metadata(metadata, max_batch_size, "h:1")
