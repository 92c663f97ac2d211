"""The PACS layer's error: one sentence a user can act on, never patient data or credentials."""

from __future__ import annotations

from imaging.errors import EmphysemaError


class PacsError(EmphysemaError):
    """Orthanc cannot start or stop, or a DICOMweb call failed (down, refused, wrong password)."""


class PacsAccessError(PacsError):
    """The PACS refused the credentials or the request (HTTP 401 or 403): waiting will not help."""
