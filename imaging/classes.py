"""The four emphysema patterns, defined once for the whole system.

The class names and their order are the serving contract's (`imaging.contract.CLASS_NAMES`);
this module adds what a person reads about them and the label parser.
"""

from __future__ import annotations

from imaging.contract import CLASS_NAMES

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
