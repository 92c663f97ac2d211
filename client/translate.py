"""Turn tritonclient's exceptions into the project's errors, with messages a person can act on."""

from __future__ import annotations

from tritonclient.utils import InferenceServerException

from client.errors import (
    InferenceRequestError,
    ModelNotFoundError,
    TritonError,
    TritonUnavailableError,
)
from client.settings import TritonSettings

# Triton answers UNAVAILABLE for these too, but retrying cannot help.
_UNKNOWN_MODEL_HINTS = ("unknown model", "is not found", "is not ready")
_RESTRICTED_HINT = "protocol is restricted"
# A known model with no loaded version: Triton is unloading it (stopping or restarting) or it failed
# to load. The name is right, so this is worth retrying, unlike an unknown name.
_UNLOADED_HINT = "has no available versions"


def status_name(error: InferenceServerException) -> str:
    """Return the gRPC status of a tritonclient error without the ``StatusCode.`` prefix."""
    return str(error.status() or "").removeprefix("StatusCode.")


def translate_error(
    error: InferenceServerException, settings: TritonSettings, action: str, attempts: int
) -> TritonError:
    """Return the project error for a failed call; only :class:`TritonUnavailableError` is worth retrying.

    Args:
        error: what tritonclient raised.
        settings: the client settings (for the address and deadline in the message).
        action: what the call was for, e.g. ``"classify with model 'inceptionv3'"``.
        attempts: how many times the call has been tried so far.
    """
    status = status_name(error)
    detail = str(error.message() or "").strip()
    url = settings.url
    tries = f"tried {attempts} time{'s' if attempts != 1 else ''}"
    lowered = detail.lower()
    if _RESTRICTED_HINT in lowered:
        return TritonError(
            f"Triton at {url} refused to {action}: that API is restricted on this server ({detail})", status
        )
    if _UNLOADED_HINT in lowered:
        return TritonUnavailableError(
            f"Triton at {url} has no loaded version of the model right now: it may be stopping or "
            f"restarting, or the model failed to load (see Triton's log) ({tries}: {detail})",
            status,
        )
    if any(hint in lowered for hint in _UNKNOWN_MODEL_HINTS):
        return ModelNotFoundError(
            f"Triton at {url} could not {action}: {detail}. Check the model name (`--model`) and that "
            "it is in the model repository served by `emphysema serve`.",
            status,
        )
    if status == "UNAVAILABLE":
        return TritonUnavailableError(
            f"Triton at {url} is not reachable — start it with `emphysema serve`, or point --url at a "
            f"running server ({tries}: {detail or 'unavailable'})",
            status,
        )
    if status == "DEADLINE_EXCEEDED":
        return TritonUnavailableError(
            f"Triton at {url} did not answer within {settings.timeout_seconds:g} s when asked to {action} "
            f"({tries}) — the server may be overloaded or stopped; check it, or allow a longer timeout",
            status,
        )
    if status == "INVALID_ARGUMENT":
        return InferenceRequestError(f"Triton at {url} rejected the request to {action}: {detail}", status)
    return TritonError(f"Triton at {url} failed to {action}: {status or 'error'}: {detail}", status)
