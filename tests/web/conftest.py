"""Web app helpers: a small phantom series as uploaded files that carry a patient's identity."""

from __future__ import annotations

import io
import zipfile

import pydicom
import pytest

from study.phantom.command import write_study
from study.phantom.settings import settings_for_size

# Written into every uploaded file: none of it may survive the upload.
PATIENT_NAME = "Identifiable^Patient"
PATIENT_ID = "MRN-55821"
INSTITUTION = "Hospital Of The Test Suite"
IDENTIFIERS = (PATIENT_NAME, PATIENT_ID, INSTITUTION)


@pytest.fixture(scope="session")
def phantom_series(tmp_path_factory) -> list[tuple[str, bytes]]:
    """A small severe CLE phantom study's files as (name, bytes), each carrying the identifiers above."""
    folder = tmp_path_factory.mktemp("web_phantom") / "study"
    write_study(folder, "CLE", "severe", 7, settings_for_size("small"), nifti=False)
    files = []
    for path in sorted((folder / "dicom").glob("*.dcm")):
        dataset = pydicom.dcmread(path)
        dataset.PatientName, dataset.PatientID, dataset.InstitutionName = (
            PATIENT_NAME,
            PATIENT_ID,
            INSTITUTION,
        )
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        files.append((path.name, buffer.getvalue()))
    return files


def zipped(files: list[tuple[str, bytes]]) -> bytes:
    """The files in one zip, in a folder as a PACS export writes them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(f"export/series1/{name}", data)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def web_app_script() -> str:
    """The web app's entry script, as `emphysema app` serves it."""
    from web.launch import WEB_APP

    return str(WEB_APP)


def identifiers_in(data: bytes) -> list[str]:
    """Which of the identifiers appear in ``data``."""
    return [identifier for identifier in IDENTIFIERS if identifier.encode() in data]


@pytest.fixture(scope="session")
def web_helpers():
    """The helpers above, for tests (run with --import-mode=importlib, they cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(zipped=zipped, identifiers_in=identifiers_in, identifiers=IDENTIFIERS)
