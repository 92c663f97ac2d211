"""Check the geometry of one series' headers and work out its slice order and spacing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom

from study.errors import StudyError


@dataclasses.dataclass(frozen=True)
class SeriesGeometry:
    """Slice order (indices into the headers), spacing and directions of a checked series."""

    order: np.ndarray
    size: tuple[int, int]
    pixel_spacing: tuple[float, float]
    interval: float
    directions: tuple[np.ndarray, np.ndarray, np.ndarray]
    origin: tuple[float, float, float]


def _distinct(headers: list[pydicom.Dataset], keyword: str) -> set:
    return {tuple(float(value) for value in header.get(keyword, ())) for header in headers}


def check_geometry(headers: list[pydicom.Dataset], tolerance: float) -> SeriesGeometry:
    """Refuse mixed sizes, spacing or orientation, tilt, duplicates, gaps and uneven spacing."""
    sizes = {(int(header.Rows), int(header.Columns)) for header in headers}
    if len(sizes) > 1:
        raise StudyError(f"the series mixes image sizes {sorted(sizes)}; every slice must have the same size")
    spacings = _distinct(headers, "PixelSpacing")
    if len(spacings) > 1 or not next(iter(spacings)):
        raise StudyError(f"the series mixes or lacks PixelSpacing ({sorted(spacings)})")
    orientations = np.array(
        [[float(value) for value in header.ImageOrientationPatient] for header in headers]
    )
    if np.abs(orientations - orientations[0]).max() > 1e-3:
        raise StudyError(
            "the series mixes slice orientations; every slice must share ImageOrientationPatient"
        )
    row_direction, column_direction = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row_direction, column_direction)
    tilt = float(headers[0].get("GantryDetectorTilt", 0) or 0)
    if "ImagePositionPatient" not in headers[0] or any(
        "ImagePositionPatient" not in header for header in headers
    ):
        raise StudyError("some slices lack ImagePositionPatient, so they cannot be stacked")
    positions = np.array([[float(value) for value in header.ImagePositionPatient] for header in headers])
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along, positions = along[order], positions[order]
    steps = np.diff(along)
    if (steps < 1e-3).any():
        raise StudyError(
            f"{int((steps < 1e-3).sum())} slice(s) share a position with another "
            "(duplicate or repeated acquisition)"
        )
    interval = float(np.median(steps))
    pixel = min(next(iter(spacings)))
    drift = positions - positions[0] - np.outer(along - along[0], normal)
    if abs(tilt) > 0.01 or np.linalg.norm(drift, axis=1).max() > 0.5 * pixel:
        raise StudyError(
            f"the series is tilted (gantry tilt {tilt:g} degrees, slices drift "
            f"{np.linalg.norm(drift, axis=1).max():.1f} mm sideways); resample it to an orthogonal grid first"
        )
    gaps = np.flatnonzero(steps > 1.5 * interval)
    if len(gaps):
        first = gaps[0]
        missing = int(sum(round(steps[gap] / interval) - 1 for gap in gaps))
        raise StudyError(
            f"{missing} slice(s) missing: a gap of {steps[first]:.2f} mm after position "
            f"{along[first]:.2f} mm "
            f"where slices are {interval:.2f} mm apart"
        )
    if (np.abs(steps - interval) > tolerance * interval).any():
        raise StudyError(
            f"uneven slice spacing: steps from {steps.min():.3f} to {steps.max():.3f} mm "
            f"(tolerance {tolerance:.0%})"
        )
    row_spacing, column_spacing = next(iter(spacings))
    return SeriesGeometry(
        order=order,
        size=next(iter(sizes)),
        pixel_spacing=(row_spacing, column_spacing),
        interval=interval,
        directions=(row_direction, column_direction, normal),
        origin=tuple(float(value) for value in positions[0]),
    )
