"""PNG, TIFF and JPEG slices: 16-bit files hold Hounsfield units, 8-bit files are already windowed.

Conventions (see README "Data formats"):
- 16-bit unsigned PNG/TIFF store HU + 1024 (``UNSIGNED_HU_OFFSET``); a PNG text chunk or TIFF
  ImageDescription ``hounsfield_offset=N`` overrides the offset.
- signed 16-bit (and floating-point) TIFF store HU directly, as the CT Emphysema Database does.
- 8-bit grey PNG/JPEG/TIFF are already lung-windowed; RGB(A) is accepted only when it is grey.
"""

from __future__ import annotations

import io
import re
import struct
import warnings

import numpy as np
import tifffile
from PIL import Image

from imaging.errors import ScanReadError
from imaging.formats import (
    JPEG,
    MAXIMUM_DECODED_BYTES,
    PNG,
    check_hounsfield_maximum,
    check_image_size,
    mask_out_of_field,
)
from imaging.hounsfield import UNSIGNED_HU_OFFSET
from imaging.scan import Scan

HOUNSFIELD_OFFSET_KEY = "hounsfield_offset"
# Largest channel spread (99th percentile, grey levels) still taken as grey: JPEG chroma noise on
# a grey slice stays well below it, photographs and colour overlays are far above.
GREY_TOLERANCE = 12
# Pillow modes converted to RGB and then checked for greyness.
_COLOUR_MODES = ("P", "PA", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La")


def read_pillow_image(data: bytes, image_format: str, name: str) -> Scan:
    """Read a PNG or JPEG with Pillow, refusing oversize headers before any pixel is decoded.

    Raises:
        ScanReadError: too small, too large, colour, not HU under the 16-bit convention, or corrupt.
    """
    if image_format == PNG:
        _check_png_header(data, name)
    elif image_format == JPEG:
        _check_jpeg_header(data, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                columns, rows = image.size
                check_image_size(rows, columns, name)
                image.load()
                values, offset = _pillow_values(image, name)
        except ScanReadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ScanReadError(
                name, "the image header claims too many pixels (decompression bomb)"
            ) from None
        except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ...
            raise ScanReadError(
                name, f"could not decode the {image_format} image ({_reason(error)})"
            ) from None
    return scan_from_values(values, image_format, offset, name)


def read_tiff(data: bytes, name: str) -> Scan:
    """Read a single-page TIFF with tifffile, checking its size before decoding.

    Raises:
        ScanReadError: multi-page, not a 2-D slice, wrong size, unsupported type, or corrupt.
    """
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            if len(tiff.pages) != 1:
                raise ScanReadError(name, f"multi-page TIFF ({len(tiff.pages)} pages); one slice per file")
            page = tiff.pages[0]
            shape = tuple(page.shape)
            if not (len(shape) == 2 or (len(shape) == 3 and shape[-1] in (3, 4))):
                raise ScanReadError(name, f"a TIFF of shape {shape} is not a single 2-D slice")
            check_image_size(shape[0], shape[1], name)
            if page.nbytes > MAXIMUM_DECODED_BYTES:
                raise ScanReadError(
                    name,
                    f"the TIFF's {page.dtype} pixels of shape {shape} would take "
                    f"{page.nbytes / 2**20:.0f} MiB; at most {MAXIMUM_DECODED_BYTES // 2**20} MiB is "
                    "accepted (refused before decoding)",
                )
            values = page.asarray()
            offset = _offset_from_text(str(page.description or ""), name)
    except ScanReadError:
        raise
    except Exception as error:  # tifffile raises TiffFileError, ValueError, codec errors, ...
        raise ScanReadError(name, f"could not decode the TIFF image ({_reason(error)})") from None
    return scan_from_values(values, "TIFF", offset, name)


def scan_from_values(values: np.ndarray, image_format: str, offset: int | None, name: str) -> Scan:
    """Apply the storage convention that the array's type implies and build a Scan.

    Args:
        values: decoded pixels, ``(rows, columns)`` or ``(rows, columns, 3|4)``.
        image_format: ``"PNG"``, ``"TIFF"`` or ``"JPEG"``, for messages and details.
        offset: the file's own ``hounsfield_offset`` for unsigned 16-bit data, else None.
        name: the file name.

    Raises:
        ScanReadError: the pixel type has no known convention or its values cannot be HU.
    """
    values = np.asarray(values)
    values = values.astype(values.dtype.newbyteorder("="), copy=False)  # big-endian TIFF -> native
    details: dict = {"format": image_format, "dtype": str(values.dtype)}
    if values.dtype == np.uint8:
        grey = values if values.ndim == 2 else _grey_from_colour(values, name)
        return Scan(pixels=grey, is_hounsfield=False, source=name, details=details)
    if values.ndim != 2:
        raise ScanReadError(name, f"{values.dtype} colour images are not supported; expected a grey slice")
    if values.dtype == np.uint16:
        used_offset = UNSIGNED_HU_OFFSET if offset is None else offset
        where = (
            "the default for 16-bit files" if offset is None else f"from the file's {HOUNSFIELD_OFFSET_KEY}"
        )
        convention = f"HU = stored value - {used_offset} ({where})"
        hounsfield = values.astype(np.float32) - used_offset
        details["hounsfield_offset"] = used_offset
    elif values.dtype == np.int16 or values.dtype.kind == "f":
        convention = f"HU = stored value ({values.dtype} {image_format})"
        hounsfield = values.astype(np.float32)
    else:
        raise ScanReadError(
            name, f"{image_format} pixels of type {values.dtype} have no Hounsfield convention (see README)"
        )
    hounsfield = mask_out_of_field(hounsfield, name)
    check_hounsfield_maximum(hounsfield, name, convention)
    return Scan(pixels=hounsfield, is_hounsfield=True, source=name, details=details)


def _check_png_header(data: bytes, name: str) -> None:
    # The IHDR chunk is always first (PNG spec 5.2): width and height at bytes 16-24.
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ScanReadError(name, "the PNG header is missing or corrupt")
    width, height = struct.unpack(">II", data[16:24])
    check_image_size(height, width, name)


def _check_jpeg_header(data: bytes, name: str) -> None:
    """Check the size in the first start-of-frame segment; Pillow re-checks anything unusual."""
    position = 2
    while position + 9 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            check_image_size(height, width, name)
            return
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]


def _pillow_values(image: Image.Image, name: str) -> tuple[np.ndarray, int | None]:
    mode = image.mode
    if mode.startswith("I;16") or (mode == "I" and image.format == PNG):
        values = np.asarray(image)
        if values.min() < 0 or values.max() > np.iinfo(np.uint16).max:
            raise ScanReadError(name, f"PNG values outside the 16-bit range (mode {mode})")
        text = "\n".join(f"{key}={value}" for key, value in getattr(image, "text", {}).items())
        return values.astype(np.uint16), _offset_from_text(text, name)
    if mode == "L":
        return np.asarray(image, dtype=np.uint8), None
    if mode in _COLOUR_MODES:
        return np.asarray(image.convert("RGB"), dtype=np.uint8), None
    raise ScanReadError(name, f"{image.format} pixel mode {mode!r} is not a grey CT slice")


def _offset_from_text(text: str, name: str) -> int | None:
    match = re.search(rf"{HOUNSFIELD_OFFSET_KEY}\s*[=:]\s*(\S+)", text)
    if match is None:
        return None
    try:
        return int(match.group(1))
    except ValueError:
        raise ScanReadError(
            name, f"{HOUNSFIELD_OFFSET_KEY} {match.group(1)[:20]!r} is not a whole number"
        ) from None


def _grey_from_colour(values: np.ndarray, name: str) -> np.ndarray:
    channels = values[..., :3].astype(np.int16)
    spread = channels.max(axis=-1) - channels.min(axis=-1)
    if np.percentile(spread, 99) > GREY_TOLERANCE:
        raise ScanReadError(name, "a colour photo, not a CT slice (expected a grey image)")
    return np.rint(channels.mean(axis=-1)).astype(np.uint8)


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160]}" if text else type(error).__name__
