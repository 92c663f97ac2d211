"""Orthanc's change feed and the facts of one study, over its REST API (not part of DICOMweb).

Orthanc numbers every change (`NewInstance`, `StableStudy`, ...) with a sequence number and
serves them in order at ``/changes?since=N&limit=M``; a `StableStudy` change means no instance
has arrived for the study during Orthanc's `StableAge`, i.e. it is complete. The REST root is the
DICOMweb URL without its ``/dicom-web`` suffix.
"""

from __future__ import annotations

import dataclasses

import requests

from pacs.credentials import Credentials
from pacs.dicomweb import translated_errors
from pacs.errors import PacsAccessError, PacsError

DICOMWEB_SUFFIX = "/dicom-web"
ACCESS_REFUSED = {
    401: "the PACS refused the user name or password (HTTP 401)",
    403: "the PACS forbids this request (HTTP 403)",
}


@dataclasses.dataclass(frozen=True)
class Change:
    """One entry of the feed: its sequence number, kind (e.g. ``StableStudy``) and Orthanc ID."""

    sequence: int
    kind: str
    resource_id: str


@dataclasses.dataclass(frozen=True)
class FeedPage:
    """Changes after a sequence number; ``last`` is where the next page starts, ``done`` if none left."""

    changes: tuple[Change, ...]
    last: int
    done: bool


@dataclasses.dataclass(frozen=True)
class SeriesFacts:
    """What the watcher needs of a series: its modality and body part (both may be empty)."""

    modality: str
    body_part: str


@dataclasses.dataclass(frozen=True)
class StudyFacts:
    """One study as Orthanc knows it: its DICOM UID, when it last changed, and its series."""

    orthanc_id: str
    study_uid: str
    last_update: str
    series: tuple[SeriesFacts, ...]


def orthanc_root(dicomweb_url: str) -> str:
    """Orthanc's REST root from its DICOMweb root (``http://host:8042/dicom-web`` -> ``http://host:8042``)."""
    url = dicomweb_url.rstrip("/")
    if not url.endswith(DICOMWEB_SUFFIX):
        raise PacsError(
            f"cannot tell Orthanc's REST address from {dicomweb_url}: it does not end with "
            f"{DICOMWEB_SUFFIX}; pass --orthanc URL"
        )
    return url.removesuffix(DICOMWEB_SUFFIX)


class OrthancFeed:
    """Read Orthanc's change feed and study records with one authenticated HTTP session."""

    def __init__(self, url: str, credentials: Credentials, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.auth = (credentials.user, credentials.password)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def _get(self, action: str, path: str, params: dict | None = None) -> requests.Response:
        with translated_errors(action, self.url):
            response = self.session.get(f"{self.url}{path}", params=params, timeout=self.timeout_s)
        if response.status_code in ACCESS_REFUSED:
            raise PacsAccessError(f"{action}: {ACCESS_REFUSED[response.status_code]} at {self.url}")
        if response.status_code != 404:
            with translated_errors(action, self.url):
                response.raise_for_status()
        return response

    def last_sequence(self) -> int:
        """The sequence number of the newest change (0 when the PACS has seen none)."""
        return int(self._get("reading the change feed", "/changes", {"last": ""}).json()["Last"])

    def changes(self, since: int, limit: int = 100) -> FeedPage:
        """Up to ``limit`` changes with a sequence number above ``since``, oldest first."""
        body = self._get("reading the change feed", "/changes", {"since": since, "limit": limit}).json()
        changes = tuple(Change(int(item["Seq"]), item["ChangeType"], item["ID"]) for item in body["Changes"])
        return FeedPage(changes, int(body["Last"]), bool(body["Done"]))

    def study(self, orthanc_id: str) -> StudyFacts | None:
        """The study's facts, or None when it was deleted since its change was recorded."""
        response = self._get("reading a study", f"/studies/{orthanc_id}")
        if response.status_code == 404:
            return None
        record = response.json()
        series = self._get("reading a study's series", f"/studies/{orthanc_id}/series", {"expand": ""})
        if series.status_code == 404:
            return None
        return StudyFacts(
            orthanc_id=orthanc_id,
            study_uid=record["MainDicomTags"]["StudyInstanceUID"],
            last_update=record.get("LastUpdate", ""),
            series=tuple(
                SeriesFacts(
                    item["MainDicomTags"].get("Modality", ""),
                    item["MainDicomTags"].get("BodyPartExamined", ""),
                )
                for item in series.json()
            ),
        )
