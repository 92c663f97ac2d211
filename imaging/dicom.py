"""DICOM slices: parse, check the header before decoding pixels, convert stored values to HU.

The header is checked first because pydicom parses a truncated file without complaint and only
fails, with unrelated errors, when the pixels are decoded. Messages never quote header values that
could identify a patient: only the file name, sizes, modality and transfer syntax.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pydicom
import pydicom.pixels
from pydicom.dataset import Dataset

from imaging.errors import ScanReadError
from imaging.formats import check_image_size, mask_out_of_field
from imaging.scan import Scan

ACCEPTED_MODALITIES = ("CT",)
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")


def read_dicom_dataset(data: bytes, name: str) -> Dataset:
    """Parse DICOM bytes into a pydicom Dataset without decoding its pixels.

    The client uses this to de-identify the header in memory before anything else happens.

    Args:
        data: the file's bytes (with the 128-byte preamble and ``DICM``).
        name: the file name used in error messages.

    Raises:
        ScanReadError: the bytes are not a DICOM file pydicom can parse.
    """
    try:
        return pydicom.dcmread(io.BytesIO(data), force=False)
    except Exception as error:  # pydicom raises many unrelated types on malformed input
        # The exception text is left out on purpose: it can quote header values.
        raise ScanReadError(name, f"not a readable DICOM file ({type(error).__name__})") from None


def scan_from_dicom_dataset(dataset: Dataset, name: str) -> Scan:
    """Turn a parsed single-frame CT Dataset into a Scan in Hounsfield units.

    HU = stored value x RescaleSlope + RescaleIntercept; PixelPaddingValue (and its range) and
    values below the field of view become NaN.

    Args:
        dataset: a Dataset from :func:`read_dicom_dataset` (possibly de-identified since).
        name: the file name used in the Scan and in error messages.

    Raises:
        ScanReadError: not CT, multi-frame, colour, truncated, compressed without a decoder, or
            otherwise impossible to decode.
    """
    try:
        return _scan_from_dataset(dataset, name)
    except ScanReadError:
        raise
    except Exception as error:  # a malformed element can fail anywhere inside pydicom
        raise ScanReadError(
            name, f"the DICOM header or pixel data is corrupt ({type(error).__name__})"
        ) from None


def _scan_from_dataset(dataset: Dataset, name: str) -> Scan:
    _check_modality(dataset, name)
    rows, columns = _check_pixel_header(dataset, name)
    syntax = _check_transfer_syntax(dataset, rows, columns, name)
    _check_rescale(dataset, name)
    stored = _decode_pixels(dataset, syntax, name)
    if stored.shape != (rows, columns):
        raise ScanReadError(
            name, f"decoded pixels have shape {stored.shape}, the header says {(rows, columns)}"
        )
    hounsfield = np.asarray(pydicom.pixels.apply_modality_lut(stored, dataset), dtype=np.float32)
    hounsfield[_padding_mask(dataset, stored, name)] = np.nan
    return Scan(
        pixels=mask_out_of_field(hounsfield, name),
        is_hounsfield=True,
        source=name,
        details=_acquisition_details(dataset, syntax),
    )


def _check_modality(dataset: Dataset, name: str) -> None:
    modality = dataset.get("Modality")
    # A missing Modality is tolerated (minimal exports omit it); a different one is refused,
    # because its pixel values are not Hounsfield units and the result would be meaningless.
    if modality and str(modality).strip().upper() not in ACCEPTED_MODALITIES:
        raise ScanReadError(
            name, f"modality {str(modality)[:16]!r} is not CT; this classifier reads CT slices (HU) only"
        )


def _check_rescale(dataset: Dataset, name: str) -> None:
    for keyword, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)):
        value = dataset.get(keyword, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ScanReadError(name, f"the DICOM {keyword} is not a number") from None
        if not math.isfinite(number) or (keyword == "RescaleSlope" and number == 0):
            raise ScanReadError(name, f"the DICOM {keyword} {number} cannot convert pixels to HU")


def _integer(dataset: Dataset, keyword: str, name: str, default: int | None = None) -> int:
    value = dataset.get(keyword)
    if value is None or value == "":
        if default is None:
            raise ScanReadError(name, f"the DICOM header has no {keyword} (the file may be truncated)")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ScanReadError(name, f"the DICOM {keyword} is not a single whole number") from None


def _check_pixel_header(dataset: Dataset, name: str) -> tuple[int, int]:
    if "PixelData" not in dataset:
        if "FloatPixelData" in dataset or "DoubleFloatPixelData" in dataset:
            raise ScanReadError(name, "floating-point DICOM pixel data is not supported")
        raise ScanReadError(name, "the DICOM file has no pixel data (not an image, or truncated)")
    samples = _integer(dataset, "SamplesPerPixel", name, default=1)
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if samples != 1 or photometric not in _MONOCHROME:
        raise ScanReadError(
            name, f"colour DICOM ({photometric}, {samples} samples per pixel), not a CT slice"
        )
    frames = _integer(dataset, "NumberOfFrames", name, default=1)
    if frames != 1:
        raise ScanReadError(
            name,
            f"multi-frame DICOM with {frames} frames; this tool reads one slice per file "
            "(export the slices as single-frame files)",
        )
    rows = _integer(dataset, "Rows", name)
    columns = _integer(dataset, "Columns", name)
    check_image_size(rows, columns, name)
    bits_allocated = _integer(dataset, "BitsAllocated", name)
    bits_stored = _integer(dataset, "BitsStored", name, default=bits_allocated)
    if bits_allocated not in (8, 16, 32) or not 1 <= bits_stored <= bits_allocated:
        raise ScanReadError(
            name, f"unsupported pixel depth (BitsAllocated {bits_allocated}, BitsStored {bits_stored})"
        )
    if _integer(dataset, "PixelRepresentation", name) not in (0, 1):
        raise ScanReadError(name, "PixelRepresentation must be 0 (unsigned) or 1 (signed)")
    return rows, columns


def _check_transfer_syntax(dataset: Dataset, rows: int, columns: int, name: str) -> pydicom.uid.UID:
    file_meta = getattr(dataset, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if not syntax:
        raise ScanReadError(
            name, "the DICOM file meta has no TransferSyntaxUID, so its pixels cannot be decoded"
        )
    syntax = pydicom.uid.UID(str(syntax))
    if not syntax.is_compressed:
        expected = rows * columns * (_integer(dataset, "BitsAllocated", name) // 8)
        actual = len(dataset.PixelData)
        if actual < expected:
            raise ScanReadError(
                name,
                f"the pixel data holds {actual} bytes but {columns}x{rows} pixels need {expected}: "
                "the file is truncated or its header is wrong",
            )
        return syntax
    try:
        decoder = pydicom.pixels.get_decoder(syntax)
    except NotImplementedError:
        raise ScanReadError(name, f"the transfer syntax {syntax.name} is not supported") from None
    if not decoder.is_available:
        hint = _install_hint(decoder.missing_dependencies)
        raise ScanReadError(name, f"compressed DICOM ({syntax.name}) needs a decoder: {hint}")
    return syntax


def _install_hint(missing_dependencies: list[str]) -> str:
    """Turn pydicom's "plugin - requires a>=1 and b>=2" lines into one pip command."""
    for line in sorted(missing_dependencies, key=lambda text: not text.startswith("pylibjpeg")):
        _, _, requirements = line.partition("requires ")
        packages = [part.strip() for part in requirements.split(" and ") if part.strip()]
        if packages and all(" " not in package for package in packages):
            return "pip install " + " ".join(f'"{package}"' for package in packages)
    return "install one of: " + "; ".join(missing_dependencies)


def _decode_pixels(dataset: Dataset, syntax: pydicom.uid.UID, name: str) -> np.ndarray:
    try:
        return np.asarray(dataset.pixel_array)
    except Exception as error:  # decoder plugins raise RuntimeError, ValueError, OSError, ...
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1][:200] if lines else type(error).__name__
        hint = " (pylibjpeg and its plugins add more decoders)" if syntax.is_compressed else ""
        raise ScanReadError(name, f"could not decode the {syntax.name} pixel data: {reason}{hint}") from None


def _padding_mask(dataset: Dataset, stored: np.ndarray, name: str) -> np.ndarray:
    """Stored values marking padding outside the reconstructed circle (PS3.3 C.7.5.1.1.2)."""
    if dataset.get("PixelPaddingValue") is None:
        return np.zeros(stored.shape, dtype=bool)
    padding = _integer(dataset, "PixelPaddingValue", name)
    if dataset.get("PixelPaddingRangeLimit") is None:
        return stored == padding
    limit = _integer(dataset, "PixelPaddingRangeLimit", name)
    return (stored >= min(padding, limit)) & (stored <= max(padding, limit))


def _acquisition_details(dataset: Dataset, syntax: pydicom.uid.UID) -> dict:
    """Non-identifying facts that matter for reading the result (never names, ids or dates)."""

    def number(keyword: str) -> float | None:
        try:
            value = float(dataset.get(keyword))
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    try:
        spacing = [float(value) for value in dataset.get("PixelSpacing")][:2]
    except (TypeError, ValueError):
        spacing = None
    kernel = dataset.get("ConvolutionKernel")
    if kernel is not None and not isinstance(kernel, str):
        kernel = "\\".join(str(part) for part in kernel)
    return {
        "format": "DICOM",
        "modality": str(dataset.get("Modality") or "") or None,
        "transfer_syntax": syntax.name,
        "pixel_spacing_mm": spacing,
        "slice_thickness_mm": number("SliceThickness"),
        "convolution_kernel": str(kernel)[:64] if kernel else None,
        "kvp": number("KVP"),
        "rescale_slope": number("RescaleSlope"),
        "rescale_intercept": number("RescaleIntercept"),
    }
