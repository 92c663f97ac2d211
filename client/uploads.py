"""Turn an uploaded file into a scan, de-identifying DICOM before anything else reads it.

Everything happens in memory: the bytes are never written to disk, and the only text that
leaves this module is a :class:`~imaging.errors.ScanReadError` message naming the file and the
problem, never header values. pydicom's own warnings are silenced while decoding because they can
quote header values (a malformed name, an odd date).
"""

from __future__ import annotations

import logging
import warnings

from pydicom.dataset import Dataset

from client.deidentify import deidentify
from imaging.errors import ScanReadError
from imaging.formats import DICOM, sniff_format
from imaging.readers import read_dicom_dataset, read_scan, scan_from_dicom_dataset
from imaging.scan import Scan

# The app's per-file limit; .streamlit/config.toml's server.maxUploadSize caps the whole request.
MAXIMUM_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_SUFFIXES = ("dcm", "dicom", "png", "jpg", "jpeg", "tif", "tiff")

# pydicom logs invalid values it meets, values included; none of that may reach a log.
logging.getLogger("pydicom").setLevel(logging.CRITICAL)


def read_upload(
    data: bytes, name: str, uid_salt: bytes | None = None, maximum_bytes: int = MAXIMUM_UPLOAD_BYTES
) -> Scan:
    """Decode one upload into a Scan; DICOM is de-identified (PS3.15 basic profile) first.

    Args:
        data: the uploaded bytes.
        name: the uploaded file name, used in the Scan and in messages.
        uid_salt: passed to :func:`client.deidentify.deidentify` so one session's UIDs stay consistent.
        maximum_bytes: uploads larger than this are refused before decoding.

    Returns:
        The decoded slice (HU for DICOM and 16-bit images, grey levels for 8-bit ones).

    Raises:
        ScanReadError: too large, not an accepted format, or not decodable; the message names the file.
    """
    _check_size(data, name, maximum_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if sniff_format(data, name) != DICOM:
            return read_scan(data, name)
        return scan_from_dicom_dataset(_deidentified(data, name, uid_salt), name)


def read_deidentified_dicom(
    data: bytes, name: str, uid_salt: bytes | None = None, maximum_bytes: int = MAXIMUM_UPLOAD_BYTES
) -> Dataset:
    """Parse one uploaded DICOM file and de-identify it (PS3.15 basic profile) before anything reads it.

    The study page writes the returned dataset, never the upload, to the series it analyses.

    Raises:
        ScanReadError: too large, not DICOM, or not parsable or de-identifiable; the message names the file.
    """
    _check_size(data, name, maximum_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if sniff_format(data, name) != DICOM:
            raise ScanReadError(name, "not a DICOM file (a series is uploaded as DICOM files or one .zip)")
        return _deidentified(data, name, uid_salt)


def _check_size(data: bytes, name: str, maximum_bytes: int) -> None:
    if len(data) > maximum_bytes:
        raise ScanReadError(
            name,
            f"the file is {len(data) / 2**20:.1f} MiB; the limit is {maximum_bytes / 2**20:.0f} MiB per file",
        )


def _deidentified(data: bytes, name: str, uid_salt: bytes | None) -> Dataset:
    dataset = read_dicom_dataset(data, name)
    try:
        deidentify(dataset, uid_salt)
    except Exception as error:  # a malformed element can fail anywhere inside pydicom
        reason = f"the DICOM header cannot be de-identified ({type(error).__name__}); not used"
        raise ScanReadError(name, reason) from None
    return dataset
