"""Classify every lung tile of a study through the served model and paint the pattern map.

Tiles stream in chunks of the model's ``max_batch_size`` times the client's concurrency, so a
full-size study (tens of thousands of tiles) never holds more than one chunk of model inputs.
Each tile paints its cell, intersected with the lung mask: the map is 0 outside the lungs and
on slices not analysed, else 1 NT, 2 CLE, 3 PSE, 4 PLE (the contract's class order plus one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np
from tqdm.auto import tqdm

from analysis.tiles import AIR_HU, Tile, crop, lung_slices, model_input, pixels_for, tile_slice
from client.contract import ModelInfo
from client.triton import TritonClassifier
from imaging.contract import CLASS_NAMES


@dataclasses.dataclass(frozen=True)
class PatternMap:
    """The map, the slices it covers and how it was made."""

    labels: np.ndarray
    analysed_slices: tuple[int, ...]
    tiles: int
    tile_side_px: int
    cell_px: int


def _chunks(tiles: list[Tile], size: int) -> Iterator[list[Tile]]:
    for start in range(0, len(tiles), size):
        yield tiles[start : start + size]


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
    side, cell = pixels_for(field_of_view_mm, spacing_mm), pixels_for(stride_mm, spacing_mm)
    slices = lung_slices(lungs, slice_step)
    tiles = [tile for index in slices for tile in tile_slice(lungs[index] > 0, index, cell, side)]
    labels = np.zeros(lungs.shape, dtype=np.uint8)
    group = info.max_batch_size * max(classifier.settings.concurrency, 1)
    done = 0
    if progress is not None:
        progress(done, len(tiles))
    with tqdm(total=len(tiles), desc="Classifying tiles", unit="tile", disable=quiet) as bar:
        for chunk in _chunks(tiles, group):
            images = np.stack(
                [
                    model_input(
                        crop(hounsfield[tile.slice_index], tile.top, tile.left, side, AIR_HU), info.image_size
                    )
                    for tile in chunk
                ]
            )
            predictions = classifier.classify(images, info.name)
            for tile, prediction in zip(chunk, predictions, strict=True):
                cell_lung = lungs[tile.slice_index, tile.rows, tile.columns] > 0
                label = CLASS_NAMES.index(prediction.label) + 1
                labels[tile.slice_index, tile.rows, tile.columns][cell_lung] = label
            bar.update(len(chunk))
            done += len(chunk)
            if progress is not None:
                progress(done, len(tiles))
    return PatternMap(labels, tuple(slices), len(tiles), side, cell)
