"""Integration tests against the real embedded Triton (session server over the tiny repository)."""

from __future__ import annotations

import threading
import urllib.request

import numpy as np
import onnxruntime
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from imaging.scan import Scan, to_model_input

pytestmark = pytest.mark.triton


def synthetic_scans(count: int, image_size: int, seed: int = 0) -> np.ndarray:
    """Model inputs from the project's synthetic HRCT phantom, cycling through the four classes."""
    from imaging.contract import CLASS_NAMES
    from imaging.phantom import DEFAULT_SETTINGS, draw_patient_traits, generate_slice

    settings = DEFAULT_SETTINGS.with_image_size(64)  # small: these tests are about serving
    rng = np.random.default_rng(seed)
    traits = draw_patient_traits(rng, settings)
    images = []
    for index in range(count):
        label = CLASS_NAMES[index % len(CLASS_NAMES)]
        hounsfield = generate_slice(label, None if label == "NT" else "moderate", traits, rng, settings)
        scan = Scan(pixels=hounsfield, is_hounsfield=True, source=f"phantom_{index}")
        images.append(to_model_input(scan, image_size))
    return np.stack(images)


def infer(client, model_name: str, images: np.ndarray, **options):
    tensor = grpcclient.InferInput("image", list(images.shape), "UINT8")
    tensor.set_data_from_numpy(images)
    return client.infer(model_name, [tensor], client_timeout=30, **options)


@pytest.fixture(scope="module")
def reference_session(tiny_repository):
    return onnxruntime.InferenceSession(str(tiny_repository.onnx_path), providers=["CPUExecutionProvider"])


@pytest.fixture
def client(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as grpc_client:
        yield grpc_client


def test_health_and_metadata_over_grpc(client, tiny_repository, triton_server):
    name, size = tiny_repository.model_name, tiny_repository.image_size
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(name)
    metadata = client.get_model_metadata(name, as_json=True)
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["inputs"]] == [
        ("image", "UINT8", [str(d) for d in (-1, size, size, 1)])
    ]
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["outputs"]] == [
        ("probabilities", "FP32", ["-1", "4"])
    ]
    config = client.get_model_config(name, as_json=True)["config"]
    assert config["backend"] == "python" and config["max_batch_size"] == tiny_repository.max_batch_size
    assert "dynamic_batching" in config
    assert config["output"][0]["label_filename"] == "labels.txt"
    with urllib.request.urlopen(f"{triton_server.http_url}/v2/health/ready", timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(triton_server.metrics_url, timeout=10) as response:
        assert "nv_inference_count" in response.read().decode()


def test_inference_equals_onnxruntime(client, tiny_repository, reference_session):
    images = synthetic_scans(6, tiny_repository.image_size)
    expected = reference_session.run(["probabilities"], {"image": images})[0]
    batched = infer(client, tiny_repository.model_name, images).as_numpy("probabilities")
    single = np.concatenate(
        [infer(client, tiny_repository.model_name, image[None]).as_numpy("probabilities") for image in images]
    )
    assert batched.dtype == np.float32 and batched.shape == (6, 4)
    np.testing.assert_allclose(batched, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(single, expected, rtol=0, atol=1e-5)
    assert np.ptp(expected, axis=0).max() > 0.01, "the tiny model must tell different scans apart"


def test_top_k_labels_come_from_labels_txt(client, tiny_repository, reference_session):
    from imaging.contract import CLASS_NAMES

    image = synthetic_scans(1, tiny_repository.image_size, seed=3)
    expected = reference_session.run(["probabilities"], {"image": image})[0][0]
    output = grpcclient.InferRequestedOutput("probabilities", class_count=2)
    top = infer(client, tiny_repository.model_name, image, outputs=[output]).as_numpy("probabilities")[0]
    labels = [entry.decode().split(":")[2] for entry in top]
    assert labels == [CLASS_NAMES[i] for i in np.argsort(expected)[::-1][:2]]


def test_concurrent_clients_form_batches(triton_server, tiny_repository, reference_session):
    name, clients, requests_each = tiny_repository.model_name, 8, 6
    images = synthetic_scans(clients * requests_each, tiny_repository.image_size, seed=1)
    expected = reference_session.run(["probabilities"], {"image": images})[0]
    results: dict[int, np.ndarray] = {}
    failures: list[BaseException] = []

    def run_client(worker: int) -> None:
        try:
            with grpcclient.InferenceServerClient(triton_server.grpc_url) as own_client:
                for index in range(worker, len(images), clients):
                    results[index] = infer(own_client, name, images[index : index + 1]).as_numpy(
                        "probabilities"
                    )[0]
        except BaseException as error:  # surfaced below; a thread must not swallow it
            failures.append(error)

    with grpcclient.InferenceServerClient(triton_server.grpc_url) as stats_client:
        before = stats_client.get_inference_statistics(name).model_stats[0]
        threads = [threading.Thread(target=run_client, args=(worker,)) for worker in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        after = stats_client.get_inference_statistics(name).model_stats[0]
    assert not failures, failures
    np.testing.assert_allclose(np.stack([results[i] for i in range(len(images))]), expected, atol=1e-5)
    inferences = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert inferences == len(images)
    assert executions < inferences, f"no batches formed: {inferences} inferences in {executions} executions"
    mean_batch = inferences / executions
    print(f"mean dynamic batch size {mean_batch:.2f} ({inferences} inferences, {executions} executions)")


def test_wrong_tensor_is_refused_and_server_keeps_serving(client, tiny_repository):
    wrong = np.zeros((1, tiny_repository.image_size + 1, tiny_repository.image_size, 1), dtype=np.uint8)
    with pytest.raises(InferenceServerException, match="unexpected shape") as caught:
        infer(client, tiny_repository.model_name, wrong)
    assert "INVALID_ARGUMENT" in str(caught.value.status())
    good = synthetic_scans(1, tiny_repository.image_size)
    assert infer(client, tiny_repository.model_name, good).as_numpy("probabilities").shape == (1, 4)


def test_admin_protocols_are_restricted(client, triton_server, tiny_repository):
    name = tiny_repository.model_name
    for call in (
        client.get_model_repository_index,
        client.get_system_shared_memory_status,
        client.get_log_settings,
        lambda: client.unload_model(name),
    ):
        with pytest.raises(InferenceServerException, match="restricted"):
            call()
    # Even the key holder cannot load or unload: model control mode is "none".
    admin = {"triton-grpc-protocol-admin-key": triton_server.admin_key}
    with pytest.raises(InferenceServerException, match="not allowed"):
        client.unload_model(name, headers=admin)
    assert [m.name for m in client.get_model_repository_index(headers=admin).models] == [name]
    assert client.is_model_ready(name)
    # An open HTTP keep-alive connection makes Triton 2.51 wait the whole exit timeout: close it.
    http = httpclient.InferenceServerClient(triton_server.http_url.removeprefix("http://"))
    try:
        with pytest.raises(InferenceServerException, match="restricted"):
            http.get_model_repository_index()
        assert http.is_server_ready()
    finally:
        http.close()
