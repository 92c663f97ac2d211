"""Who made the DICOM results: this software and the served model, named the same in SEG, SR and PDF."""

from __future__ import annotations

import dataclasses
import importlib.metadata

MANUFACTURER = "emphysema-hrct (research use only)"
MANUFACTURER_MODEL = "emphysema analyze"
# No physical device made the results; the attribute is still required (Enhanced General Equipment).
DEVICE_SERIAL_NUMBER = "none"
DISTRIBUTION = "emphysema-hrct"
# Series numbers of the results: high, so they sort after the scanner's own series in a viewer.
SERIES_NUMBERS = {"segmentation": 901, "measurement_report": 902, "report_pdf": 903}


def software_version() -> str:
    """This package's version (``unknown`` when run from a tree that is not installed)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclasses.dataclass(frozen=True)
class ModelIdentity:
    """The served model the pattern map came from, as its DICOM algorithm identification names it.

    ``version`` is the version that answered (the newest Triton serves).
    """

    name: str
    version: str
    field_of_view_mm: float
