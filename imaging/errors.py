"""The one error type the imaging layer raises for inputs it cannot use."""

from __future__ import annotations


class ScanReadError(ValueError):
    """A file or upload that cannot be turned into a scan, with a message naming the file.

    It subclasses ``ValueError`` so callers that only know "bad input" can still catch it.
    The message never contains patient data: only the file name and what was wrong.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
