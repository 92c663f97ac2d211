"""The one error type of the analysis layer: a study the model cannot cover, said in one sentence."""

from __future__ import annotations

from imaging.errors import EmphysemaError


class AnalysisError(EmphysemaError, ValueError):
    """A study or data set the analysis cannot use; the message names the problem."""
