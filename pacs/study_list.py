"""One page of a PACS's studies (QIDO-RS), with only what a clinician picks a study by.

A QIDO-RS answer carries the patient's name, id and birth date as well; they are dropped here,
record by record, and never kept, shown or logged. What is kept, and why:

- the study date and description, and the modalities: which examination it is;
- the accession number: the order's number in the hospital's systems, how a clinician checks
  that the study is the one they mean (it identifies an examination, not a person);
- the number of series and images: whether the study is complete;
- the Study Instance UID, to fetch the study (used, never shown).
"""

from __future__ import annotations

import dataclasses

from dicomweb_client.api import DICOMwebClient

from pacs.dicomweb import STUDY_UID, translated_errors

STUDY_DATE, STUDY_DESCRIPTION, ACCESSION_NUMBER = "00080020", "00081030", "00080050"
MODALITIES, SERIES_COUNT, INSTANCE_COUNT = "00080061", "00201206", "00201208"
# Asked for explicitly: QIDO-RS returns the description only when it is named.
LISTED_FIELDS = (
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)


@dataclasses.dataclass(frozen=True)
class StudyListing:
    """One study as the PACS view lists it: no patient name, id or birth date."""

    study_uid: str
    date: str
    description: str
    accession: str
    modalities: tuple[str, ...]
    series: int | None
    instances: int | None


def _value(record: dict, tag: str) -> str:
    values = record.get(tag, {}).get("Value", [])
    return str(values[0]) if values else ""


def _count(record: dict, tag: str) -> int | None:
    text = _value(record, tag)
    return int(text) if text.isdigit() else None


def _listing(record: dict) -> StudyListing:
    date = _value(record, STUDY_DATE)
    return StudyListing(
        study_uid=_value(record, STUDY_UID),
        date=f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date,
        description=_value(record, STUDY_DESCRIPTION),
        accession=_value(record, ACCESSION_NUMBER),
        modalities=tuple(str(value) for value in record.get(MODALITIES, {}).get("Value", [])),
        series=_count(record, SERIES_COUNT),
        instances=_count(record, INSTANCE_COUNT),
    )


def list_study_page(client: DICOMwebClient, offset: int, size: int) -> tuple[list[StudyListing], bool]:
    """Return the studies ``offset`` to ``offset + size`` and whether more follow (one QIDO-RS request).

    Raises:
        PacsError: the PACS is down, refuses the credentials or the request.
        ValueError: a negative offset or a size below 1.
    """
    if offset < 0 or size < 1:
        raise ValueError(f"a page needs offset >= 0 and size >= 1, got {offset} and {size}")
    with translated_errors("listing studies", client.base_url):
        # One more than the page: whether a next page exists, without a second request.
        records = client.search_for_studies(offset=offset, limit=size + 1, fields=list(LISTED_FIELDS))
    return [_listing(record) for record in records[:size]], len(records) > size
