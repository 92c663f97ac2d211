"""`emphysema roi-dataset` on a user's own label map: NIfTI or DICOM SEG, placed on the study's grid."""

from __future__ import annotations

import shutil
from pathlib import Path

import highdicom
import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from emphysema.cli import main as cli_main
from study.nifti import write_nifti
from study.reader import read_study
from study.volume import Volume

SEGMENTS = ("NT", "CLE", "PSE", "PLE")


def copy_without_labels(study: Path, destination: Path) -> Path:
    shutil.copytree(study / "dicom", destination / "dicom")
    shutil.copy(study / "truth.json", destination / "truth.json")
    return destination


def write_label_nifti(
    path: Path, study: Path, pattern: np.ndarray, canonical: bool = False, shift_mm=0.0
) -> None:
    """The pattern as NIfTI with the study's geometry (study.nifti's writer), optionally reoriented to RAS."""
    volume = read_study(study / "dicom")
    origin = tuple(value + shift_mm for value in volume.origin_mm)
    write_nifti(path, Volume(pattern.astype(np.int16), volume.spacing_mm, origin))
    if canonical:  # the same labels in another axis order and direction
        nibabel.save(nibabel.as_closest_canonical(nibabel.load(str(path))), str(path))


def roi_rows(out: Path) -> list[str]:
    return sorted((out / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:])


@pytest.fixture(scope="module")
def reference(studies, tmp_path_factory) -> tuple[Path, list[str]]:
    """The mixed study and the ROIs roi-dataset cuts from its labels.npz."""
    out = tmp_path_factory.mktemp("reference") / "rois"
    assert (
        cli_main(["roi-dataset", str(studies["mixed"]), "--out", str(out), "--roi-mm", "30", "--quiet"]) == 0
    )
    return studies["mixed"], roi_rows(out)


@pytest.mark.parametrize("canonical", [False, True])
def test_a_nifti_label_map_gives_the_same_rois_as_the_phantom_labels(reference, tmp_path, canonical):
    study, expected = reference
    folder = copy_without_labels(study, tmp_path / "mixed")
    write_label_nifti(folder / "labels.nii.gz", study, np.load(study / "labels.npz")["pattern"], canonical)
    out = tmp_path / "rois"
    assert cli_main(["roi-dataset", str(folder), "--out", str(out), "--roi-mm", "30", "--quiet"]) == 0
    assert roi_rows(out) == expected


def write_seg(path: Path, series: Path, pattern: np.ndarray, labels=SEGMENTS, series_uid=None) -> None:
    """A DICOM SEG of the pattern map made with highdicom: one segment per pattern, frames lowest first."""
    sources = sorted(
        (pydicom.dcmread(file) for file in series.iterdir()),
        key=lambda dataset: float(dataset.ImagePositionPatient[2]),
    )
    descriptions = [
        highdicom.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=highdicom.sr.CodedConcept(f"P{number}", "99TEST", label),
            algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, label in enumerate(labels, start=1)
    ]
    segmentation = highdicom.seg.Segmentation(
        source_images=sources,
        pixel_array=pattern.astype(np.uint8),  # a label map: value = segment number
        segmentation_type=highdicom.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=highdicom.UID(),
        series_number=99,
        sop_instance_uid=highdicom.UID(),
        instance_number=1,
        manufacturer="tests",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
    )
    if series_uid is not None:
        segmentation.ReferencedSeriesSequence[0].SeriesInstanceUID = series_uid
    segmentation.save_as(path)


def test_a_dicom_seg_gives_the_same_rois_as_the_phantom_labels(reference, tmp_path):
    study, expected = reference
    folder = copy_without_labels(study, tmp_path / "mixed")
    write_seg(folder / "labels.dcm", study / "dicom", np.load(study / "labels.npz")["pattern"])
    out = tmp_path / "rois"
    assert cli_main(["roi-dataset", str(folder), "--out", str(out), "--roi-mm", "30", "--quiet"]) == 0
    assert roi_rows(out) == expected


def test_labels_given_with_the_option_go_with_one_study(reference, tmp_path):
    study, expected = reference
    labels = tmp_path / "map.nii.gz"
    pattern = np.load(study / "labels.npz")["pattern"]
    write_label_nifti(labels, study, np.where(pattern == 2, 4, pattern))  # its CLE drawn as PLE
    out = tmp_path / "rois"
    arguments = ["roi-dataset", str(study), "--labels", str(labels), "--out", str(out), "--roi-mm", "30"]
    assert cli_main([*arguments, "--quiet"]) == 0
    assert roi_rows(out) == sorted(row.replace("CLE", "PLE") for row in expected)  # not the folder's map
    assert cli_main([*arguments[:2], str(study), *arguments[2:]]) == 2  # two studies, one label map


def refused(folder: Path, tmp_path: Path, capsys) -> str:
    out = tmp_path / "rois"
    assert cli_main(["roi-dataset", str(folder), "--out", str(out), "--quiet"]) == 1
    assert not out.exists()
    return capsys.readouterr().err


def test_a_label_map_on_another_grid_is_refused(reference, tmp_path, capsys):
    study, _ = reference
    pattern = np.load(study / "labels.npz")["pattern"]
    folder = copy_without_labels(study, tmp_path / "coarse")
    volume = read_study(study / "dicom")
    spacing = (volume.spacing_mm[0], 2 * volume.spacing_mm[1], 2 * volume.spacing_mm[2])
    write_nifti(
        folder / "labels.nii.gz", Volume(pattern[:, ::2, ::2].astype(np.int16), spacing, volume.origin_mm)
    )
    assert "does not match the study's" in refused(folder, tmp_path, capsys)

    shifted = copy_without_labels(study, tmp_path / "shifted")
    write_label_nifti(shifted / "labels.nii.gz", study, pattern, shift_mm=0.4 * volume.spacing_mm[1])
    assert "not aligned with the study" in refused(shifted, tmp_path, capsys)


def test_label_values_outside_the_pattern_map_are_refused(reference, tmp_path, capsys):
    study, _ = reference
    folder = copy_without_labels(study, tmp_path / "values")
    write_label_nifti(folder / "labels.nii.gz", study, np.load(study / "labels.npz")["pattern"] * 2)
    assert "outside 0..4" in refused(folder, tmp_path, capsys)


def test_a_seg_with_unknown_segments_or_of_another_series_is_refused(reference, tmp_path, capsys):
    study, _ = reference
    pattern = np.load(study / "labels.npz")["pattern"]
    folder = copy_without_labels(study, tmp_path / "unknown")
    write_seg(folder / "labels.dcm", study / "dicom", pattern, labels=("NT", "CLE", "Tumour", "PLE"))
    assert "segments 3 'Tumour' are not NT, CLE, PSE or PLE" in refused(folder, tmp_path, capsys)

    other = copy_without_labels(study, tmp_path / "other")
    write_seg(other / "labels.dcm", study / "dicom", pattern, series_uid=highdicom.UID())
    assert "segments another series" in refused(other, tmp_path, capsys)
