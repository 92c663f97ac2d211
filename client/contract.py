"""The model contract as the client checks it.

Input ``image`` uint8 ``[-1, S, S, 1]``, output ``probabilities`` fp32 ``[-1, 4]``.
"""

from __future__ import annotations

import dataclasses

from client.errors import ModelContractError
from imaging.contract import CLASS_NAMES, INPUT_DATATYPE, INPUT_NAME, OUTPUT_DATATYPE, OUTPUT_NAME


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the client needs to know about a served model, read from Triton and checked.

    Attributes:
        name: the model name in the repository.
        versions: the versions Triton reports.
        image_size: ``S``, the side of the square input image the model takes.
        max_batch_size: the most images one request may carry.
        field_of_view_mm: the field of view the model was trained for, where its config states
            one (a ``field_of_view_mm`` parameter); ``None`` for slice-level models, which take
            any slice.
        density_reference_hu: the lung density reference (HU) a region model's training studies
            were shifted to (a ``density_reference_hu`` parameter); a study is shifted to it before
            it is tiled. ``None``: the model takes raw HU.
    """

    name: str
    versions: tuple[str, ...]
    image_size: int
    max_batch_size: int
    field_of_view_mm: float | None = None
    density_reference_hu: float | None = None

    @property
    def version(self) -> str:
        """The version that answers: the newest one served (Triton's default version policy)."""
        return max(self.versions, key=lambda version: (len(version), version), default="?")

    def describe(self) -> str:
        """``"model simple_cnn, version 2, slice-level (no field of view)"``: where a result came from."""
        view = (
            "slice-level (no field of view)"
            if self.field_of_view_mm is None
            else f"field of view {self.field_of_view_mm:g} mm"
        )
        return f"model {self.name}, version {self.version}, {view}"

    def as_record(self) -> dict[str, object]:
        """The same facts as JSON/CSV fields."""
        return {"model": self.name, "model_version": self.version, "field_of_view_mm": self.field_of_view_mm}


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The model's answer for one image: a probability per class, in the contract's class order."""

    probabilities: dict[str, float]

    @property
    def label(self) -> str:
        """The most probable class."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        """The probability of the most probable class."""
        return self.probabilities[self.label]


def _tensor(tensors: list[dict], name: str, model: str, kind: str) -> dict:
    matching = [tensor for tensor in tensors if tensor.get("name") == name]
    if not matching:
        found = ", ".join(repr(tensor.get("name")) for tensor in tensors) or "none"
        raise ModelContractError(
            f"model {model!r} has no {kind} named {name!r} (found {found}); "
            "it was not exported by `emphysema export`"
        )
    return matching[0]


def check_model_metadata(
    metadata: dict,
    max_batch_size: int,
    url: str,
    field_of_view_mm: float | None = None,
    density_reference_hu: float | None = None,
) -> ModelInfo:
    """Check Triton's model metadata (``get_model_metadata(as_json=True)``) against the contract.

    Args:
        metadata: the metadata as JSON, shapes as strings or integers.
        max_batch_size: the model config's ``max_batch_size`` (or a fallback when it cannot be read).
        url: the server address, for the messages.
        field_of_view_mm: the config's ``field_of_view_mm`` parameter, if it has one.
        density_reference_hu: the config's ``density_reference_hu`` parameter, if it has one.

    Returns:
        The checked :class:`ModelInfo`; ``image_size`` is read from the input shape, so any size works.

    Raises:
        ModelContractError: a tensor is missing or has the wrong type or shape.
    """
    model = str(metadata.get("name", "?"))
    image = _tensor(metadata.get("inputs", []), INPUT_NAME, model, "input")
    probabilities = _tensor(metadata.get("outputs", []), OUTPUT_NAME, model, "output")
    image_shape = [int(size) for size in image.get("shape", [])]
    output_shape = [int(size) for size in probabilities.get("shape", [])]
    where = f"model {model!r} on Triton at {url}"
    if image.get("datatype") != INPUT_DATATYPE:
        raise ModelContractError(
            f"{where}: input {INPUT_NAME!r} is {image.get('datatype')}, expected {INPUT_DATATYPE}"
        )
    if len(image_shape) != 4 or image_shape[0] != -1 or image_shape[3] != 1:
        raise ModelContractError(
            f"{where}: input {INPUT_NAME!r} has shape {image_shape}, expected [-1, S, S, 1] "
            "(a batch dimension, then a square one-channel image)"
        )
    if image_shape[1] != image_shape[2] or image_shape[1] < 8:
        raise ModelContractError(
            f"{where}: input {INPUT_NAME!r} must be a fixed square of at least 8 pixels, "
            f"got {image_shape[1]}x{image_shape[2]}"
        )
    if probabilities.get("datatype") != OUTPUT_DATATYPE or output_shape != [-1, len(CLASS_NAMES)]:
        raise ModelContractError(
            f"{where}: output {OUTPUT_NAME!r} is {probabilities.get('datatype')} "
            f"{output_shape}, expected {OUTPUT_DATATYPE} [-1, {len(CLASS_NAMES)}]"
        )
    if max_batch_size < 1:
        raise ModelContractError(f"{where}: max_batch_size is {max_batch_size}; the contract needs batching")
    return ModelInfo(
        name=model,
        versions=tuple(str(version) for version in metadata.get("versions", [])),
        image_size=image_shape[1],
        max_batch_size=max_batch_size,
        field_of_view_mm=field_of_view_mm,
        density_reference_hu=density_reference_hu,
    )
