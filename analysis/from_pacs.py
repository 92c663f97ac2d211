"""Analyse a study held by a PACS: find its CT series (QIDO), fetch it (WADO), analyse it, store back (STOW).

The results' UIDs are derived from the source series, the model and the settings, so analysing a
study again re-creates the same instances: the PACS keeps one copy, and a study whose results
are all there already is not analysed again unless forced. Messages name no patient and no UID.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dicomweb_client.api import DICOMwebClient

from analysis.errors import AnalysisError
from analysis.pacs_arrival import count_instances, wait_until_stable
from analysis.pacs_results import all_listed, expected_result_series, store_results
from analysis.settings import AnalysisSettings, ArrivalSettings
from analysis.study_analysis import analyse_study
from client.triton import TritonClassifier
from pacs.dicomweb import SeriesSummary, describe_series, fetch_series
from pacs.errors import PacsError

ANALYSED, ALREADY_ANALYSED = "analysed", "already analysed"
SOURCE_MODALITY = "CT"
__all__ = [
    "ALREADY_ANALYSED",
    "ANALYSED",
    "ArrivalSettings",
    "PacsAnalysis",
    "analyse_pacs_study",
    "choose_ct_series",
]
DEFAULT_ARRIVAL = ArrivalSettings()
FETCHED_NAME = "pacs-series"  # the fetched series' folder: the report's "study" name


@dataclasses.dataclass(frozen=True)
class PacsAnalysis:
    """The outcome of one study: analysed (with its report) or already analysed (no report).

    Attributes:
        status: ``"analysed"`` or ``"already analysed"``.
        series_uid: the CT series analysed (an identifier: not for logs).
        instances: the CT series' instance count.
        stored: result instances stored into the PACS (0 when already analysed).
        report: the study report (``report.json``'s content), None when already analysed.
    """

    status: str
    series_uid: str
    instances: int
    stored: int
    report: dict | None


def choose_ct_series(series: list[SeriesSummary]) -> SeriesSummary:
    """The CT series with the most instances (ties: the smallest UID, so the choice is stable).

    Result series (SEG, SR, encapsulated PDF) are never CT, so a study's own results are skipped.
    """
    candidates = [one for one in series if one.modality == SOURCE_MODALITY and one.instances > 0]
    if not series:
        raise PacsError("the PACS holds no study with this Study Instance UID")
    if not candidates:
        found = ", ".join(sorted({one.modality or "none" for one in series}))
        raise AnalysisError(f"the study holds no CT series to analyse (its series: {found})")
    return min(candidates, key=lambda one: (-one.instances, one.series_uid))


def analyse_pacs_study(
    client: DICOMwebClient,
    study_uid: str,
    classifier: TritonClassifier,
    model: str,
    settings: AnalysisSettings,
    destination: Path,
    quiet: bool,
    force: bool = False,
    arrival: ArrivalSettings = DEFAULT_ARRIVAL,
    analyse: Callable[[Path, Path], dict] | None = None,
) -> PacsAnalysis:
    """Analyse the study ``study_uid`` of the PACS behind ``client`` and store its DICOM results back.

    ``destination`` (new, or an empty folder) receives the local results (``report.json``, the
    overlay, the map and the DICOM files stored). Unless ``force``, a study whose results from this
    model, version and settings are all in the PACS already is not analysed again
    (``status == "already analysed"``, nothing written). Any failure leaves ``destination`` absent
    and nothing new in the PACS but whole result instances (deterministic UIDs: a rerun completes
    the set without duplicates). ``analyse(fetched_series, destination)``, when given, runs the
    analysis instead of :func:`analyse_study` with these arguments (the web page's shows its
    progress and keeps the fetched slices while they exist) and returns the report.
    """
    source = choose_ct_series(describe_series(client, study_uid))
    info = classifier.model_info(model)  # an unreachable Triton or an unknown model stops here
    expected = expected_result_series(client, study_uid, source.series_uid, info, settings)
    if not force and all_listed(client, study_uid, expected):
        return PacsAnalysis(ALREADY_ANALYSED, source.series_uid, source.instances, 0, None)
    count = wait_until_stable(client, study_uid, source.series_uid, arrival)
    with tempfile.TemporaryDirectory(prefix="emphysema-pacs-") as scratch:  # private (0700): patient data
        fetched = Path(scratch) / FETCHED_NAME
        received = fetch_series(client, study_uid, source.series_uid, fetched)
        if received != count:
            raise PacsError(
                f"the PACS listed {count} instances of the CT series but sent {received}; "
                "it may still be arriving: try again once it is complete"
            )
        if analyse is None:
            report = analyse_study(fetched, destination, classifier, model, settings, quiet)
        else:
            report = analyse(fetched, destination)
    try:
        if count_instances(client, study_uid, source.series_uid) != count:
            raise PacsError(
                "the CT series changed during the analysis (still arriving?); nothing was stored: "
                "try again once it is complete"
            )
        stored = store_results(client, study_uid, destination, report)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return PacsAnalysis(ANALYSED, source.series_uid, count, stored, report)
