"""Write one analysed study's result files into its staging folder (the caller renames it into place).

Always: the overlay montage, the pattern map, the PDF report. For a study read from DICOM also
the DICOM results (``analysis.output_files.DICOM_OUTPUTS``): the SEG of the map, the TID 1500 SR
of the figures and the PDF encapsulated in DICOM, all in the source study with deterministic UIDs
(``analysis.output_uids``). A NIfTI study has no source series: those are skipped and the report
says so. ``report.json`` is written last by the caller, once the timings are known.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from analysis.dicom_encapsulated_pdf import write_encapsulated_pdf
from analysis.dicom_equipment import ModelIdentity
from analysis.dicom_measurement_report import write_measurement_report
from analysis.dicom_segmentation import write_segmentation
from analysis.errors import AnalysisError
from analysis.output_files import (
    MEASUREMENT_REPORT_DCM,
    OVERLAY_PNG,
    PATTERN_MAP_NPZ,
    REPORT_PDF,
    REPORT_PDF_DCM,
    SEGMENTATION_DCM,
)
from analysis.output_uids import output_uids
from analysis.overlay import write_montage
from analysis.pattern_map import PatternMap
from analysis.pdf_report import lung_histogram, write_pdf_report
from analysis.settings import AnalysisSettings
from study.source_series import SourceSeries
from study.volume import Volume

NO_SOURCE_SERIES = (
    "no DICOM SEG, SR or encapsulated PDF: the study was not read from DICOM (no source series)"
)
DICOM_FILES = {
    "segmentation": SEGMENTATION_DCM,
    "measurement_report": MEASUREMENT_REPORT_DCM,
    "report_pdf": REPORT_PDF_DCM,
}
PATIENT_KEYWORDS = {"name": "PatientName", "ID": "PatientID", "birth date": "PatientBirthDate"}


def patient_details(volume: Volume) -> dict[str, str]:
    """The patient's name, ID and birth date from the source headers (empty for NIfTI)."""
    if volume.source_series is None:
        return {}
    first = volume.source_series.headers[0]
    return {label: str(first.get(keyword, "") or "-") for label, keyword in PATIENT_KEYWORDS.items()}


def _identity_and_uids(source: SourceSeries, report: dict, settings: AnalysisSettings):
    model = report["model"]
    identity = ModelIdentity(model["name"], model["version"], model["field_of_view_mm"])
    uids = output_uids(
        source.series_uid, model["name"], model["versions"], model["field_of_view_mm"], settings
    )
    return identity, uids


def dicom_outputs(volume: Volume, report: dict, settings: AnalysisSettings) -> dict:
    """The DICOM results' files and UIDs for ``report.json`` (or why there are none)."""
    if volume.source_series is None:
        return {"note": NO_SOURCE_SERIES, "files": {}}
    _, uids = _identity_and_uids(volume.source_series, report, settings)
    return {
        "note": None,
        "source_series_uid": volume.source_series.series_uid,
        "files": {
            name: {
                "kind": kind,
                "series_instance_uid": uids.series[kind],
                "sop_instance_uid": uids.instance[kind],
            }
            for kind, name in DICOM_FILES.items()
        },
    }


@contextlib.contextmanager
def _refused_headers(kind: str) -> Iterator[None]:
    """Turn highdicom's refusal of source headers it cannot build on into one sentence."""
    try:
        yield
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise AnalysisError(
            f"the DICOM {kind} cannot be written from this series' headers: {error}"
        ) from error


def write_study_outputs(
    staging: Path,
    report: dict,
    volume: Volume,
    lungs: np.ndarray,
    pattern_map: PatternMap,
    settings: AnalysisSettings,
) -> None:
    """Write every result file but ``report.json`` into ``staging``."""
    write_montage(
        staging / OVERLAY_PNG,
        volume.hounsfield,
        pattern_map.labels,
        list(pattern_map.analysed_slices),
        settings.overlay_slices,
    )
    # The map for later outputs and checks: labels lowest slice first, as the volume.
    np.savez_compressed(
        staging / PATTERN_MAP_NPZ,
        labels=pattern_map.labels,
        analysed_slices=np.array(pattern_map.analysed_slices),
    )
    patient = patient_details(volume) if settings.include_patient_details else None
    write_pdf_report(
        staging / REPORT_PDF, report, staging / OVERLAY_PNG, lung_histogram(volume.hounsfield, lungs), patient
    )
    source = volume.source_series
    if source is None:
        return
    identity, uids = _identity_and_uids(source, report, settings)
    pdf = (staging / REPORT_PDF).read_bytes()
    with _refused_headers("SEG"):
        write_segmentation(staging / SEGMENTATION_DCM, pattern_map.labels, source, identity, uids)
    with _refused_headers("SR"):
        write_measurement_report(staging / MEASUREMENT_REPORT_DCM, report, source, identity, uids)
    with _refused_headers("encapsulated PDF"):
        write_encapsulated_pdf(staging / REPORT_PDF_DCM, pdf, source, uids, bool(patient))
