"""The four emphysema patterns, defined once for the whole system.

The order is the public CT Emphysema Database's numbering (1 NT, 2 CLE, 3 PSE, 4 PLE) and is
the order of the model's `probabilities` output and of every `labels.txt`.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = ("NT", "CLE", "PSE", "PLE")

CLASS_DESCRIPTIONS: dict[str, str] = {
    "NT": "Normal tissue: lung parenchyma around -850 HU with vessels, no low-attenuation areas.",
    "CLE": (
        "Centrilobular emphysema: small round lucencies without visible walls in the centre of "
        "secondary lobules, usually upper zones, with normal lung in between."
    ),
    "PSE": (
        "Paraseptal emphysema: a single row of walled lucencies or bullae along the pleura or a "
        "fissure, with the inner lung often preserved."
    ),
    "PLE": (
        "Panlobular emphysema: diffuse, uniform low attenuation across whole lobules with fewer, "
        "thinner vessels, typically in the lower lobes."
    ),
}

SEVERITIES: tuple[str, ...] = ("trace", "mild", "moderate", "severe")


def class_index(label: str) -> int:
    """Return the output index of a class label such as ``"CLE"`` (case-insensitive)."""
    normalized = label.strip().upper()
    if normalized not in CLASS_NAMES:
        raise ValueError(f"unknown class label {label!r}; expected one of {', '.join(CLASS_NAMES)}")
    return CLASS_NAMES.index(normalized)
