"""The training stage's error: a data set, run folder or file that training cannot use."""

from __future__ import annotations

from imaging.errors import EmphysemaError


class TrainingError(EmphysemaError):
    """A run folder, split, settings file or weights file that cannot be used; the message names it."""
