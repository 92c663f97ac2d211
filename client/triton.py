"""One small typed wrapper over `tritonclient.grpc`: readiness, the model contract, classification.

Every call carries a deadline (tritonclient's default is none), transient failures
(UNAVAILABLE, DEADLINE_EXCEEDED) are retried a bounded number of times with exponential
backoff, and every failure becomes a :class:`client.errors.TritonError` with a message a
person can act on. ``verbose`` is never switched on: it prints whole requests, pixels included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from client.contract import ModelInfo, Prediction, check_model_metadata
from client.errors import ModelNotFoundError, TritonError, TritonUnavailableError
from client.settings import TritonSettings
from client.translate import translate_error
from imaging.contract import (
    CLASS_NAMES,
    DENSITY_REFERENCE_PARAMETER,
    FIELD_OF_VIEW_PARAMETER,
    INPUT_DATATYPE,
    INPUT_NAME,
    OUTPUT_NAME,
)

_TRANSIENT = {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
# The largest request we send (bytes); Triton itself accepts gRPC messages up to 2 GiB.
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_Result = TypeVar("_Result")


def number_parameter(config: dict, key: str) -> float | None:
    """A config's ``parameters { key: KEY value { string_value: "..." } }`` as a number (None when absent)."""
    text = config.get("parameters", {}).get(key, {}).get("string_value")
    try:
        return float(text) if text else None
    except ValueError:
        return None


class TritonClassifier:
    """Classify uint8 ``(N, S, S, 1)`` images with a model served by Triton over gRPC."""

    def __init__(
        self, settings: TritonSettings = TritonSettings(), sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._model_info: dict[str, ModelInfo] = {}
        # Short reconnect backoff, so a restarted server is found within about a second. gRPC also
        # uses min_reconnect_backoff as the connect timeout, so it stays at a safe 2 s.
        # channel_args replaces tritonclient's defaults, so the message limits are restated.
        self._client = grpcclient.InferenceServerClient(
            settings.url,
            verbose=False,
            channel_args=[
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 2000),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )

    def close(self) -> None:
        """Close the gRPC channel."""
        self._client.close()

    def __enter__(self) -> TritonClassifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def is_server_ready(self) -> bool:
        """Return whether Triton answers and is ready, trying once within the deadline."""
        try:
            return bool(self._client.is_server_ready(client_timeout=self.settings.timeout_seconds))
        except InferenceServerException:
            return False

    def is_model_ready(self, model: str | None = None) -> bool:
        """Return whether the model is loaded and ready, trying once within the deadline."""
        name = model or self.settings.model
        try:
            return bool(self._client.is_model_ready(name, client_timeout=self.settings.timeout_seconds))
        except InferenceServerException:
            return False

    def served_models(self) -> list[str]:
        """The models Triton has ready, sorted.

        Read from Triton's repository index; where that is restricted (the embedded server does
        so), the configured names (the architectures) that Triton reports ready.
        """
        try:
            index = self._call("list the model repository", self._client.get_model_repository_index)
        except TritonUnavailableError:
            raise
        except TritonError:
            return [name for name in self.settings.models if self.is_model_ready(name)]
        return sorted({model.name for model in index.models if model.state == "READY"})

    def choose_model(self, requested: str | None = None) -> str:
        """The model to classify with: ``requested`` when Triton serves it, else the only one served.

        Raises:
            ModelNotFoundError: ``requested`` is not served, or none was asked for and Triton serves
                none or several; the message lists the models served.
            TritonUnavailableError: Triton cannot be reached.
        """
        if requested is not None and self.is_model_ready(requested):
            return requested
        served = self.served_models()
        if requested is None and len(served) == 1:
            return served[0]
        where = f"Triton at {self.settings.url}"
        listed = ", ".join(served)
        if not served:
            problem = f"{where} serves no model" + (f", so not {requested!r}" if requested else "")
            raise ModelNotFoundError(f"{problem}; export one (`emphysema export`) and serve it", "NOT_FOUND")
        if requested is None:
            raise ModelNotFoundError(
                f"{where} serves {len(served)} models ({listed}); choose one with --model"
            )
        raise ModelNotFoundError(
            f"model {requested!r} is not served by {where}; it serves {listed} (choose with --model)",
            "NOT_FOUND",
        )

    def model_info(self, model: str | None = None) -> ModelInfo:
        """Read the model's metadata from Triton and check it against the contract (cached per model)."""
        name = model or self.settings.model
        if name not in self._model_info:
            action = f"read the metadata of model {name!r}"
            metadata = self._call(action, self._client.get_model_metadata, name, as_json=True)
            field_of_view = reference = None
            try:
                config = self._call(action, self._client.get_model_config, name, as_json=True)
                max_batch_size = int(config["config"].get("max_batch_size", 0))
                field_of_view = number_parameter(config["config"], FIELD_OF_VIEW_PARAMETER)
                reference = number_parameter(config["config"], DENSITY_REFERENCE_PARAMETER)
            except TritonUnavailableError:
                raise
            except TritonError:
                # The model-config API may be restricted; the metadata still shows the batch dimension.
                max_batch_size = self.settings.max_batch_size
            self._model_info[name] = check_model_metadata(
                metadata, max_batch_size, self.settings.url, field_of_view, reference
            )
        return self._model_info[name]

    def classify(self, images: np.ndarray, model: str | None = None) -> list[Prediction]:
        """Classify a stack of images, in requests of at most the model's maximum batch size.

        Args:
            images: uint8 ``(N, S, S, 1)`` (or one ``(S, S, 1)``) in the lung window, ``S`` the
                model's image size (see :func:`imaging.scan.to_model_input`).
            model: the model name; defaults to ``settings.model``.

        Returns:
            One :class:`Prediction` per image, in order.

        Raises:
            ValueError: the images do not have the model's shape or dtype.
            TritonError: Triton could not be reached or refused the request.
        """
        info = self.model_info(model)
        batch = np.asarray(images)
        if batch.ndim == 3:
            batch = batch[np.newaxis]
        expected = (info.image_size, info.image_size, 1)
        if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(
                f"model {info.name!r} takes uint8 images of shape (N, {', '.join(map(str, expected))}); "
                f"got {batch.dtype} {batch.shape}"
            )
        step = info.max_batch_size
        chunks = [batch[start : start + step] for start in range(0, len(batch), step)]
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, max(len(chunks), 1))) as pool:
            results = list(pool.map(lambda chunk: self._infer(info.name, chunk), chunks))
        return [prediction for chunk_result in results for prediction in chunk_result]

    def _infer(self, model: str, chunk: np.ndarray) -> list[Prediction]:
        image_input = grpcclient.InferInput(INPUT_NAME, list(chunk.shape), INPUT_DATATYPE)
        image_input.set_data_from_numpy(np.ascontiguousarray(chunk))
        output = grpcclient.InferRequestedOutput(OUTPUT_NAME)
        response = self._call(
            f"classify with model {model!r}", self._client.infer, model, [image_input], outputs=[output]
        )
        probabilities = response.as_numpy(OUTPUT_NAME)
        if probabilities is None or probabilities.shape != (len(chunk), len(CLASS_NAMES)):
            shape = None if probabilities is None else probabilities.shape
            raise TritonError(
                f"model {model!r} answered probabilities of shape {shape}, expected "
                f"({len(chunk)}, {len(CLASS_NAMES)})"
            )
        return [Prediction(dict(zip(CLASS_NAMES, map(float, row), strict=True))) for row in probabilities]

    def _call(self, action: str, function: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
        """Call tritonclient with the deadline, retrying transient failures with exponential backoff."""
        attempt = 1
        while True:
            try:
                return function(*args, client_timeout=self.settings.timeout_seconds, **kwargs)
            except InferenceServerException as error:
                translated = translate_error(error, self.settings, action, attempt)
            # Inference is idempotent, so retrying a request that may have reached Triton is safe.
            if not isinstance(translated, TritonUnavailableError) or attempt > self.settings.retries:
                raise translated
            self._sleep(self.settings.backoff_seconds * 2 ** (attempt - 1))
            attempt += 1
