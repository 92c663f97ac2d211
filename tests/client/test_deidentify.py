"""PS3.15 basic-profile de-identification of a real CT slice, checked on the written bytes."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from client.deidentify import BASIC_PROFILE_CODE, deidentify
from client.uploads import read_upload
from imaging.errors import ScanReadError
from imaging.readers import read_scan


def _written(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_ct_small_identity_is_gone_from_the_whole_file_and_pixels_are_kept(ct_small_bytes, scans):
    original = pydicom.dcmread(io.BytesIO(ct_small_bytes))
    dataset = deidentify(pydicom.dcmread(io.BytesIO(ct_small_bytes)))
    written = _written(dataset)
    for identifier in scans.ct_small_identifiers:
        assert identifier.encode() in ct_small_bytes  # present before: the check can fail
        assert identifier.encode() not in written, identifier
    for dates in (b"20040119", b"19970430"):
        assert dates not in written
    reread = pydicom.dcmread(io.BytesIO(written))
    assert reread.PatientName == "" and reread.PatientID == "" and reread.StudyID == ""
    assert "OtherPatientIDsSequence" not in reread and "InstitutionName" not in reread
    assert not any(element.tag.is_private for element in reread.iterall())
    assert reread.PatientIdentityRemoved == "YES"
    code = reread.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == BASIC_PROFILE_CODE
    # UIDs are replaced, the SOP class kept, and the file meta agrees with the dataset.
    assert reread.StudyInstanceUID != original.StudyInstanceUID
    assert reread.SOPClassUID == original.SOPClassUID
    assert reread.file_meta.MediaStorageSOPInstanceUID == reread.SOPInstanceUID
    np.testing.assert_array_equal(reread.pixel_array, original.pixel_array)
    assert reread.RescaleSlope == original.RescaleSlope
    assert reread.RescaleIntercept == original.RescaleIntercept


def test_the_same_salt_keeps_a_series_together_and_another_salt_does_not(ct_small_bytes):
    first = deidentify(pydicom.dcmread(io.BytesIO(ct_small_bytes)), uid_salt=b"session-one")
    again = deidentify(pydicom.dcmread(io.BytesIO(ct_small_bytes)), uid_salt=b"session-one")
    other = deidentify(pydicom.dcmread(io.BytesIO(ct_small_bytes)), uid_salt=b"session-two")
    assert first.SeriesInstanceUID == again.SeriesInstanceUID
    assert first.SeriesInstanceUID != other.SeriesInstanceUID


def test_nested_person_names_and_free_text_are_cleaned(scans):
    dataset = pydicom.dcmread(io.BytesIO(scans.dicom_bytes(scans.phantom_hounsfield("NT", 64))))
    item = pydicom.Dataset()
    item.PersonName, item.LongCodeValue = "Hidden^Person", "free text about Hidden Person"
    dataset.ContentSequence = pydicom.Sequence([item])
    dataset.ImageComments = "Scan of Hidden Person"
    dataset.OperatorsName = "Operator^Olga"
    dataset.add_new(0x60003000, "OW", b"\x00\x01" * 8)  # overlay data: may carry burned-in text
    written = _written(deidentify(dataset))
    for text in (b"Hidden", b"Olga", b"Testpatient", b"SYN-7731", b"Synthetic Hospital", b"19500101"):
        assert text not in written, text
    assert 0x60003000 not in pydicom.dcmread(io.BytesIO(written))


def test_read_upload_gives_the_same_pixels_as_the_plain_reader(ct_small_bytes):
    uploaded = read_upload(ct_small_bytes, "CT_small.dcm")
    direct = read_scan(ct_small_bytes, "CT_small.dcm")
    np.testing.assert_array_equal(uploaded.pixels, direct.pixels)
    assert uploaded.is_hounsfield and uploaded.source == "CT_small.dcm"
    assert "CompressedSamples" not in repr(uploaded.details)


def test_read_upload_refuses_oversize_files_before_decoding():
    with pytest.raises(ScanReadError, match=r"big.dcm: the file is 2.0 MiB; the limit is 1 MiB per file"):
        read_upload(bytes(2 * 2**20), "big.dcm", maximum_bytes=2**20)
