"""Property: whatever bytes arrive as an upload, `read_scan` returns a valid Scan or raises ScanReadError.

Plain random bytes rarely get past the format sniffing, so most strategies start from real magic
bytes (a PNG signature and IHDR chunk with valid CRCs, a DICOM preamble, JPEG and TIFF markers)
or mutate and truncate a real CT slice. Each strategy runs a bounded number of examples with a
per-example deadline; the whole file stays under a minute on a busy 2-core machine.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.uploads import read_upload
from imaging.errors import ScanReadError
from imaging.formats import MAXIMUM_IMAGE_SIDE, MINIMUM_IMAGE_SIDE
from imaging.readers import read_scan
from imaging.scan import Scan

FUZZ = settings(
    max_examples=120,
    deadline=3000,  # ms per example: generous, the machine is shared
    database=None,  # nothing written into the working tree
    derandomize=True,  # the same examples in CI every time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _ct_small() -> bytes:
    from pydicom.data import get_testdata_file

    with open(get_testdata_file("CT_small.dcm"), "rb") as file:
        return file.read()


CT_SMALL = _ct_small()


def _chunk(kind: bytes, data: bytes, valid_crc: bool = True) -> bytes:
    crc = zlib.crc32(kind + data) if valid_crc else zlib.crc32(kind + data) ^ 0xFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc & 0xFFFFFFFF)


@st.composite
def png_files(draw) -> bytes:
    """PNGs with valid structure and hostile contents: any size, depth, colour type and IDAT."""
    width = draw(st.one_of(st.integers(0, 80), st.integers(0, 2**31 - 1)))
    height = draw(st.one_of(st.integers(0, 80), st.integers(0, 2**31 - 1)))
    bit_depth = draw(st.sampled_from([1, 2, 4, 8, 16, 0, 3, 255]))
    colour_type = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 7]))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, draw(st.integers(0, 1)))
    payload = draw(st.binary(max_size=2048))
    idat = zlib.compress(payload) if draw(st.booleans()) else payload
    chunks = [_chunk(b"IHDR", header, draw(st.sampled_from([True, True, True, False])))]
    if colour_type == 3 and draw(st.booleans()):
        chunks.append(_chunk(b"PLTE", draw(st.binary(min_size=3, max_size=48))))
    chunks.append(_chunk(b"IDAT", idat, draw(st.booleans())))
    if draw(st.booleans()):
        chunks.append(_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@st.composite
def dicom_files(draw) -> bytes:
    """DICOM preambles followed by garbage, and the real CT slice truncated or with bytes mutated."""
    kind = draw(st.sampled_from(["garbage", "truncated", "mutated"]))
    if kind == "garbage":
        return bytes(128) + b"DICM" + draw(st.binary(max_size=2048))
    if kind == "truncated":
        return CT_SMALL[: draw(st.integers(132, len(CT_SMALL) - 1))]
    data = bytearray(CT_SMALL)
    for _ in range(draw(st.integers(1, 8))):
        # Mutations land mostly in the header (first ~1.3 kB), where parsing decisions are made.
        position = draw(st.one_of(st.integers(132, 1400), st.integers(132, len(data) - 1)))
        data[position] = draw(st.integers(0, 255))
    return bytes(data)


@st.composite
def other_magic_files(draw) -> bytes:
    """JPEG and TIFF markers followed by random bytes."""
    magic = draw(st.sampled_from([b"\xff\xd8\xff", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"II+\x00"]))
    return magic + draw(st.binary(max_size=2048))


def _check_outcome(data: bytes) -> None:
    """Both upload decoders: the reader itself and the app's (which de-identifies DICOM first)."""
    for decode in (read_scan, read_upload):
        _check_decoder(decode, data)


def _check_decoder(decode, data: bytes) -> None:
    try:
        scan = decode(data, name="upload.bin")
    except ScanReadError as error:
        assert "upload.bin" in str(error)
        return
    assert isinstance(scan, Scan)
    rows, columns = scan.pixels.shape
    assert MINIMUM_IMAGE_SIDE <= rows <= MAXIMUM_IMAGE_SIDE
    assert MINIMUM_IMAGE_SIDE <= columns <= MAXIMUM_IMAGE_SIDE
    if scan.is_hounsfield:
        assert scan.pixels.dtype == np.float32
        assert not np.isnan(scan.pixels).all()
    else:
        assert scan.pixels.dtype == np.uint8
    windowed = scan.windowed()
    assert windowed.dtype == np.uint8 and windowed.shape == (rows, columns)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_scan_or_scan_read_error(data):
    _check_outcome(data)


@FUZZ
@given(png_files())
def test_structured_png_gives_a_scan_or_scan_read_error(data):
    _check_outcome(data)


@FUZZ
@given(dicom_files())
def test_structured_dicom_gives_a_scan_or_scan_read_error(data):
    _check_outcome(data)


@settings(FUZZ, max_examples=60)
@given(other_magic_files())
def test_jpeg_and_tiff_markers_give_a_scan_or_scan_read_error(data):
    _check_outcome(data)
