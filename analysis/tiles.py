"""Square tiles of a lung slice at a physical size, and the one path from a tile to the model input.

A tile is centred on a cell of a regular grid (the stride); its pixels are a ``side`` x ``side``
crop of the slice, padded with air beyond the image edge. ``model_input`` resamples the crop in HU
to the model's side and sends it through ``imaging.scan.to_model_input``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from analysis.errors import AnalysisError
from imaging.scan import Scan, to_model_input

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


def tile_slice(lung_slice: np.ndarray, slice_index: int, cell: int, side: int) -> list[Tile]:
    """Return a tile for every ``cell`` x ``cell`` grid cell holding lung, centred on that cell."""
    tiles = []
    rows, columns = lung_slice.shape
    for top in range(0, rows, cell):
        for left in range(0, columns, cell):
            cell_rows, cell_columns = (
                slice(top, min(top + cell, rows)),
                slice(left, min(left + cell, columns)),
            )
            if lung_slice[cell_rows, cell_columns].any():
                centre_row, centre_column = top + cell // 2, left + cell // 2
                tiles.append(
                    Tile(
                        slice_index,
                        cell_rows,
                        cell_columns,
                        centre_row - side // 2,
                        centre_column - side // 2,
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


def resample_hounsfield(hounsfield_crop: np.ndarray, side: int) -> np.ndarray:
    """Resample a square HU crop to ``side`` x ``side`` pixels (bilinear, antialiased), as float32.

    Done in HU, before the lung window, so an ROI stored at a fixed pixel size for training and a
    tile sent to the model go through the same steps.
    """
    image = Image.fromarray(np.asarray(hounsfield_crop, dtype=np.float32), mode="F")
    return np.asarray(image.resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)


def model_input(hounsfield_crop: np.ndarray, image_size: int) -> np.ndarray:
    """Resample one HU crop to the model's side, then window it: uint8 ``(S, S, 1)``.

    ``to_model_input`` (the function training, export checks and the client use) then has
    nothing left to resize, exactly as for a training ROI stored at the model's input size.
    """
    pixels = resample_hounsfield(hounsfield_crop, image_size)
    return to_model_input(Scan(pixels=pixels, is_hounsfield=True, source="tile"), image_size)
