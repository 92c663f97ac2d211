"""The pixel grid of a study: millimetre coordinates of pixel centres and the way back."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PixelGrid:
    """An axial image of ``matrix`` square pixels of ``spacing`` mm, centred at (0, ``y_offset``)."""

    matrix: int
    spacing: float
    y_offset: float

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return self.matrix, self.matrix

    @property
    def origin(self) -> tuple[float, float]:
        """``(x, y)`` of the first pixel's centre (ImagePositionPatient)."""
        half = (self.matrix - 1) / 2.0 * self.spacing
        return -half, -half + self.y_offset

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x, y)`` float32 ``(rows, columns)`` arrays in mm."""
        steps = np.arange(self.matrix, dtype=np.float32) * self.spacing
        x0, y0 = self.origin
        return np.meshgrid(x0 + steps, y0 + steps, indexing="xy")

    def __call__(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map ``(n, 2)`` points ``x, y`` in mm to ``(rows, columns)`` in pixels."""
        x0, y0 = self.origin
        return (points[:, 1] - y0) / self.spacing, (points[:, 0] - x0) / self.spacing
