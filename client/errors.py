"""The errors the client raises, each with a message a person can act on.

None of the messages contain pixel data, file contents or patient data: only the server
address, the model name and what Triton said about tensor shapes or types.
"""

from __future__ import annotations

from imaging.errors import EmphysemaError


class TritonError(EmphysemaError):
    """Talking to Triton failed; the message says what to do about it.

    Attributes:
        status: the gRPC status code name Triton answered with (``"UNAVAILABLE"``,
            ``"INVALID_ARGUMENT"``, ...), or ``None`` when the check failed on our side.
    """

    def __init__(self, message: str, status: str | None = None) -> None:
        self.status = status
        super().__init__(message)


class TritonUnavailableError(TritonError):
    """Triton is not reachable, or did not answer within the deadline, after every retry."""


class ModelNotFoundError(TritonError):
    """The requested model is not in Triton's repository or is not loaded."""


class ModelContractError(TritonError):
    """The served model's tensors do not follow the contract (image uint8 [-1,S,S,1] -> probabilities)."""


class InferenceRequestError(TritonError):
    """Triton rejected a request as invalid (wrong shape, type or size); retrying cannot help."""
