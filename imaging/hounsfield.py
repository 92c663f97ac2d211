"""Hounsfield units to display pixels: the lung window and the 16-bit storage convention."""

from __future__ import annotations

import dataclasses

import numpy as np

from imaging.contract import LUNG_WINDOW_LEVEL, LUNG_WINDOW_WIDTH

# 16-bit unsigned PNG/TIFF files store HU + 1024 (so air, -1024 HU, is 0), the same offset
# as the usual CT RescaleIntercept of -1024. Signed 16-bit TIFF stores HU directly.
UNSIGNED_HU_OFFSET = 1024
# Physically possible CT values: air is -1024 HU, dense bone/metal saturate around +3071.
HU_MINIMUM = -1024.0
HU_MAXIMUM = 3071.0


@dataclasses.dataclass(frozen=True)
class LungWindow:
    """A CT display window in HU. The default W1500/L-600 shows [-1350, +150] HU."""

    width: float = LUNG_WINDOW_WIDTH
    level: float = LUNG_WINDOW_LEVEL

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError(f"window width must be positive, got {self.width}")

    @property
    def lower(self) -> float:
        """The HU value shown as black (0)."""
        return self.level - self.width / 2

    @property
    def upper(self) -> float:
        """The HU value shown as white (255)."""
        return self.level + self.width / 2


def hounsfield_window(hounsfield: np.ndarray, window: LungWindow = LungWindow()) -> np.ndarray:
    """Map HU to uint8 through a window: values below it are 0, above it 255, linear inside.

    NaN (masked padding outside the field of view) maps to 0, like air.
    """
    values = np.asarray(hounsfield, dtype=np.float32)
    scaled = (values - window.lower) * (255.0 / window.width)
    scaled = np.nan_to_num(scaled, nan=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
