"""Malformed tensors sent straight to Triton over gRPC: INVALID_ARGUMENT, and the server keeps serving.

The requests are built with Triton's own protobufs and sent through a bare gRPC stub, so nothing
on the client side can tidy them up first (tritonclient's helpers check shapes themselves).
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

pytestmark = pytest.mark.triton


@pytest.fixture
def stub(triton_server):
    channel = grpc.insecure_channel(triton_server.grpc_url)
    yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def _request(
    model: str, shape: list[int], datatype: str = "UINT8", payload: bytes | None = None, name: str = "image"
) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name=name, datatype=datatype, shape=shape)
    if payload is None:
        payload = bytes(int(np.prod(shape)) * (4 if datatype == "FP32" else 1))
    request.raw_input_contents.append(payload)
    request.outputs.add(name="probabilities")
    return request


def _good_request(repository) -> service_pb2.ModelInferRequest:
    size = repository.image_size
    pixels = np.random.default_rng(0).integers(0, 256, (1, size, size, 1), dtype=np.uint8)
    return _request(repository.model_name, [1, size, size, 1], payload=pixels.tobytes())


def _bad_requests(repository) -> dict[str, service_pb2.ModelInferRequest]:
    model, size, batch = repository.model_name, repository.image_size, repository.max_batch_size
    missing = service_pb2.ModelInferRequest(model_name=model)
    missing.outputs.add(name="probabilities")
    extra = _request(model, [1, size, size, 1])
    extra.inputs.add(name="unexpected", datatype="UINT8", shape=[1, 1])
    extra.raw_input_contents.append(b"\x00")
    return {
        "wrong_shape": _request(model, [1, size // 2, size // 2, 1]),
        "no_batch_dimension": _request(model, [size, size, 1]),
        "three_channels": _request(model, [1, size, size, 3]),
        "wrong_dtype": _request(model, [1, size, size, 1], datatype="FP32"),
        "byte_size_too_small": _request(model, [1, size, size, 1], payload=bytes(size * size - 7)),
        "byte_size_too_large": _request(model, [1, size, size, 1], payload=bytes(size * size + 7)),
        "missing_input": missing,
        "wrongly_named_input": _request(model, [1, size, size, 1], name="input_1"),
        "extra_input": extra,
        "batch_over_maximum": _request(model, [batch + 1, size, size, 1]),
        "negative_dimension": _request(model, [1, -size, size, 1], payload=b""),
    }


BAD_REQUEST_NAMES = [
    "wrong_shape",
    "no_batch_dimension",
    "three_channels",
    "wrong_dtype",
    "byte_size_too_small",
    "byte_size_too_large",
    "missing_input",
    "wrongly_named_input",
    "extra_input",
    "batch_over_maximum",
    "negative_dimension",
]


@pytest.mark.parametrize("case", BAD_REQUEST_NAMES)
def test_malformed_tensor_is_invalid_argument_and_triton_keeps_serving(
    case, stub, tiny_repository, triton_server
):
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(_bad_requests(tiny_repository)[case], timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, caught.value.details())
    assert caught.value.details(), "Triton should say what is wrong"
    assert triton_server.process.poll() is None, "Triton died on a malformed request"
    response = stub.ModelInfer(_good_request(tiny_repository), timeout=10)
    probabilities = np.frombuffer(response.raw_output_contents[0], dtype=np.float32)
    assert probabilities.shape == (4,) and abs(float(probabilities.sum()) - 1) < 1e-4


@pytest.mark.parametrize("model", ["../etc/passwd", "/etc/passwd", "inceptionv3/../../x", "", "\u00e9\x00"])
def test_hostile_model_names_are_refused_and_triton_keeps_serving(
    model, stub, tiny_repository, triton_server
):
    request = _good_request(tiny_repository)
    request.model_name = model
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request, timeout=10)
    assert caught.value.code() in {
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INVALID_ARGUMENT,
    }, caught.value
    assert triton_server.process.poll() is None
    assert stub.ModelInfer(_good_request(tiny_repository), timeout=10).raw_output_contents


def test_a_burst_of_malformed_requests_leaves_triton_healthy(stub, tiny_repository, triton_server):
    requests = list(_bad_requests(tiny_repository).values()) * 5
    started = time.monotonic()
    futures = [stub.ModelInfer.future(request, timeout=20) for request in requests]
    codes = []
    for future in futures:
        try:
            future.result()
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
    assert set(codes) == {grpc.StatusCode.INVALID_ARGUMENT}
    assert time.monotonic() - started < 20
    ready = stub.ServerReady(service_pb2.ServerReadyRequest(), timeout=10)
    assert ready.ready
    assert stub.ModelInfer(_good_request(tiny_repository), timeout=10).raw_output_contents


def test_wrapper_turns_a_wrong_shaped_array_into_a_readable_error(triton_server, tiny_repository):
    from client.triton import TritonClassifier, TritonSettings

    size = tiny_repository.image_size
    with TritonClassifier(TritonSettings(url=triton_server.grpc_url, timeout_seconds=10)) as classifier:
        for images in (
            np.zeros((2, size + 1, size, 1), np.uint8),
            np.zeros((2, size, size, 3), np.uint8),
            np.zeros((2, size, size, 1), np.float32),
            np.zeros((size, size), np.uint8),
        ):
            with pytest.raises(ValueError) as caught:
                classifier.classify(images)
            message = str(caught.value)
            assert tiny_repository.model_name in message and str(size) in message, message
            assert str(images.dtype) in message and str(images.shape) in message, message
        # The wrapper still classifies afterwards.
        assert len(classifier.classify(np.zeros((3, size, size, 1), np.uint8))) == 3


def test_wrapper_reports_triton_invalid_argument_without_retrying(triton_server, tiny_repository):
    """A stale model description (say the server was restarted with another export) reaches Triton.

    The wrapper must pass Triton's INVALID_ARGUMENT on as InferenceRequestError at once: retrying
    cannot help, and the message must say what Triton expected.
    """
    import dataclasses

    from client.errors import InferenceRequestError
    from client.triton import TritonClassifier, TritonSettings

    waits: list[float] = []
    settings = TritonSettings(url=triton_server.grpc_url, timeout_seconds=10, retries=3)
    with TritonClassifier(settings, sleep=waits.append) as classifier:
        real = classifier.model_info()
        stale = dataclasses.replace(real, image_size=real.image_size // 2)
        classifier._model_info[real.name] = stale  # what a client would cache before a re-export
        with pytest.raises(InferenceRequestError) as caught:
            classifier.classify(np.zeros((1, stale.image_size, stale.image_size, 1), np.uint8))
    assert waits == [], "an invalid request must not be retried"
    assert caught.value.status == "INVALID_ARGUMENT"
    message = str(caught.value)
    assert triton_server.grpc_url in message and "shape" in message.lower(), message
