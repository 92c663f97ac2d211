"""What tests of analysis through Triton share: its inference count, and a server stopped after one batch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tritonclient.grpc as grpcclient

from client.settings import TritonSettings
from client.triton import TritonClassifier
from deploy.embedded import EmbeddedTriton
from deploy.settings import ServeSettings


@contextlib.contextmanager
def classifier_stopping_after_first_batch(repository, model: str) -> Iterator[TritonClassifier]:
    """Serve ``repository`` with a real embedded Triton; yield a classifier that stops it after one batch.

    The rest of a study then meets a server that is gone, as when Triton dies mid-study.
    """
    serve = ServeSettings.on_free_ports(threads=1, exit_timeout_s=5)
    server = EmbeddedTriton(repository, serve)

    class StoppedAfterFirstBatch(TritonClassifier):
        def classify(self, images, model=None):
            predictions = super().classify(images, model)
            server.stop()
            return predictions

    settings = TritonSettings(url=f"127.0.0.1:{serve.grpc_port}", model=model, retries=1)
    with server, StoppedAfterFirstBatch(settings) as classifier:
        yield classifier


def inference_count(url: str, model: str) -> int:
    """How many requests Triton at ``url`` has served for ``model`` (grows by one per batch)."""
    with grpcclient.InferenceServerClient(url) as client:
        return client.get_inference_statistics(model).model_stats[0].inference_count
