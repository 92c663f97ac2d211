"""The error types every stage's errors derive from, at the lowest layer so every stage can import them.

`emphysema.cli` catches :class:`EmphysemaError` once: it prints the message and exits with 2
for a :class:`UsageError` (the command line asks for something impossible) and 1 for any other
(the command ran and failed). Messages name the file or setting and never contain patient data.
"""

from __future__ import annotations


class EmphysemaError(Exception):
    """A failure a user can act on; the message says what and where."""


class UsageError(EmphysemaError, ValueError):
    """An option value or combination that cannot work; fixing the command line fixes it.

    It is also a ``ValueError``, the type a settings dataclass raises for a bad field.
    """


class ScanReadError(EmphysemaError, ValueError):
    """A file or upload that cannot be turned into a scan, with a message naming the file.

    It subclasses ``ValueError`` so callers that only know "bad input" can still catch it.
    The message never contains patient data: only the file name and what was wrong.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
