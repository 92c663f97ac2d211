"""Square tiles of a lung slice at a physical size, and the one path from a tile to the model input.

A tile is centred on a cell of a regular grid (the stride); its pixels are a ``side`` x ``side``
crop of the slice, padded with air beyond the image edge. ``model_inputs`` resamples crops in HU
to the model's side (Pillow's bilinear filter) and applies the lung window of
``imaging.scan.to_model_input`` to the whole batch at once; a test holds it equal to that function.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from analysis.errors import AnalysisError
from imaging.hounsfield import hounsfield_window

AIR_HU = -1024


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile: its slice, the cell it labels (row/column slices) and its crop's top-left corner."""

    slice_index: int
    rows: slice
    columns: slice
    top: int
    left: int


def pixels_for(millimetres: float, spacing_mm: float) -> int:
    """Return the whole number of pixels (at least 1) closest to a length at a pixel spacing."""
    return max(1, int(round(millimetres / spacing_mm)))


def check_in_plane(spacing_mm: tuple[float, float, float], field_of_view_mm: float, shape: tuple) -> None:
    """Refuse anisotropic pixels and a field of view that does not fit the image."""
    row_mm, column_mm = spacing_mm[1], spacing_mm[2]
    if abs(row_mm - column_mm) > 0.01 * max(row_mm, column_mm):
        raise AnalysisError(f"pixels are not square ({row_mm:g} x {column_mm:g} mm): ROIs would be distorted")
    if pixels_for(field_of_view_mm, row_mm) > min(shape[1:]):
        raise AnalysisError(
            f"the field of view {field_of_view_mm:g} mm is larger than the image "
            f"({min(shape[1:]) * row_mm:.0f} mm across)"
        )
    if pixels_for(field_of_view_mm, row_mm) < 4:
        raise AnalysisError(f"the field of view {field_of_view_mm:g} mm is under 4 pixels of {row_mm:g} mm")


def lung_slices(lungs: np.ndarray, slice_step: int) -> list[int]:
    """Return every ``slice_step``-th slice index that holds lung, from the lowest."""
    present = np.flatnonzero(lungs.reshape(lungs.shape[0], -1).any(axis=1))
    return [int(index) for index in present[::slice_step]]


def occupied_cells(lung_slice: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the (row, column) grid indices of every ``cell`` x ``cell`` cell holding lung, row-major."""
    rows, columns = lung_slice.shape
    grid_rows, grid_columns = -(-rows // cell), -(-columns // cell)
    padded = np.zeros((grid_rows * cell, grid_columns * cell), dtype=bool)
    padded[:rows, :columns] = lung_slice
    occupied = padded.reshape(grid_rows, cell, grid_columns, cell).any(axis=(1, 3))
    return np.nonzero(occupied)


def tile_slice(lung_slice: np.ndarray, slice_index: int, cell: int, side: int) -> list[Tile]:
    """Return a tile for every ``cell`` x ``cell`` grid cell holding lung, centred on that cell."""
    rows, columns = lung_slice.shape
    tiles = []
    for grid_row, grid_column in zip(*occupied_cells(lung_slice, cell), strict=True):
        top, left = int(grid_row) * cell, int(grid_column) * cell
        tiles.append(
            Tile(
                slice_index,
                slice(top, min(top + cell, rows)),
                slice(left, min(left + cell, columns)),
                top + cell // 2 - side // 2,
                left + cell // 2 - side // 2,
            )
        )
    return tiles


def crop(image: np.ndarray, top: int, left: int, side: int, fill: int) -> np.ndarray:
    """Return the ``side`` x ``side`` crop at ``(top, left)``, ``fill`` outside the image."""
    result = np.full((side, side), fill, dtype=image.dtype)
    rows, columns = image.shape
    source_rows = slice(max(top, 0), min(top + side, rows))
    source_columns = slice(max(left, 0), min(left + side, columns))
    result[
        source_rows.start - top : source_rows.stop - top,
        source_columns.start - left : source_columns.stop - left,
    ] = image[source_rows, source_columns]
    return result


def crop_many(image: np.ndarray, tops: np.ndarray, lefts: np.ndarray, side: int, fill: int) -> np.ndarray:
    """Return the ``(N, side, side)`` crops at ``(tops[i], lefts[i])``, ``fill`` outside the image.

    The same pixels as :func:`crop` for each corner, cut in one indexing step. Corners may lie up
    to ``side`` pixels outside the image (a tile centred on an edge cell reaches half a side out).
    """
    padded = np.pad(image, side, constant_values=fill)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (side, side))
    return windows[np.asarray(tops) + side, np.asarray(lefts) + side]


def resample_hounsfield(hounsfield_crop: np.ndarray, side: int) -> np.ndarray:
    """Resample a square HU crop to ``side`` x ``side`` pixels (bilinear, antialiased), as float32.

    Done in HU, before the lung window, so an ROI stored at a fixed pixel size for training and a
    tile sent to the model go through the same steps.
    """
    image = Image.fromarray(np.asarray(hounsfield_crop, dtype=np.float32), mode="F")
    return np.asarray(image.resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)


def _resample_rows(rows: np.ndarray, side: int) -> np.ndarray:
    """Resample every row of a float32 image to ``side`` pixels: Pillow's horizontal pass alone."""
    image = Image.fromarray(np.ascontiguousarray(rows, dtype=np.float32), mode="F")
    return np.asarray(image.resize((side, rows.shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def resample_many(hounsfield_crops: np.ndarray, side: int) -> np.ndarray:
    """Resample square HU crops ``(N, s, s)`` to ``(N, side, side)``: :func:`resample_hounsfield` on each.

    Pillow resizes a float image in two separable passes, rows then columns, each storing float32.
    Stacking the crops into one tall image gives the row pass of every crop in one call (a row
    never reaches into the next crop); the column pass is the row pass of the transposed
    crops. The same arithmetic, without Pillow's per-call overhead (three quarters of the time
    one crop at a time).
    """
    crops = np.asarray(hounsfield_crops, dtype=np.float32)
    count, source = crops.shape[0], crops.shape[-1]
    if source == side:
        return crops.copy()
    across = _resample_rows(crops.reshape(count * source, source), side).reshape(count, source, side)
    down = _resample_rows(across.transpose(0, 2, 1).reshape(count * side, source), side)
    return down.reshape(count, side, side).transpose(0, 2, 1)


def model_inputs(hounsfield_crops: np.ndarray, image_size: int) -> np.ndarray:
    """Resample HU crops ``(N, s, s)`` to the model's side, then window them: uint8 ``(N, S, S, 1)``.

    The lung window is ``imaging.scan.to_model_input``'s (training, export checks and the client
    use it); with the crops already at the model's side it has nothing left to resize, exactly
    as for a training ROI stored at the model's input size.
    """
    return hounsfield_window(resample_many(hounsfield_crops, image_size))[..., np.newaxis]


def model_input(hounsfield_crop: np.ndarray, image_size: int) -> np.ndarray:
    """One HU crop to the model's input, uint8 ``(S, S, 1)``: :func:`model_inputs` for one ROI."""
    return model_inputs(np.asarray(hounsfield_crop)[np.newaxis], image_size)[0]
