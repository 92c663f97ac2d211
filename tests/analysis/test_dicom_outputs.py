"""The DICOM SEG, SR and encapsulated PDF of an analysis, written from a constructed map (no Triton).

The map is a label per voxel from its HU alone (``dicom_checks.labels_from_hounsfield``), so each
source file's own pixels say what its SEG frame must hold: that checks frame order and the
reader's flips without repeating them. The series is re-oriented so the reader flips it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil

import highdicom
import numpy as np
import pydicom
import pytest

from analysis.dicom_codes import PATTERN_CONCEPTS
from analysis.errors import AnalysisError
from analysis.output_files import (
    DICOM_OUTPUTS,
    MEASUREMENT_REPORT_DCM,
    REPORT_JSON,
    REPORT_PDF,
    REPORT_PDF_DCM,
    SEGMENTATION_DCM,
)
from analysis.settings import AnalysisSettings
from imaging.contract import CLASS_NAMES
from study.reader import read_study
from tests.analysis.dicom_checks import (
    MODEL,
    analyse_without_triton,
    check_pdf_report,
    labels_from_hounsfield,
    pdf_text,
    source_hounsfield,
    validator_errors,
)

# Row direction, column direction: the reader flips columns and reverses the slices for the
# first, rows and the slices for the second.
ORIENTATIONS = {"columns-flipped": [-1, 0, 0, 0, 1, 0], "rows-flipped": [1, 0, 0, 0, -1, 0]}


@pytest.fixture(scope="module", params=sorted(ORIENTATIONS))
def reoriented(request, studies, tmp_path_factory):
    """The mixed study's series stored in another orientation, and its analysis."""
    root = tmp_path_factory.mktemp(f"dicom-{request.param}")
    series = root / "series"
    shutil.copytree(studies["mixed"], series, ignore=shutil.ignore_patterns("*.npz", "*.json", "*.nii*"))
    for path in series.rglob("*.dcm"):
        dataset = pydicom.dcmread(path)
        dataset.ImageOrientationPatient = ORIENTATIONS[request.param]
        dataset.save_as(path)
    volume = read_study(series)
    report = analyse_without_triton(volume, root / "out", AnalysisSettings(slice_step=3))
    return series, volume, root / "out", report


def test_the_reader_keeps_the_source_headers_in_volume_order(reoriented):
    series, volume, _, _ = reoriented
    by_uid = dict(source_hounsfield(path) for path in series.rglob("*.dcm"))
    source = volume.source_series
    assert len(source.headers) == volume.shape[0] and not any("PixelData" in h for h in source.headers)
    for index in (0, volume.shape[0] // 2, volume.shape[0] - 1):
        stored = by_uid[str(source.headers[index].SOPInstanceUID)]
        np.testing.assert_array_equal(source.to_stored(volume.hounsfield[index]), stored)


def test_segment_frames_land_on_their_source_images(reoriented):
    series, _, out, _ = reoriented
    segmentation = highdicom.seg.segread(out / SEGMENTATION_DCM)
    sources = dict(source_hounsfield(path) for path in series.rglob("*.dcm"))
    for number, pattern in enumerate(CLASS_NAMES, 1):
        description = segmentation.get_segment_description(number)
        category, concept, _ = PATTERN_CONCEPTS[pattern]
        assert description.segment_label == pattern
        assert description.segmented_property_type == concept
        assert description.segmented_property_category == category
        assert description.algorithm_identification[0].AlgorithmName == MODEL.name
        assert description.algorithm_identification[0].AlgorithmVersion == MODEL.version
    referenced = [uid for *_, uid in segmentation.get_source_image_uids()]
    assert set(referenced) == set(sources)
    for uid, hounsfield in sources.items():
        labels = segmentation.get_pixels_by_source_instance(
            [uid], combine_segments=True, skip_overlap_checks=True
        )[0]
        np.testing.assert_array_equal(labels, labels_from_hounsfield(hounsfield), err_msg=uid)


def _group_values(path) -> dict[str, dict[str, float]]:
    document = highdicom.sr.srread(path)
    groups = document.content.get_image_measurement_groups()
    return {
        str(group.tracking_identifier): {
            measurement.name.meaning: measurement.value for measurement in group.get_measurements()
        }
        for group in groups
    }


def test_sr_measurements_equal_the_report(reoriented):
    _, volume, out, report = reoriented
    values = _group_values(out / MEASUREMENT_REPORT_DCM)
    saved = json.loads((out / REPORT_JSON).read_text(encoding="utf-8"))
    assert saved["patterns"] == report["patterns"]
    assert set(values) == set(saved["patterns"]["regions"])
    for region, measured in values.items():
        quantified = saved["quantification"]["regions"][region]
        shares = saved["patterns"]["regions"][region]
        assert measured["Volume"] == pytest.approx(quantified["volume_ml"])
        assert measured["Lung volume below -950 HU"] == pytest.approx(quantified["laa950_percent"])
        assert measured["15th percentile of lung attenuation"] == pytest.approx(quantified["perc15_hu"])
        for pattern in CLASS_NAMES:
            assert measured[f"Lung volume share of {pattern}"] == pytest.approx(
                shares["pattern_percent"][pattern]
            )
    document = pydicom.dcmread(out / MEASUREMENT_REPORT_DCM)
    evidence = document.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == volume.source_series.series_uid
    assert len(evidence.ReferencedSOPSequence) == volume.shape[0]


@pytest.mark.parametrize("name", DICOM_OUTPUTS)
def test_dciodvfy_finds_no_errors(reoriented, name):
    errors, _ = validator_errors(reoriented[2] / name)
    assert errors == []


def test_every_output_joins_the_source_study_with_the_uids_in_the_report(reoriented):
    _, volume, out, report = reoriented
    source = volume.source_series.headers[0]
    for name, expected in report["dicom"]["files"].items():
        dataset = pydicom.dcmread(out / name)
        assert dataset.StudyInstanceUID == source.StudyInstanceUID
        assert dataset.PatientID == source.PatientID
        assert dataset.SeriesInstanceUID == expected["series_instance_uid"]
        assert dataset.SOPInstanceUID == expected["sop_instance_uid"]
    pdf = pydicom.dcmread(out / REPORT_PDF_DCM)
    document = bytes(pdf.EncapsulatedDocument)[: int(pdf.EncapsulatedDocumentLength)]
    assert document == (out / REPORT_PDF).read_bytes()
    assert pdf.BurnedInAnnotation == "NO"


def test_the_pdf_report_holds_the_figures_and_the_disclaimer_but_no_identifiers(reoriented):
    _, volume, out, report = reoriented
    check_pdf_report(
        out / REPORT_PDF, report, volume.source_series.headers[0], f"constructed-{out.parent.name}"
    )


@pytest.fixture(scope="module")
def as_written(studies):
    """The mixed study as the phantom stores it (no flips): for the checks that need no reorienting."""
    return read_study(studies["mixed"])


def test_uids_are_the_same_when_reanalysed_and_change_with_the_settings(as_written, tmp_path):
    volume, settings = as_written, AnalysisSettings(slice_step=3)
    report = analyse_without_triton(volume, tmp_path / "first", settings)
    again = analyse_without_triton(volume, tmp_path / "again", settings)
    assert again["dicom"] == report["dicom"]
    for name in DICOM_OUTPUTS:
        first, second = (pydicom.dcmread(tmp_path / run / name) for run in ("first", "again"))
        assert (first.SeriesInstanceUID, first.SOPInstanceUID) == (
            second.SeriesInstanceUID,
            second.SOPInstanceUID,
        )
    # Patient details change only the PDF; the stride changes every result.
    shown = analyse_without_triton(
        volume, tmp_path / "shown", dataclasses.replace(settings, include_patient_details=True)
    )
    changed = analyse_without_triton(
        volume, tmp_path / "stride", dataclasses.replace(settings, stride_mm=12.0)
    )
    for name, uids in report["dicom"]["files"].items():
        same = shown["dicom"]["files"][name] == uids
        assert same is (name != REPORT_PDF_DCM), name
        assert changed["dicom"]["files"][name]["sop_instance_uid"] != uids["sop_instance_uid"]
    assert str(volume.source_series.headers[0].PatientID) in pdf_text(tmp_path / "shown" / REPORT_PDF)
    assert pydicom.dcmread(tmp_path / "shown" / REPORT_PDF_DCM).BurnedInAnnotation == "YES"


def test_a_nifti_study_gets_no_dicom_results_and_says_so(as_written, tmp_path):
    volume = dataclasses.replace(as_written, source="nifti", source_series=None)
    report = analyse_without_triton(volume, tmp_path / "nifti", AnalysisSettings(slice_step=3))
    assert "not read from DICOM" in report["dicom"]["note"] and report["dicom"]["files"] == {}
    written = {path.name for path in (tmp_path / "nifti").iterdir()}
    assert REPORT_PDF in written and not written & set(DICOM_OUTPUTS)


def test_a_failing_writer_leaves_nothing(as_written, tmp_path, monkeypatch):
    import analysis.study_outputs

    def disk_full(*_arguments, **_keywords):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(analysis.study_outputs, "write_encapsulated_pdf", disk_full)
    with pytest.raises(OSError, match="No space"):
        analyse_without_triton(as_written, tmp_path / "study", AnalysisSettings(slice_step=3))
    assert list(tmp_path.iterdir()) == []


def test_source_headers_a_seg_cannot_be_built_on_are_one_clear_error(as_written, tmp_path):
    headers = tuple(copy.deepcopy(header) for header in as_written.source_series.headers)
    for header in headers:
        del header.FrameOfReferenceUID
    source = dataclasses.replace(as_written.source_series, headers=headers)
    volume = dataclasses.replace(as_written, source_series=source)
    with pytest.raises(AnalysisError, match="SEG cannot be written.*Frame Of Reference"):
        analyse_without_triton(volume, tmp_path / "study", AnalysisSettings(slice_step=3))
    assert list(tmp_path.iterdir()) == []
