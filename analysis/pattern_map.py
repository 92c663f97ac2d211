"""Classify every lung tile of a study through the served model and paint the pattern map.

Tiles stream in chunks of the model's ``max_batch_size`` times the client's concurrency, so a
full-size study (tens of thousands of tiles) never holds more than one chunk of model inputs.
Each tile paints its cell, intersected with the lung mask: the map is 0 outside the lungs and
on slices not analysed, else 1 NT, 2 CLE, 3 PSE, 4 PLE (the contract's class order plus one).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from analysis.tiles import AIR_HU, crop_many, lung_slices, model_inputs, occupied_cells, pixels_for
from client.contract import ModelInfo
from client.triton import TritonClassifier
from imaging.contract import CLASS_NAMES


@dataclasses.dataclass(frozen=True)
class PatternMap:
    """The map, the slices it covers, how it was made and where its time went.

    ``seconds``: ``inference`` (the classifier's calls), ``paint`` (labels onto the map) and
    ``tile`` (the rest: the tile grid, crops, resampling and the lung window).
    """

    labels: np.ndarray
    analysed_slices: tuple[int, ...]
    tiles: int
    tile_side_px: int
    cell_px: int
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def paint(
    lungs: np.ndarray, slices: list[int], cells: list[tuple], tile_labels: np.ndarray, cell: int
) -> np.ndarray:
    """Return the map: each tile's label (1-4) on the lung voxels of its cell, 0 elsewhere."""
    labels = np.zeros(lungs.shape, dtype=np.uint8)
    rows, columns = lungs.shape[1:]
    grid_shape = (-(-rows // cell), -(-columns // cell))
    start = 0
    for index, (grid_rows, grid_columns) in zip(slices, cells, strict=True):
        grid = np.zeros(grid_shape, dtype=np.uint8)
        grid[grid_rows, grid_columns] = tile_labels[start : start + len(grid_rows)]
        start += len(grid_rows)
        # Each grid value over its cell's pixels, cut to the image, kept on the lung only.
        painted = np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)[:rows, :columns]
        labels[index] = np.where(lungs[index] > 0, painted, 0)
    return labels


def build_pattern_map(
    hounsfield: np.ndarray,
    lungs: np.ndarray,
    spacing_mm: float,
    field_of_view_mm: float,
    stride_mm: float,
    slice_step: int,
    classifier: TritonClassifier,
    info: ModelInfo,
    quiet: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PatternMap:
    """Tile the lung slices, classify every tile once through Triton and return the pattern map.

    ``progress(done, total)`` is called with 0 before the first request and after every chunk
    (the web page draws its progress bar with it).
    """
    started = time.perf_counter()
    side, cell = pixels_for(field_of_view_mm, spacing_mm), pixels_for(stride_mm, spacing_mm)
    slices = lung_slices(lungs, slice_step)
    cells = [occupied_cells(lungs[index] > 0, cell) for index in slices]
    # One row per tile: its slice, and its crop's top-left corner (the cell's centre minus half a side).
    tile_slices = np.concatenate(
        [np.full(len(grid[0]), index) for index, grid in zip(slices, cells, strict=True)]
    )
    tops = np.concatenate([grid[0] for grid in cells]) * cell + cell // 2 - side // 2
    lefts = np.concatenate([grid[1] for grid in cells]) * cell + cell // 2 - side // 2
    tile_labels = np.zeros(len(tile_slices), dtype=np.uint8)
    group = info.max_batch_size * max(classifier.settings.concurrency, 1)
    inference = 0.0
    if progress is not None:
        progress(0, len(tile_slices))
    with tqdm(total=len(tile_slices), desc="Classifying tiles", unit="tile", disable=quiet) as bar:
        for start in range(0, len(tile_slices), group):
            chunk = slice(start, start + group)
            crops = np.concatenate(
                [
                    crop_many(hounsfield[index], tops[chunk][mask], lefts[chunk][mask], side, AIR_HU)
                    for index in np.unique(tile_slices[chunk])
                    for mask in [tile_slices[chunk] == index]
                ]
            )
            images = model_inputs(crops, info.image_size)
            before = time.perf_counter()
            predictions = classifier.classify(images, info.name)
            inference += time.perf_counter() - before
            tile_labels[chunk] = [CLASS_NAMES.index(prediction.label) + 1 for prediction in predictions]
            bar.update(len(images))
            if progress is not None:
                progress(bar.n, len(tile_slices))
    painting = time.perf_counter()
    labels = paint(lungs, slices, cells, tile_labels, cell)
    ended = time.perf_counter()
    seconds = {
        "tile": painting - started - inference,
        "inference": inference,
        "paint": ended - painting,
    }
    return PatternMap(labels, tuple(slices), len(tile_slices), side, cell, seconds)
