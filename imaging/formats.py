"""What a file is (from its first bytes, never its name) and the limits every reader enforces."""

from __future__ import annotations

import codecs

import numpy as np

from imaging.errors import ScanReadError
from imaging.hounsfield import HU_MAXIMUM

# Smaller images cannot hold lung texture (the CT Emphysema Database's ROI patches are 61x61);
# larger ones are not single HRCT slices and would cost memory before the model ever sees them.
MINIMUM_IMAGE_SIDE = 32
MAXIMUM_IMAGE_SIDE = 4096
# A 4096x4096 slice at 32 bits is 64 MiB; anything far above that is not one slice.
MAXIMUM_FILE_BYTES = 256 * 1024 * 1024
# Decoded pixels may not exceed one 4096x4096 32-bit slice: a small compressed file (a zlib TIFF of
# float64 RGBA) can otherwise claim hundreds of MiB within the side limit.
MAXIMUM_DECODED_BYTES = MAXIMUM_IMAGE_SIDE * MAXIMUM_IMAGE_SIDE * 4
# HU below this lie outside the scanner's field of view (padding such as -2000 or -3024), not in
# the patient: air is -1024. They become NaN so statistics and the window ignore them.
OUT_OF_FIELD_HU = -1500.0

DICOM = "DICOM"
PNG = "PNG"
JPEG = "JPEG"
TIFF = "TIFF"
ACCEPTED_FORMATS = (DICOM, PNG, TIFF, JPEG)

_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"II+\x00", TIFF),  # BigTIFF
    (b"MM\x00+", TIFF),
)
# Files people upload by mistake: named so the message says what the file really is.
_OTHER_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"RIFF", "a RIFF file (WebP, WAV or AVI)"),
)


def sniff_format(data: bytes, source: str) -> str:
    """Return ``"DICOM"``, ``"PNG"``, ``"TIFF"`` or ``"JPEG"`` from the file's magic bytes.

    Args:
        data: the whole file (only the first 132 bytes are looked at).
        source: the file name used in error messages.

    Raises:
        ScanReadError: the file is empty or is not one of the accepted formats.
    """
    if not data:
        raise ScanReadError(source, "the file is empty")
    if data[128:132] == b"DICM":
        return DICOM
    for signature, name in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return name
    expected = "expected DICOM (with the 128-byte preamble and 'DICM'), PNG, TIFF or JPEG"
    for signature, description in _OTHER_SIGNATURES:
        if data.startswith(signature):
            raise ScanReadError(source, f"this is {description}, not a CT image ({expected})")
    if _looks_like_text(data[:512]):
        raise ScanReadError(source, f"this is a text file, not a CT image ({expected})")
    raise ScanReadError(source, f"not a recognised image format ({expected})")


def _looks_like_text(head: bytes) -> bool:
    try:
        # Incremental decoding tolerates a character cut in two at the end of the sample.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(character.isprintable() or character in "\t\r\n" for character in text)


def check_image_size(rows: int, columns: int, source: str) -> None:
    """Refuse images too small to hold lung texture or too large to be one slice.

    Called with the size read from the header, before any pixels are decoded.

    Raises:
        ScanReadError: a side is outside ``[MINIMUM_IMAGE_SIDE, MAXIMUM_IMAGE_SIDE]``.
    """
    if rows < MINIMUM_IMAGE_SIDE or columns < MINIMUM_IMAGE_SIDE:
        raise ScanReadError(
            source,
            f"the image is {columns}x{rows} pixels; at least {MINIMUM_IMAGE_SIDE}x{MINIMUM_IMAGE_SIDE} "
            "is needed to see lung texture",
        )
    if rows > MAXIMUM_IMAGE_SIDE or columns > MAXIMUM_IMAGE_SIDE:
        raise ScanReadError(
            source,
            f"the image header claims {columns}x{rows} pixels; at most "
            f"{MAXIMUM_IMAGE_SIDE}x{MAXIMUM_IMAGE_SIDE} is accepted (refused before decoding)",
        )


def mask_out_of_field(hounsfield: np.ndarray, source: str) -> np.ndarray:
    """Return float32 HU with values below ``OUT_OF_FIELD_HU`` set to NaN.

    Raises:
        ScanReadError: every pixel lies outside the field of view (nothing left to classify).
    """
    values = np.asarray(hounsfield, dtype=np.float32).copy()
    values[~(values >= OUT_OF_FIELD_HU)] = np.nan  # also turns any NaN input into NaN, not a crash
    if np.isnan(values).all():
        raise ScanReadError(source, "every pixel is padding outside the field of view")
    return values


def check_hounsfield_maximum(hounsfield: np.ndarray, source: str, convention: str) -> None:
    """Refuse pixel values above the largest CT number, which means the file is not in HU.

    Args:
        hounsfield: the values after the format's convention was applied.
        source: the file name for the message.
        convention: how stored values became HU, quoted in the message.

    Raises:
        ScanReadError: some value exceeds ``HU_MAXIMUM``.
    """
    highest = float(np.nanmax(hounsfield))
    if highest > HU_MAXIMUM:
        raise ScanReadError(
            source,
            f"values reach {highest:.0f} HU under the convention {convention}, above the CT maximum of "
            f"{HU_MAXIMUM:.0f} HU, so this file does not hold Hounsfield units that way. Store HU + 1024 "
            "in a 16-bit PNG/TIFF, HU in a signed 16-bit TIFF, or an 8-bit lung-windowed image",
        )
