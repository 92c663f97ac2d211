"""Fixtures for the imaging tests: pydicom's real CT slice and writers for tiny image files."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
import tifffile
from PIL import Image, PngImagePlugin

# The patient details stored in pydicom's CT_small.dcm: they must never reach a Scan or a message.
CT_SMALL_PATIENT_TEXT = ("CompressedSamples", "1CT1")


@pytest.fixture(scope="session")
def ct_small_path() -> Path:
    return Path(pydicom.data.get_testdata_file("CT_small.dcm"))


@pytest.fixture()
def ct_small_dataset(ct_small_path: Path) -> pydicom.Dataset:
    """A fresh, editable copy of CT_small.dcm for building broken variants."""
    return pydicom.dcmread(ct_small_path)


def encode_image(pixels: np.ndarray, image_format: str = "PNG", text: dict[str, str] | None = None) -> bytes:
    """Encode an array as PNG/JPEG (Pillow) or TIFF (tifffile) bytes, keeping its dtype."""
    buffer = io.BytesIO()
    if image_format == "TIFF":
        tifffile.imwrite(buffer, pixels, description=";".join(f"{k}={v}" for k, v in (text or {}).items()))
        return buffer.getvalue()
    image = Image.fromarray(pixels)
    if image_format == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in (text or {}).items():
            info.add_text(key, value)
        image.save(buffer, format="PNG", pnginfo=info)
    else:
        image.save(buffer, format=image_format, quality=95)
    return buffer.getvalue()


@pytest.fixture()
def write_image(tmp_path: Path) -> Callable[..., Path]:
    """Return ``write(name, pixels, image_format="PNG", text=None) -> Path`` writing under tmp_path."""

    def write(name: str, pixels: np.ndarray, image_format: str = "PNG", text: dict | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_image(pixels, image_format, text))
        return path

    return write


@pytest.fixture()
def write_dicom(tmp_path: Path) -> Callable[[str, pydicom.Dataset], Path]:
    """Return ``write(name, dataset) -> Path`` saving a Dataset under tmp_path."""

    def write(name: str, dataset: pydicom.Dataset) -> Path:
        path = tmp_path / name
        dataset.save_as(path)
        return path

    return write


@pytest.fixture()
def hounsfield_slice() -> np.ndarray:
    """A 64x64 int16 HU slice spanning air to bone, deterministic."""
    rng = np.random.default_rng(3)
    values = rng.integers(-1024, 3072, size=(64, 64))
    values[0, 0], values[0, 1] = -1024, 3071
    return values.astype(np.int16)


@pytest.fixture()
def encode() -> Callable[..., bytes]:
    """Return :func:`encode_image` for tests that need bytes rather than a file."""
    return encode_image


@pytest.fixture()
def patient_text() -> tuple[str, ...]:
    return CT_SMALL_PATIENT_TEXT
