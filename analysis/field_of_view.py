"""Which field of view (mm) a study is tiled at: the user's, the model's, or a slice-level fallback.

A model trained on ROIs carries its field of view in its config's ``field_of_view_mm`` parameter.
A model without one was trained on whole slices; it is still used, with a warning: each tile is
the model's input size in pixels at the study's own pixel spacing, so no pixel is resampled.
"""

from __future__ import annotations

import dataclasses

from analysis.errors import AnalysisError
from client.contract import ModelInfo

# A field of view this far (relative) from the model's own is a different task: refused.
LARGEST_MISMATCH = 0.25


@dataclasses.dataclass(frozen=True)
class FieldOfView:
    """The field of view used, where it came from (``setting``, ``model``, ``slice-level``), any warning."""

    millimetres: float
    source: str
    warning: str | None = None


def resolve_field_of_view(info: ModelInfo, override_mm: float | None, pixel_mm: float) -> FieldOfView:
    """Return the field of view to tile a study with, or raise AnalysisError when it would mislead."""
    model_mm = info.field_of_view_mm
    if model_mm is not None and not model_mm > 0:
        raise AnalysisError(f"model {info.name!r} states {model_mm:g} mm, not a usable field of view")
    if override_mm is not None:
        if model_mm is not None and abs(override_mm - model_mm) > LARGEST_MISMATCH * model_mm:
            raise AnalysisError(
                f"field of view {override_mm:g} mm is far from the {model_mm:g} mm model {info.name!r} "
                "was trained on; leave it out to use the model's"
            )
        return FieldOfView(override_mm, "setting")
    if model_mm is not None:
        return FieldOfView(model_mm, "model")
    fallback = info.image_size * pixel_mm
    return FieldOfView(
        round(fallback, 3),
        "slice-level",
        f"model {info.name!r} has no field_of_view_mm parameter (a slice-level model): each tile is its "
        f"{info.image_size}-pixel input at the study's {pixel_mm:.3g} mm spacing, {fallback:.1f} mm across",
    )
