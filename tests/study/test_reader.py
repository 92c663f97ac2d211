"""Reading studies: DICOM folder, zip and NIfTI agree; every bad input gets one clear refusal."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pydicom
import pytest

from study.errors import StudyError
from study.nifti import write_nifti
from study.reader import read_study
from study.series import ReadSettings
from study.volume import Volume


@pytest.fixture(scope="module")
def reference(mixed_study) -> Volume:
    return read_study(mixed_study / "dicom")


@pytest.fixture()
def series_copy(mixed_study, tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(mixed_study / "dicom", folder)
    return folder


def _edit(path, **changes):
    dataset = pydicom.dcmread(path)
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path)


def _refusal(path, settings=ReadSettings()) -> str:
    with pytest.raises(StudyError) as caught:
        read_study(path, settings)
    return str(caught.value)


def test_dicom_nifti_and_zip_give_the_same_volume(mixed_study, reference, tmp_path):
    assert reference.kernel and reference.slice_thickness_mm and reference.source == "dicom"
    nifti = read_study(mixed_study / "image.nii.gz")
    np.testing.assert_array_equal(nifti.hounsfield, reference.hounsfield)
    np.testing.assert_allclose(nifti.spacing_mm, reference.spacing_mm, rtol=1e-4)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted((mixed_study / "dicom").iterdir()):
            handle.write(path, f"export/{path.name}")
    zipped = read_study(archive)
    np.testing.assert_array_equal(zipped.hounsfield, reference.hounsfield)
    assert zipped.source == "zip"
    # DICOM results need the source instances: a zip keeps them (read before its folder goes), NIfTI has none.
    assert [header.SOPInstanceUID for header in zipped.source_series.headers] == [
        header.SOPInstanceUID for header in reference.source_series.headers
    ]
    assert nifti.source_series is None


def test_slices_are_sorted_along_the_normal_not_by_instance_number(reference):
    # The lungs' apices are at the top: the highest slices hold less lung than the middle ones.
    lung_air = (reference.hounsfield < -400).sum(axis=(1, 2))
    assert lung_air[-3:].mean() < lung_air[len(lung_air) // 2]


def test_folder_with_two_series_lists_the_choices(series_copy, tmp_path):
    second = tmp_path / "series" / "second"
    second.mkdir()
    for path in sorted(series_copy.glob("*.dcm")):
        copy = second / path.name
        shutil.copy(path, copy)
        _edit(copy, SeriesInstanceUID="1.2.3.4.5", SeriesNumber=9)
    message = _refusal(series_copy)
    assert "2 axial CT series" in message and "1.2.3.4.5" in message and "--series" in message
    chosen = read_study(series_copy, ReadSettings(series_uid="1.2.3.4.5"))
    assert chosen.series_uid == "1.2.3.4.5"


def test_missing_slice_is_named(series_copy):
    files = sorted(series_copy.glob("*.dcm"))
    files[len(files) // 2].unlink()
    assert "1 slice(s) missing" in _refusal(series_copy)


def test_corrupt_file_in_the_middle_is_refused(series_copy):
    files = sorted(series_copy.glob("*.dcm"))
    middle = files[len(files) // 2]
    middle.write_bytes(middle.read_bytes()[:-5000])  # pixel data cut short
    message = _refusal(series_copy)
    assert "cannot be decoded" in message and middle.name in message


def test_garbage_file_in_the_middle_shows_as_a_missing_slice_and_a_note(series_copy):
    files = sorted(series_copy.glob("*.dcm"))
    files[len(files) // 2].write_bytes(b"not a dicom file" * 100)
    assert "missing" in _refusal(series_copy)


def test_localizer_only_mr_series_and_empty_folder(series_copy, tmp_path):
    localizer = tmp_path / "localizer"
    localizer.mkdir()
    shutil.copy(sorted(series_copy.glob("*.dcm"))[0], localizer / "scout.dcm")
    _edit(localizer / "scout.dcm", ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"])
    assert "localizer" in _refusal(localizer)
    for path in series_copy.glob("*.dcm"):
        _edit(path, Modality="MR")
    assert "modality MR, not CT" in _refusal(series_copy)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty" in _refusal(empty)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("uneven", "uneven slice spacing"),
        ("tilt", "tilted"),
        ("coronal", "not axial"),
        ("size", "mixes image sizes"),
        ("duplicate", "share a position"),
    ],
)
def test_geometry_problems_are_named(series_copy, change, expected):
    files = sorted(
        series_copy.glob("*.dcm"), key=lambda path: float(pydicom.dcmread(path).ImagePositionPatient[2])
    )
    for index, path in enumerate(files):
        dataset = pydicom.dcmread(path)
        x, y, z = (float(value) for value in dataset.ImagePositionPatient)
        if change == "uneven" and index >= len(files) // 2:
            dataset.ImagePositionPatient = [x, y, z + 0.2 * float(dataset.SliceThickness)]
        elif change == "tilt":
            dataset.ImagePositionPatient = [x, y + 0.5 * index, z]
        elif change == "coronal":
            dataset.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
        elif change == "size" and index == 3:
            dataset.Rows = 64
        elif change == "duplicate" and index == 3:
            dataset.ImagePositionPatient = [x, y, float(pydicom.dcmread(files[2]).ImagePositionPatient[2])]
        dataset.save_as(path)
    assert expected in _refusal(series_copy)


def test_series_over_the_memory_cap_is_refused_before_reading(mixed_study):
    assert "memory cap" in _refusal(mixed_study / "dicom", ReadSettings(memory_cap_bytes=100_000))


def test_zip_with_path_escape_or_bomb_is_refused_and_leaves_nothing(mixed_study, tmp_path):
    escape = tmp_path / "escape.zip"
    with zipfile.ZipFile(escape, "w") as handle:
        handle.write(next((mixed_study / "dicom").iterdir()), "../../evil.dcm")
    assert "outside the archive" in _refusal(escape)
    assert not (tmp_path.parent / "evil.dcm").exists()
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("zeros.dcm", bytes(50 * 2**20))
    assert bomb.stat().st_size < 2**20
    assert "zip bomb" in _refusal(bomb)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w") as handle:
        for path in sorted((mixed_study / "dicom").iterdir())[:5]:
            handle.write(path, path.name)
    assert "over the cap" in _refusal(big, ReadSettings(memory_cap_bytes=10_000))


def test_nifti_not_in_hounsfield_units_is_refused(reference, tmp_path):
    shifted = Volume((reference.hounsfield + 1024).astype(np.int16), reference.spacing_mm)
    path = tmp_path / "unsigned.nii.gz"
    write_nifti(path, shifted)
    assert "Hounsfield" in _refusal(path)


def test_other_files_are_not_studies(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "is not a study" in _refusal(text)
    assert "does not exist" in _refusal(tmp_path / "missing")


def test_a_series_stored_right_to_left_is_flipped_into_the_patient_frame(series_copy, reference):
    for path in series_copy.glob("*.dcm"):
        _edit(path, ImageOrientationPatient=[-1, 0, 0, 0, 1, 0])
    flipped = read_study(series_copy)
    # Same pixels, but each row now runs towards the patient's right: the reader mirrors them back.
    np.testing.assert_array_equal(flipped.hounsfield, reference.hounsfield[:, :, ::-1])
