"""Numpy building blocks for the phantom: correlated noise, blurring and anti-aliased shapes.

Everything here works in pixels and is vectorised; the phantom modules convert millimetres to
pixels before calling in. Numpy only, so the imaging layer stays importable without SciPy.
"""

from __future__ import annotations

import numpy as np

# A Gaussian kernel truncated at this many standard deviations keeps > 99.7 % of its weight.
GAUSSIAN_TRUNCATE_SIGMAS = 3.0


def correlated_noise(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Return zero-mean, unit-SD Gaussian noise smoothed with a Gaussian of ``sigma_px``.

    The filtering is done in the Fourier domain, so the field wraps around at the edges; that
    is harmless for texture and makes every correlation length cost the same.

    Args:
        shape: ``(rows, columns)`` of the field.
        sigma_px: correlation length (Gaussian SD) in pixels; 0 gives white noise.
        rng: the random generator to draw from.

    Returns:
        float32 array of ``shape`` with mean 0 and standard deviation 1.
    """
    white = rng.standard_normal(shape)
    if sigma_px > 0:
        frequency_rows = np.fft.fftfreq(shape[0])[:, np.newaxis]
        frequency_columns = np.fft.rfftfreq(shape[1])[np.newaxis, :]
        transfer = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (frequency_rows**2 + frequency_columns**2))
        white = np.fft.irfft2(np.fft.rfft2(white) * transfer, s=shape)
    white -= white.mean()
    return (white / max(float(white.std()), 1e-12)).astype(np.float32)


def gaussian_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Blur a 2-D image with a separable Gaussian, reflecting at the edges (no wrap-around).

    Used for the reconstruction kernel's point-spread function, where wrapping would bleed
    the chest wall into the opposite side of the image.
    """
    if sigma_px <= 0:
        return image.astype(np.float32, copy=True)
    radius = max(1, int(np.ceil(GAUSSIAN_TRUNCATE_SIGMAS * sigma_px)))
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma_px) ** 2)
    weights /= weights.sum()
    result = image.astype(np.float32)
    for axis in (0, 1):
        padding = [(0, 0), (0, 0)]
        padding[axis] = (radius, radius)
        padded = np.pad(result, padding, mode="reflect")
        length = result.shape[axis]
        accumulated = np.zeros_like(result)
        for offset, weight in zip(offsets, weights, strict=True):
            start = radius + offset
            accumulated += weight * np.take(padded, np.arange(start, start + length), axis=axis)
        result = accumulated
    return result


def smoothstep(values: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and ease with 3t^2 - 2t^3: a soft edge without a visible rim."""
    clipped = np.clip(values, 0.0, 1.0)
    return clipped * clipped * (3.0 - 2.0 * clipped)


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rows, columns)`` float32 coordinate arrays of pixel centres, shape ``(size, size)``."""
    coordinates = np.arange(size, dtype=np.float32)
    return np.meshgrid(coordinates, coordinates, indexing="ij")


def draw_segments(
    coverage: np.ndarray, segments: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Rasterise line segments of given width into an anti-aliased coverage map, in place.

    Args:
        coverage: float32 ``(rows, columns)`` map in [0, 1]; each pixel keeps its maximum.
        segments: ``(count, 5)`` rows of ``row0, column0, row1, column1, width`` in pixels. A
            segment of zero length is a disc of diameter ``width`` (a vessel seen end-on).
        weights: optional ``(count,)`` peak coverage per segment (partial volume), default 1.

    Returns:
        ``coverage``, updated.
    """
    size_rows, size_columns = coverage.shape
    for index, (row0, column0, row1, column1, width) in enumerate(segments):
        reach = width / 2.0 + 1.0
        top = max(int(np.floor(min(row0, row1) - reach)), 0)
        bottom = min(int(np.ceil(max(row0, row1) + reach)) + 1, size_rows)
        left = max(int(np.floor(min(column0, column1) - reach)), 0)
        right = min(int(np.ceil(max(column0, column1) + reach)) + 1, size_columns)
        if top >= bottom or left >= right:
            continue
        rows = np.arange(top, bottom, dtype=np.float32)[:, np.newaxis]
        columns = np.arange(left, right, dtype=np.float32)[np.newaxis, :]
        delta_row, delta_column = row1 - row0, column1 - column0
        length_squared = delta_row * delta_row + delta_column * delta_column
        if length_squared > 0:
            along = ((rows - row0) * delta_row + (columns - column0) * delta_column) / length_squared
            along = np.clip(along, 0.0, 1.0)
        else:
            along = np.zeros((1, 1), dtype=np.float32)
        distance = np.hypot(rows - (row0 + along * delta_row), columns - (column0 + along * delta_column))
        # A pixel is fully covered inside the tube, partly within half a pixel of its surface; a
        # tube thinner than a pixel never covers one fully (partial-volume averaging).
        peak = min(width, 1.0) * (1.0 if weights is None else float(weights[index]))
        inside = np.clip(width / 2.0 - distance + 0.5, 0.0, 1.0) * peak
        region = coverage[top:bottom, left:right]
        np.maximum(region, inside, out=region)
    return coverage
