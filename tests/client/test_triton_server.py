"""The gRPC wrapper against the real embedded Triton serving the tiny contract model."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from client.errors import InferenceRequestError, ModelNotFoundError
from client.triton import TritonClassifier, TritonSettings
from imaging.contract import CLASS_NAMES

pytestmark = pytest.mark.triton


def _request_count(server, model: str) -> int:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        statistics = client.get_inference_statistics(model, client_timeout=10, as_json=True)
    finally:
        client.close()
    return int(statistics["model_stats"][0]["inference_stats"]["success"].get("count", 0))


def test_metadata_is_checked_and_the_image_size_read_from_it(triton_server, tiny_repository):
    with TritonClassifier(TritonSettings(url=triton_server.grpc_url)) as classifier:
        assert classifier.is_server_ready()
        assert classifier.is_model_ready(tiny_repository.model_name)
        info = classifier.model_info()
        # The repository index is restricted on the embedded server: the ready configured models remain.
        assert classifier.served_models() == [tiny_repository.model_name]
    assert info.image_size == tiny_repository.image_size
    assert info.max_batch_size == tiny_repository.max_batch_size


def test_classify_batches_into_requests_of_at_most_the_max_batch(triton_server, tiny_repository):
    import onnxruntime

    size, model = tiny_repository.image_size, tiny_repository.model_name
    images = np.random.default_rng(3).integers(0, 256, size=(19, size, size, 1), dtype=np.uint8)
    session = onnxruntime.InferenceSession(str(tiny_repository.onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(["probabilities"], {"image": images})[0]
    before = _request_count(triton_server, model)
    with TritonClassifier(TritonSettings(url=triton_server.grpc_url, concurrency=1)) as classifier:
        predictions = classifier.classify(images)
    # 19 images with max_batch_size 8 -> requests of 8, 8 and 3.
    assert _request_count(triton_server, model) - before == 3
    served = np.array([[result.probabilities[name] for name in CLASS_NAMES] for result in predictions])
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert [prediction.label for prediction in predictions] == [CLASS_NAMES[i] for i in expected.argmax(1)]


def test_wrong_image_size_is_refused_before_sending(triton_server, tiny_repository):
    with (
        TritonClassifier(TritonSettings(url=triton_server.grpc_url)) as classifier,
        pytest.raises(ValueError, match=f"shape \\(N, {tiny_repository.image_size}"),
    ):
        classifier.classify(np.zeros((1, 7, 7, 1), np.uint8))


def test_invalid_argument_is_translated_and_never_retried(triton_server, tiny_repository):
    waits: list[float] = []
    settings = TritonSettings(url=triton_server.grpc_url, retries=3, backoff_seconds=0.01)
    with TritonClassifier(settings, sleep=waits.append) as classifier:
        # Bypass the wrapper's own shape check to see what Triton itself says about a bad tensor.
        wrong = np.zeros((1, 5, 5, 1), np.uint8)
        image = grpcclient.InferInput("image", list(wrong.shape), "UINT8")
        image.set_data_from_numpy(wrong)
        with pytest.raises(InferenceRequestError) as caught:
            classifier._call("classify", classifier._client.infer, tiny_repository.model_name, [image])
        assert classifier.is_server_ready()  # the server keeps serving
    assert waits == []
    assert caught.value.status == "INVALID_ARGUMENT"
    assert "unexpected shape for input 'image'" in str(caught.value)


def test_unknown_model_names_the_model_and_what_to_check(triton_server):
    with (
        TritonClassifier(TritonSettings(url=triton_server.grpc_url, model="no_such_model")) as classifier,
        pytest.raises(ModelNotFoundError, match="no_such_model") as caught,
    ):
        classifier.model_info()
    assert "--model" in str(caught.value)


def test_the_only_served_model_is_chosen_and_a_missing_one_lists_those_served(triton_server, tiny_repository):
    with TritonClassifier(TritonSettings(url=triton_server.grpc_url)) as classifier:
        assert classifier.choose_model(None) == tiny_repository.model_name
        assert classifier.choose_model(tiny_repository.model_name) == tiny_repository.model_name
        with pytest.raises(ModelNotFoundError) as caught:
            classifier.choose_model("simple_cnn")
    message = str(caught.value)
    assert "'simple_cnn' is not served" in message and f"it serves {tiny_repository.model_name}" in message
