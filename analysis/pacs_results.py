"""An analysis's DICOM results in the PACS: the UIDs they will have, whether they are there, storing them.

The UIDs are derived as ``analyse_study`` derives them (``analysis.output_uids``), so a study
analysed before with this model, version and settings is recognised before anything is fetched.
"""

from __future__ import annotations

from pathlib import Path

from dicomweb_client.api import DICOMwebClient

from analysis.errors import AnalysisError
from analysis.field_of_view import resolve_field_of_view
from analysis.output_files import DICOM_OUTPUTS
from analysis.output_uids import output_uids
from analysis.settings import AnalysisSettings
from client.contract import ModelInfo
from pacs.dicomweb import describe_series, row_spacing_mm, store_files
from pacs.errors import PacsError

KIND_NAMES = {"segmentation": "SEG", "measurement_report": "SR", "report_pdf": "encapsulated PDF"}


def expected_result_series(
    client: DICOMwebClient, study_uid: str, series_uid: str, info: ModelInfo, settings: AnalysisSettings
) -> set[str]:
    """The series UIDs that this model, version and settings give the results of the CT series.

    They are derived as ``analyse_study`` derives them; the slice-level field of view depends on
    the pixel spacing, read from one instance. Should the two ever differ, the study is only
    analysed again, and its results keep their own fixed UIDs.
    """
    try:
        field = resolve_field_of_view(
            info, settings.field_of_view_mm, row_spacing_mm(client, study_uid, series_uid) or 0.0
        )
    except AnalysisError:
        return set()  # analyse_study says why, with the study in hand
    uids = output_uids(series_uid, info.name, info.versions, field.millimetres, settings)
    return set(uids.series.values())


def all_listed(client: DICOMwebClient, study_uid: str, series_uids: set[str]) -> bool:
    """Whether the PACS lists every one of ``series_uids`` under the study (False for none given)."""
    listed = {one.series_uid for one in describe_series(client, study_uid)}
    return bool(series_uids) and series_uids <= listed


def store_results(client: DICOMwebClient, study_uid: str, destination: Path, report: dict) -> int:
    """Store the SEG, SR and PDF of ``destination`` in one STOW-RS request; check the PACS lists each.

    A PACS may answer a store with success and keep nothing: Orthanc does when a filter of its own
    drops an instance.
    """
    files = report["dicom"]["files"]
    if not files:
        raise AnalysisError(f"the analysis wrote no DICOM results: {report['dicom']['note']}")
    rerun = "run again to complete them (their UIDs are fixed, so nothing is stored twice)"
    try:
        stored = store_files(client, [destination / name for name in DICOM_OUTPUTS], "the analysis's results")
    except PacsError as error:
        raise PacsError(f"{error}; the PACS keeps any it accepted: {rerun}") from None
    listed = {one.series_uid for one in describe_series(client, study_uid)}
    missing = [
        KIND_NAMES[files[name]["kind"]]
        for name in DICOM_OUTPUTS
        if files[name]["series_instance_uid"] not in listed
    ]
    if missing:
        raise PacsError(
            f"the PACS accepted the results but does not list {len(missing)} of {len(files)} "
            f"({', '.join(missing)}): a policy of the PACS may drop them; {rerun}"
        )
    return stored
