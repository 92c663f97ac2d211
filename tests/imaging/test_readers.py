"""read_scan: real DICOM to HU, the 16-bit and 8-bit conventions, and every bad file refused by name."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pydicom.pixels
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.uid import JPEG2000, JPEGLSLossless, RLELossless

from imaging.errors import ScanReadError
from imaging.formats import MAXIMUM_IMAGE_SIDE, MINIMUM_IMAGE_SIDE, OUT_OF_FIELD_HU
from imaging.readers import read_dicom_dataset, read_scan, scan_from_dicom_dataset
from imaging.scan import to_model_input


def refusal(source, name: str | None = None) -> str:
    """Read something that must be refused; return the message."""
    with pytest.raises(ScanReadError) as caught:
        read_scan(source, name)
    return str(caught.value)


# --- DICOM -------------------------------------------------------------------------------------


def test_ct_small_gives_hounsfield_units(ct_small_path, patient_text):
    scan = read_scan(ct_small_path)
    assert scan.is_hounsfield
    assert scan.pixels.shape == (128, 128)
    assert scan.pixels.dtype == np.float32
    assert -1024 <= np.nanmin(scan.pixels) and np.nanmax(scan.pixels) <= 3072
    # STACK.md: this slice spans -896..1167 HU (stored + RescaleIntercept -1024).
    assert np.nanmin(scan.pixels) == -896 and np.nanmax(scan.pixels) == 1167
    assert scan.source == str(ct_small_path)
    assert scan.details["convolution_kernel"] == "STANDARD"
    assert scan.details["pixel_spacing_mm"] == pytest.approx([0.661468, 0.661468])
    assert scan.details["slice_thickness_mm"] == 5.0
    assert not any(text in repr(scan) for text in patient_text)
    assert to_model_input(scan, 64).shape == (64, 64, 1)


def test_dicom_bytes_use_the_given_name(ct_small_path):
    scan = read_scan(ct_small_path.read_bytes(), name="slice.dcm")
    assert scan.source == "slice.dcm" and scan.is_hounsfield


def test_dataset_can_be_deidentified_before_pixels_are_read(ct_small_path):
    dataset = read_dicom_dataset(ct_small_path.read_bytes(), "upload.dcm")
    assert isinstance(dataset, pydicom.Dataset)
    dataset.PatientName = ""
    dataset.PatientID = ""
    scan = scan_from_dicom_dataset(dataset, "upload.dcm")
    np.testing.assert_array_equal(scan.pixels, read_scan(ct_small_path).pixels)


@pytest.mark.parametrize("length", [132, 1_000, 3_000, 5_000, 20_000, 39_000])
def test_truncated_dicom_is_refused_by_name(ct_small_path, tmp_path, length, patient_text):
    path = tmp_path / "truncated.dcm"
    path.write_bytes(ct_small_path.read_bytes()[:length])
    message = refusal(path)
    assert str(path) in message
    assert not any(text in message for text in patient_text)


def test_truncated_pixel_data_says_so(ct_small_path, tmp_path):
    path = tmp_path / "cut.dcm"
    path.write_bytes(ct_small_path.read_bytes()[:20_000])
    assert "truncated" in refusal(path)


def test_text_file_named_dcm_is_refused(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("Patient notes: this is not an image.\n")
    message = refusal(path)
    assert str(path) in message and "text file" in message


def test_dicom_without_pixel_data(ct_small_dataset, write_dicom):
    del ct_small_dataset.PixelData
    path = write_dicom("nopixels.dcm", ct_small_dataset)
    message = refusal(path)
    assert "no pixel data" in message and str(path) in message


def test_multi_frame_dicom_is_refused(ct_small_dataset, write_dicom):
    ct_small_dataset.NumberOfFrames = 3
    ct_small_dataset.PixelData = ct_small_dataset.PixelData * 3
    message = refusal(write_dicom("volume.dcm", ct_small_dataset))
    assert "multi-frame" in message and "3 frames" in message


def test_dicom_header_claiming_huge_size_is_refused_before_decoding(ct_small_dataset, write_dicom):
    ct_small_dataset.Rows = 30000
    ct_small_dataset.Columns = 30000
    message = refusal(write_dicom("huge.dcm", ct_small_dataset))
    assert "30000x30000" in message and "before decoding" in message


def test_non_ct_modality_is_refused():
    message = refusal(pydicom.data.get_testdata_file("MR_small.dcm"), "mr.dcm")
    assert "not CT" in message and "mr.dcm" in message


def test_padding_value_and_out_of_field_values_become_nan(ct_small_dataset, write_dicom):
    stored = ct_small_dataset.pixel_array.copy()
    stored[:4, :] = -2000  # CT_small's PixelPaddingValue
    stored[4:6, :] = -2000 - 1  # below the field of view: -3025 HU without being declared padding
    ct_small_dataset.PixelData = stored.astype(np.int16).tobytes()
    scan = read_scan(write_dicom("padded.dcm", ct_small_dataset))
    assert np.isnan(scan.pixels[:6]).all()
    assert np.isfinite(scan.pixels[6:]).all()
    assert to_model_input(scan, 32)[:1].max() == 0  # padding shows as black, like air


def test_padding_range_limit_masks_the_whole_range(ct_small_dataset, write_dicom):
    stored = ct_small_dataset.pixel_array.copy()
    low = int(stored.min())
    ct_small_dataset.PixelPaddingValue = low
    ct_small_dataset.add_new("PixelPaddingRangeLimit", "SS", low + 10)  # signed pixels: VR SS
    scan = read_scan(write_dicom("range.dcm", ct_small_dataset))
    expected = (stored >= low) & (stored <= low + 10)
    assert expected.any()
    np.testing.assert_array_equal(np.isnan(scan.pixels), expected)


def test_all_padding_is_refused(ct_small_dataset, write_dicom):
    ct_small_dataset.PixelData = np.full((128, 128), -2000, np.int16).tobytes()
    assert "padding" in refusal(write_dicom("blank.dcm", ct_small_dataset))


def test_rle_compressed_dicom_decodes_to_the_same_hounsfield_units(
    ct_small_path, ct_small_dataset, write_dicom
):
    ct_small_dataset.compress(RLELossless)
    scan = read_scan(write_dicom("rle.dcm", ct_small_dataset))
    np.testing.assert_array_equal(scan.pixels, read_scan(ct_small_path).pixels)
    assert scan.details["transfer_syntax"] == "RLE Lossless"


def _as_ct(test_file: str) -> pydicom.Dataset:
    dataset = pydicom.dcmread(pydicom.data.get_testdata_file(test_file))
    dataset.Modality = "CT"
    return dataset


@pytest.mark.parametrize(
    ("test_file", "syntax"),
    [("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless), ("JPEG2000.dcm", JPEG2000)],
)
def test_compressed_dicom_is_decoded_or_refused_clearly(test_file, syntax, write_dicom):
    path = write_dicom("compressed.dcm", _as_ct(test_file))
    if pydicom.pixels.get_decoder(syntax).is_available:
        scan = read_scan(path)
        header = pydicom.dcmread(path)
        assert scan.is_hounsfield and scan.pixels.shape == (header.Rows, header.Columns)
        assert np.isfinite(scan.pixels).any()
    else:
        message = refusal(path)
        assert f"compressed DICOM ({syntax.name}) needs a decoder" in message
        assert "pip install" in message and str(path) in message


def test_undecodable_compressed_data_is_refused(ct_small_dataset, write_dicom):
    ct_small_dataset.compress(RLELossless)
    ct_small_dataset.PixelData = ct_small_dataset.PixelData[:200]  # a broken RLE stream
    message = refusal(write_dicom("broken_rle.dcm", ct_small_dataset))
    assert "RLE Lossless" in message


# --- PNG, TIFF, JPEG ---------------------------------------------------------------------------


def test_eight_bit_png_round_trip(write_image):
    pixels = np.random.default_rng(0).integers(0, 256, (48, 40), dtype=np.uint8)
    scan = read_scan(write_image("windowed.png", pixels))
    assert not scan.is_hounsfield
    np.testing.assert_array_equal(scan.pixels, pixels)
    np.testing.assert_array_equal(
        scan.windowed(), pixels
    )  # already windowed: the window is not applied again
    assert to_model_input(scan, 32).shape == (32, 32, 1)


def test_sixteen_bit_png_hounsfield_round_trip(write_image, hounsfield_slice):
    path = write_image("hu.png", (hounsfield_slice + 1024).astype(np.uint16))
    scan = read_scan(path)
    assert scan.is_hounsfield and scan.details["hounsfield_offset"] == 1024
    np.testing.assert_array_equal(scan.pixels, hounsfield_slice.astype(np.float32))


def test_png_text_chunk_sets_the_offset(write_image, hounsfield_slice):
    stored = (hounsfield_slice.astype(np.int32) + 2048).astype(np.uint16)
    scan = read_scan(write_image("offset.png", stored, text={"hounsfield_offset": "2048"}))
    np.testing.assert_array_equal(scan.pixels, hounsfield_slice.astype(np.float32))


def test_png_chunk_with_a_non_number_is_refused(write_image, hounsfield_slice):
    stored = (hounsfield_slice + 1024).astype(np.uint16)
    assert "not a whole number" in refusal(write_image("bad.png", stored, text={"hounsfield_offset": "lots"}))


def test_sixteen_bit_png_outside_the_convention_is_refused(write_image):
    stored = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)  # a full-range export
    path = write_image("stretched.png", stored)
    message = refusal(path)
    assert str(path) in message and "1024" in message and "3071" in message


def test_signed_tiff_round_trip(write_image, hounsfield_slice):
    scan = read_scan(write_image("emphysema_db.tiff", hounsfield_slice, "TIFF"))
    assert scan.is_hounsfield
    np.testing.assert_array_equal(scan.pixels, hounsfield_slice.astype(np.float32))


def test_signed_tiff_outside_the_field_of_view_is_masked(write_image, hounsfield_slice):
    hounsfield_slice[:3] = -3024
    scan = read_scan(write_image("fov.tif", hounsfield_slice, "TIFF"))
    assert np.isnan(scan.pixels[:3]).all() and np.isfinite(scan.pixels[3:]).all()
    assert OUT_OF_FIELD_HU > -3024


def test_unsigned_tiff_uses_the_offset(write_image, hounsfield_slice):
    scan = read_scan(write_image("hu.tif", (hounsfield_slice + 1024).astype(np.uint16), "TIFF"))
    np.testing.assert_array_equal(scan.pixels, hounsfield_slice.astype(np.float32))


def test_multi_page_tiff_is_refused(tmp_path):
    import tifffile

    path = tmp_path / "stack.tif"
    with tifffile.TiffWriter(path) as writer:
        for _ in range(2):
            writer.write(np.zeros((40, 40), np.int16))
    assert "multi-page" in refusal(path)


def test_grey_rgb_and_jpeg_are_taken_as_grey(write_image):
    grey = np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    np.testing.assert_array_equal(read_scan(write_image("grey.png", rgba)).pixels, grey)
    jpeg = read_scan(write_image("grey.jpg", np.dstack([grey] * 3), "JPEG"))
    assert not jpeg.is_hounsfield and np.abs(jpeg.pixels.astype(int) - grey).max() <= 8


def test_colour_photo_is_refused(write_image):
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for name, image_format in (("photo.png", "PNG"), ("photo.jpg", "JPEG")):
        path = write_image(name, photo, image_format)
        message = refusal(path)
        assert "colour photo" in message and str(path) in message


def test_one_pixel_png_is_refused(write_image):
    path = write_image("dot.png", np.zeros((1, 1), np.uint8))
    message = refusal(path)
    assert (
        str(path) in message and "1x1" in message and f"{MINIMUM_IMAGE_SIDE}x{MINIMUM_IMAGE_SIDE}" in message
    )


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def test_png_claiming_30000_pixels_a_side_is_refused_before_decoding(tmp_path):
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    assert path.stat().st_size < 200
    message = refusal(path)
    assert str(path) in message and "30000x30000" in message and "before decoding" in message
    assert f"{MAXIMUM_IMAGE_SIDE}x{MAXIMUM_IMAGE_SIDE}" in message


def test_jpeg_header_claiming_huge_size_is_refused(encode, tmp_path):
    data = bytearray(encode(np.zeros((40, 40), np.uint8), "JPEG"))
    start_of_frame = data.index(b"\xff\xc0")
    data[start_of_frame + 5 : start_of_frame + 9] = struct.pack(">HH", 30000, 30000)
    assert "30000x30000" in refusal(bytes(data), "bomb.jpg")


# --- Not images at all ---------------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.touch()
    assert refusal(path) == f"{path}: the file is empty"


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.dcm"
    path.write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    message = refusal(path)
    assert str(path) in message and "not a recognised image format" in message


def test_zip_renamed_png(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scan.png", b"not really")
    path = tmp_path / "archive.png"
    path.write_bytes(buffer.getvalue())
    message = refusal(path)
    assert str(path) in message and "ZIP archive" in message


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in refusal(tmp_path / "absent.dcm")
    assert "folder" in refusal(tmp_path)


def test_corrupt_png_body_is_refused(encode):
    data = encode(np.zeros((40, 40), np.uint8))
    message = refusal(data[:50], "cut.png")  # cut inside the compressed pixel data
    assert message.startswith("cut.png: ")


# Arbitrary bytes, alone or behind each accepted signature, and real files with a few bytes
# changed: read_scan returns a Scan or raises ScanReadError, never anything else.
_SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"\x00" * 128 + b"DICM"]


def _check_only_scan_read_errors(data: bytes) -> None:
    try:
        scan = read_scan(data, "fuzz.bin")
    except ScanReadError as error:
        assert str(error).startswith("fuzz.bin: ")
    else:
        assert scan.pixels.ndim == 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_SIGNATURES), body=st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_scan_read_error(prefix, body):
    _check_only_scan_read_errors(prefix + body)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the values the edits broke
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["dicom", "png16", "tiff", "jpeg"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_real_files_raise_only_scan_read_error(kind, edits, ct_small_path, encode, hounsfield_slice):
    originals = {
        "dicom": ct_small_path.read_bytes(),
        "png16": encode((hounsfield_slice + 1024).astype(np.uint16)),
        "tiff": encode(hounsfield_slice, "TIFF"),
        "jpeg": encode((hounsfield_slice // 16 + 64).astype(np.uint8), "JPEG"),
    }
    data = bytearray(originals[kind])
    for position, value in edits:
        data[int(position * len(data))] = value
    _check_only_scan_read_errors(bytes(data))


def test_bytearray_and_path_strings_are_accepted(ct_small_path):
    assert read_scan(bytearray(ct_small_path.read_bytes())).source == "upload"
    assert read_scan(str(ct_small_path)).is_hounsfield


def test_wrong_source_type_is_a_programming_error():
    with pytest.raises(TypeError):
        read_scan(42)  # type: ignore[arg-type]


def test_message_names_only_the_file(ct_small_dataset, write_dicom, patient_text):
    ct_small_dataset.Modality = "MR"
    message = refusal(write_dicom("renamed.dcm", ct_small_dataset))
    assert not any(text in message for text in patient_text)
    assert Path(message.split(": ")[0]).name == "renamed.dcm"
