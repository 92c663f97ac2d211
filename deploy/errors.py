"""The one error type the serving stage raises for anything a user can fix."""

from __future__ import annotations

from imaging.errors import EmphysemaError


class ServeError(EmphysemaError):
    """A serving problem with a message meant for the user (bad repository, busy port, Triton failed)."""
