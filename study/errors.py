"""The one error type of the study layer: bad input, said in one sentence."""

from __future__ import annotations

from imaging.errors import EmphysemaError


class StudyError(EmphysemaError, ValueError):
    """A study that cannot be read, segmented or quantified; the message names the problem."""
