"""Read one CT slice from a file or uploaded bytes: the entry point every stage uses.

The format is decided by the file's magic bytes, never its name, so a ZIP renamed ``.png`` or a
text file renamed ``.dcm`` is refused with a message saying what it is. Whatever goes wrong, the
only exception that leaves :func:`read_scan` is :class:`~imaging.errors.ScanReadError`, whose
message names the file and never contains patient data.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from imaging.dicom import read_dicom_dataset, scan_from_dicom_dataset
from imaging.errors import ScanReadError
from imaging.formats import DICOM, MAXIMUM_FILE_BYTES, TIFF, sniff_format
from imaging.raster import read_pillow_image, read_tiff
from imaging.scan import Scan

__all__ = ["read_dicom_dataset", "read_scan", "read_source_bytes", "scan_from_dicom_dataset"]

UPLOAD_NAME = "upload"


def read_scan(source: str | Path | bytes, name: str | None = None) -> Scan:
    """Decode a CT slice into a :class:`~imaging.scan.Scan`.

    DICOM and 16-bit PNG/TIFF give Hounsfield units (``is_hounsfield``); 8-bit PNG/JPEG/TIFF give
    already lung-windowed grey levels.

    Args:
        source: a file path, or the file's bytes (an upload).
        name: the name to use in the Scan and in messages; defaults to the path as given, or
            ``"upload"`` for bytes.

    Returns:
        The decoded slice.

    Raises:
        ScanReadError: the file is missing, empty, not an accepted format, too small or large,
            or cannot be decoded. Nothing else escapes.
    """
    data, name = read_source_bytes(source, name)
    try:
        image_format = sniff_format(data, name)
        if image_format == DICOM:
            return scan_from_dicom_dataset(read_dicom_dataset(data, name), name)
        if image_format == TIFF:
            return read_tiff(data, name)
        return read_pillow_image(data, image_format, name)
    except ScanReadError:
        raise
    except Exception as error:  # a last safety net: decoders must never leak other errors
        raise ScanReadError(name, f"could not read the image ({type(error).__name__})") from None


def read_source_bytes(source: str | Path | bytes, name: str | None = None) -> tuple[bytes, str]:
    """Return the bytes of a path or upload and the name to report it by.

    Raises:
        ScanReadError: the path is missing, a folder, not a regular file (a device or pipe), unreadable
            or larger than ``MAXIMUM_FILE_BYTES``.
        TypeError: ``source`` is neither a path nor bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or UPLOAD_NAME
        if len(data) > MAXIMUM_FILE_BYTES:
            raise ScanReadError(name, f"the upload is larger than {MAXIMUM_FILE_BYTES // 2**20} MiB")
        return data, name
    if not isinstance(source, (str, Path)):
        raise TypeError(f"read_scan needs a path or bytes, got {type(source).__name__}")
    path = Path(source)
    name = name or str(source)
    try:
        if path.is_dir():
            raise ScanReadError(name, "this is a folder, not an image file")
        # Non-blocking, so opening a named pipe cannot hang; then only regular files are read, and
        # never more than the limit (a device such as /dev/zero reports size 0 and never ends).
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise ScanReadError(name, "not a regular file (a device, pipe or socket cannot hold a scan)")
            if status.st_size > MAXIMUM_FILE_BYTES:
                raise ScanReadError(
                    name,
                    f"the file is {status.st_size // 2**20} MiB; at most {MAXIMUM_FILE_BYTES // 2**20} MiB",
                )
            data = file.read(MAXIMUM_FILE_BYTES + 1)
        if len(data) > MAXIMUM_FILE_BYTES:
            raise ScanReadError(name, f"the file grew past {MAXIMUM_FILE_BYTES // 2**20} MiB while read")
        return data, name
    except FileNotFoundError:
        raise ScanReadError(name, "no such file") from None
    except OSError as error:
        raise ScanReadError(name, f"cannot read the file ({type(error).__name__})") from None
