"""An uploaded series becomes de-identified files, and a bad upload is refused whole (no server needed)."""

from __future__ import annotations

import io
import zipfile

import pydicom
import pytest

from study.errors import StudyError
from study.series import read_dicom_folder
from web.series_upload import import_series

SALT = b"0123456789abcdef"


def test_files_and_a_zip_give_the_same_de_identified_series(phantom_series, web_helpers, tmp_path):
    from_files, from_zip = tmp_path / "files", tmp_path / "zip"
    from_files.mkdir(), from_zip.mkdir()
    assert import_series(phantom_series, from_files, SALT).files == len(phantom_series)
    imported = import_series([("export.zip", web_helpers.zipped(phantom_series))], from_zip, SALT)
    assert imported.files == len(phantom_series) and imported.skipped == ()
    written = sorted(from_files.iterdir())
    assert all(web_helpers.identifiers_in(path.read_bytes()) == [] for path in written)
    header = pydicom.dcmread(written[0], stop_before_pixels=True)
    assert header.PatientIdentityRemoved == "YES"
    # The same salt gives the same new UIDs: one series, read the same way from both uploads.
    assert (read_dicom_folder(from_files).hounsfield == read_dicom_folder(from_zip).hounsfield).all()
    original = pydicom.dcmread(io.BytesIO(phantom_series[0][1]), stop_before_pixels=True)
    assert header.SeriesInstanceUID != original.SeriesInstanceUID
    assert sorted(path.name for path in tmp_path.iterdir()) == ["files", "zip"]  # the unpacked zip is gone


def test_a_zip_that_escapes_its_folder_is_refused_and_leaves_nothing(phantom_series, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil.dcm", phantom_series[0][1])
    series = tmp_path / "series"
    series.mkdir()
    with pytest.raises(StudyError, match=r"upload\.zip|evil") as raised:
        import_series([("upload.zip", buffer.getvalue())], series, SALT)
    assert "outside the archive" in str(raised.value)
    assert list(series.iterdir()) == [] and sorted(path.name for path in tmp_path.iterdir()) == ["series"]


def test_an_upload_without_any_dicom_image_is_one_error(tmp_path):
    with pytest.raises(StudyError, match=r"no DICOM image to analyse \(notes\.txt: this is a text file"):
        import_series([("notes.txt", b"a note\n" * 20)], tmp_path, SALT)
    assert list(tmp_path.iterdir()) == []
