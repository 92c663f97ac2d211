"""The study volume every reader returns: HU in one canonical orientation, with its geometry.

Axes are ``(slices, rows, columns)`` with columns running towards the patient's left, rows
towards the back and slices from feet to head (the DICOM patient frame, LPS). Readers flip an
axial series into this orientation, so segmentation can rely on "image left is the right lung"
and "slice 0 is the lowest".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from study.source_series import SourceSeries

# HU are stored as int16: -1024..3071 fits, and a 512 x 512 x 600 study needs 300 MiB, not 600.
HU_DTYPE = np.int16


@dataclasses.dataclass(frozen=True)
class Volume:
    """A CT study's HU and geometry.

    Attributes:
        hounsfield: int16 ``(slices, rows, columns)``.
        spacing_mm: ``(slice interval, row spacing, column spacing)``.
        origin_mm: patient position (LPS) of the centre of voxel ``[0, 0, 0]``.
        kernel: the reconstruction kernel (ConvolutionKernel), None when unknown.
        slice_thickness_mm: the reconstructed slice thickness, None when unknown.
        source: ``dicom``, ``zip`` or ``nifti``.
        series_uid: the SeriesInstanceUID when the study came from DICOM.
        notes: things the reader skipped or assumed, one sentence each.
        source_series: the DICOM source instances' headers in slice order (None for NIfTI), for
            results written back as DICOM (SEG, SR).
    """

    hounsfield: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    kernel: str | None = None
    slice_thickness_mm: float | None = None
    source: str = "dicom"
    series_uid: str | None = None
    notes: tuple[str, ...] = ()
    source_series: SourceSeries | None = None

    @property
    def voxel_volume_ml(self) -> float:
        """The volume of one voxel in millilitres."""
        return float(np.prod(self.spacing_mm)) / 1000.0

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(slices, rows, columns)``."""
        return tuple(self.hounsfield.shape)

    def describe(self) -> dict:
        """Return the geometry and scanner details as JSON-ready values (no pixel data)."""
        return {
            "shape": list(self.shape),
            "spacing_mm": [round(value, 4) for value in self.spacing_mm],
            "kernel": self.kernel,
            "slice_thickness_mm": self.slice_thickness_mm,
            "source": self.source,
            "series_uid": self.series_uid,
            "notes": list(self.notes),
        }


def to_hounsfield_int16(values: np.ndarray) -> np.ndarray:
    """Round HU to int16, clipping to the CT range -1024..3071 (air below -1024 is still air)."""
    return np.rint(np.clip(values, -1024, 3071)).astype(HU_DTYPE)
