"""A decoded slice, and the one function that turns it into the model's input tensor."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from imaging.contract import DEFAULT_IMAGE_SIZE
from imaging.hounsfield import LungWindow, hounsfield_window


@dataclasses.dataclass(frozen=True)
class Scan:
    """One 2-D slice as read from a file.

    Attributes:
        pixels: ``(rows, columns)`` float32 Hounsfield units when ``is_hounsfield`` (NaN marks
            padding outside the field of view), else uint8 already lung-windowed grey levels.
        is_hounsfield: whether ``pixels`` are HU or display grey levels.
        source: the file name it came from (never patient data).
        details: non-identifying acquisition facts (pixel spacing, kernel, slice thickness).
    """

    pixels: np.ndarray
    is_hounsfield: bool
    source: str
    details: dict = dataclasses.field(default_factory=dict)

    def windowed(self, window: LungWindow = LungWindow()) -> np.ndarray:
        """Return the slice as uint8 ``(rows, columns)`` grey levels in the lung window."""
        if self.is_hounsfield:
            return hounsfield_window(self.pixels, window)
        return np.asarray(self.pixels, dtype=np.uint8)


def resize_image(image: np.ndarray, image_size: int) -> np.ndarray:
    """Resize a uint8 ``(rows, columns)`` image to ``(image_size, image_size)``, antialiased."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 image, got shape {image.shape} and dtype {image.dtype}")
    if image_size < 8:
        raise ValueError(f"image size must be at least 8 pixels, got {image_size}")
    if image.shape == (image_size, image_size):
        return image
    resized = Image.fromarray(image).resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def to_model_input(
    scan: Scan, image_size: int = DEFAULT_IMAGE_SIZE, window: LungWindow = LungWindow()
) -> np.ndarray:
    """Window and resize a scan into the contract's tensor: uint8 ``(image_size, image_size, 1)``.

    Training, export checks, the CLI and the web app all call this, so they cannot differ.
    """
    return resize_image(scan.windowed(window), image_size)[:, :, np.newaxis]
