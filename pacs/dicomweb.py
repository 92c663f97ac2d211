"""Talk to a PACS over DICOMweb: store a series (STOW-RS), list studies (QIDO-RS), fetch one (WADO-RS).

dicomweb-client does the protocol; this module turns its failures into one clear `PacsError`
each (PACS down, wrong password, refused store) whose message holds no patient data and no UID.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_user_pass
from pydicom.errors import InvalidDicomError

from pacs.credentials import Credentials
from pacs.errors import PacsError

# Both libraries log request URLs and search parameters (study and series UIDs) at INFO or DEBUG:
# identifiers of patients' studies must not reach a log, whatever level an application sets.
for _name in ("dicomweb_client", "urllib3.connectionpool"):
    logging.getLogger(_name).setLevel(logging.WARNING)

STORE_BATCH = 32  # instances per STOW-RS request: bounded memory, few round trips
RETRY_STEP_MS = 125  # dicomweb-client waits 2**attempt times this between attempts
PAGE_SIZE = 100  # studies per QIDO-RS page (Orthanc's own cap is about 100)
STUDY_UID, SERIES_UID, MODALITY, SERIES_COUNT = "0020000D", "0020000E", "00080060", "00201206"
INSTANCE_COUNT = "00201209"  # NumberOfSeriesRelatedInstances
PIXEL_SPACING = "00280030"


@dataclasses.dataclass(frozen=True)
class StudySummary:
    """What QIDO-RS says about one study (identifiers only)."""

    study_uid: str
    modalities: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class SeriesSummary:
    """What QIDO-RS says about one series (identifiers and counts only)."""

    series_uid: str
    modality: str
    instances: int


def connect(url: str, credentials: Credentials, timeout_s: float = 60.0, attempts: int = 3) -> DICOMwebClient:
    """Return a client for the DICOMweb root `url` (e.g. http://127.0.0.1:8042/dicom-web).

    A refused connection or a busy answer (429, 503, 504) is retried `attempts` times with a short
    exponential back-off (0.25 s, 0.5 s, ...): enough for a PACS restarting, not a minute of waiting.
    """
    session = create_session_from_user_pass(credentials.user, credentials.password)
    client = DICOMwebClient(url=url, session=session, timeout=timeout_s)
    client.set_http_retry_params(max_attempts=attempts, wait_exponential_multiplier=RETRY_STEP_MS)
    return client


@contextlib.contextmanager
def translated_errors(action: str, url: str) -> Iterator[None]:
    """Turn a connection or HTTP failure during `action` into one PacsError naming what to do."""
    try:
        yield
    except requests.exceptions.HTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            raise PacsError(
                f"{action}: the PACS at {url} refused the user name or password (HTTP 401)"
            ) from None
        if status == 403:
            raise PacsError(f"{action}: the PACS at {url} forbids this request (HTTP 403)") from None
        raise PacsError(f"{action}: the PACS at {url} refused the request (HTTP {status})") from None
    except requests.exceptions.Timeout:
        raise PacsError(f"{action}: the PACS at {url} did not answer in time; is it overloaded?") from None
    except requests.exceptions.RequestException as error:
        kind = type(error).__name__
        raise PacsError(f"{action}: cannot reach the PACS at {url} ({kind}); is it running?") from None


def dicom_files(folder: Path) -> list[Path]:
    """The DICOM files under `folder`, sorted by path; raise if there is none.

    A file is DICOM when pydicom reads its header; others (a truth.json, a label file) are not
    ours to store.
    """
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
        except (InvalidDicomError, OSError):
            continue
        found.append(path)
    if not found:
        raise PacsError(f"{folder}: no DICOM files to store")
    return found


def store_folder(client: DICOMwebClient, folder: Path) -> int:
    """Store every DICOM file under `folder` with STOW-RS; return how many the PACS accepted."""
    return store_files(client, dicom_files(folder), str(folder))


def store_files(client: DICOMwebClient, paths: list[Path], source: str) -> int:
    """Store the DICOM files `paths` (from `source`, for messages) with STOW-RS; return the count.

    Files are read one batch at a time, so memory stays bounded whatever the study's size.
    """
    with translated_errors("storing", client.base_url):
        for start in range(0, len(paths), STORE_BATCH):
            batch = [pydicom.dcmread(path) for path in paths[start : start + STORE_BATCH]]
            response = client.store_instances(batch)
            failed = response.get("FailedSOPSequence") if response is not None else None
            if failed:
                raise PacsError(
                    f"storing: the PACS refused {len(failed)} of {len(paths)} instances from {source}"
                )
    return len(paths)


def list_studies(client: DICOMwebClient, page_size: int = PAGE_SIZE) -> list[StudySummary]:
    """List every study with QIDO-RS, one page of `page_size` at a time."""
    studies: list[StudySummary] = []
    with translated_errors("listing studies", client.base_url):
        while True:
            page = client.search_for_studies(offset=len(studies), limit=page_size)
            studies += [_summary(record) for record in page]
            if len(page) < page_size:
                return studies


def _summary(record: dict) -> StudySummary:
    modalities = record.get("00080061", {}).get("Value", [])
    return StudySummary(record[STUDY_UID]["Value"][0], tuple(modalities))


def list_series(client: DICOMwebClient, study_uid: str) -> list[tuple[str, str]]:
    """Return ``(series UID, modality)`` for each series of a study (QIDO-RS)."""
    with translated_errors("listing series", client.base_url):
        records = client.search_for_series(study_instance_uid=study_uid, get_remaining=True)
    return [(r[SERIES_UID]["Value"][0], r.get(MODALITY, {}).get("Value", [""])[0]) for r in records]


def row_spacing_mm(client: DICOMwebClient, study_uid: str, series_uid: str) -> float | None:
    """The series' pixel spacing between rows in mm, from one instance (QIDO-RS); None if absent."""
    with translated_errors("reading a series' pixel spacing", client.base_url):
        records = client.search_for_instances(study_uid, series_uid, fields=[PIXEL_SPACING], limit=1)
    spacing = records[0].get(PIXEL_SPACING, {}).get("Value") if records else None
    return float(spacing[0]) if spacing else None


def describe_series(client: DICOMwebClient, study_uid: str) -> list[SeriesSummary]:
    """Return each series of a study with its modality and instance count (QIDO-RS)."""
    with translated_errors("listing series", client.base_url):
        records = client.search_for_series(study_instance_uid=study_uid, get_remaining=True)
    return [
        SeriesSummary(
            record[SERIES_UID]["Value"][0],
            record.get(MODALITY, {}).get("Value", [""])[0],
            int(record.get(INSTANCE_COUNT, {}).get("Value", [0])[0]),
        )
        for record in records
    ]


def fetch_series(client: DICOMwebClient, study_uid: str, series_uid: str, folder: Path) -> int:
    """Fetch a series with WADO-RS into `folder` (new or empty), one file per instance; return the count.

    The files go to a staging folder first, so a failure leaves nothing half-written.
    """
    if folder.exists() and any(folder.iterdir()):
        raise PacsError(f"{folder} is not empty; fetch a series into a new folder")
    with translated_errors("fetching a series", client.base_url):
        datasets = client.retrieve_series(study_instance_uid=study_uid, series_instance_uid=series_uid)
    if not datasets:
        raise PacsError("fetching a series: the PACS holds no instance of it")
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # left by a fetch that was killed
    staging.mkdir(parents=True, mode=0o700)
    try:
        for index, dataset in enumerate(datasets):
            dataset.save_as(staging / f"{index:05d}.dcm", enforce_file_format=True)
        if folder.exists():
            folder.rmdir()
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(datasets)
