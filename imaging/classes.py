"""The four emphysema patterns, defined once for the whole system.

The class names and their order are the serving contract's (`imaging.contract.CLASS_NAMES`);
this module adds what a person reads about them and the label parser.
"""

from __future__ import annotations

import difflib
import re

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


# What people name the classes in folders and spreadsheets, normalised by ``_normalise``. The
# abbreviations are the contract's names; the rest are the radiological terms and their variants.
CLASS_SYNONYMS: dict[str, str] = {
    "nt": "NT",
    "normal": "NT",
    "normal tissue": "NT",
    "normal lung": "NT",
    "healthy": "NT",
    "cle": "CLE",
    "centrilobular": "CLE",
    "centrilobular emphysema": "CLE",
    "centriacinar": "CLE",
    "centriacinar emphysema": "CLE",
    "pse": "PSE",
    "paraseptal": "PSE",
    "paraseptal emphysema": "PSE",
    "distal acinar": "PSE",
    "ple": "PLE",
    "panlobular": "PLE",
    "panlobular emphysema": "PLE",
    "panacinar": "PLE",
    "panacinar emphysema": "PLE",
}


def _normalise(text: str) -> str:
    """Lower case, with runs of spaces, ``_`` and ``-`` as one space: "Normal_Tissue" -> "normal tissue"."""
    return re.sub(r"[\s_\-]+", " ", text).strip().lower()


def parse_class_label(text: str) -> str | None:
    """The class a label or folder name means (``"Centrilobular"`` -> ``"CLE"``), or None.

    Accepts the contract's names and the usual synonyms in ``CLASS_SYNONYMS``, in any case.
    """
    return CLASS_SYNONYMS.get(_normalise(text))


def suggest_class_label(text: str) -> str | None:
    """For a near miss (``"Centrilobullar"``, ``"normall"``), the class it probably means, else None."""
    matches = difflib.get_close_matches(_normalise(text), CLASS_SYNONYMS, n=1, cutoff=0.75)
    return CLASS_SYNONYMS[matches[0]] if matches else None


def describe_unknown_label(text: str) -> str:
    """The advice after "unknown label/class folder": the accepted names, and a guess when close."""
    guess = suggest_class_label(text)
    accepted = (
        f"expected {', '.join(CLASS_NAMES)} or a name such as Normal, Centrilobular, Paraseptal, Panlobular"
    )
    return f"did you mean {guess}? ({accepted})" if guess else f"({accepted})"
