"""Classify every lung tile of a study through the served model and paint the pattern map.

Tiles stream in chunks of the model's ``max_batch_size`` times the client's concurrency, so a
full-size study (tens of thousands of tiles) never holds more than one chunk of model inputs.
Each tile paints its cell, intersected with the lung mask: the map is 0 outside the lungs and
on slices not analysed, else 1 NT, 2 CLE, 3 PSE, 4 PLE (the contract's class order plus one).
Tiles with less lung than ``minimum_lung_share`` are not classified: their cells take the
nearest classified tile's label (``analysis.edge_tiles``). A model with a density reference
sees the study shifted to it (``analysis.density_reference``), as its training ROIs were.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from analysis.density_reference import density_shift_hu, shift_hounsfield
from analysis.edge_tiles import fill_from_nearest, paint, tile_lung_shares
from analysis.tiles import AIR_HU, Tile, crop_many, lung_slices, model_inputs, pixels_for, tile_slice
from client.contract import ModelInfo
from client.triton import TritonClassifier
from imaging.contract import CLASS_NAMES


@dataclasses.dataclass(frozen=True)
class PatternMap:
    """The map, the slices it covers and how it was made.

    Attributes:
        labels: uint8, the volume's shape: 0 outside the lungs and unlabelled, else 1..4.
        analysed_slices: the slice indices tiled.
        tiles: tiles classified through the model (one inference each).
        tile_side_px: the side of a tile's window in the study's pixels.
        cell_px: the side of the cell each tile labels.
        grid: every tile of the analysed slices, classified or not.
        grid_labels: each grid tile's label (1..4; 0 when its slice had no classified tile).
        classified: which grid tiles went through the model (the others took a neighbour's label).
        seconds: ``inference`` (the classifier's calls), ``paint`` (labels onto the map, edge
            cells filled) and ``tile`` (the rest: the density shift, the tile grid, crops,
            resampling, lung window).
        density_shift_hu: the HU added to the study before tiling (its density reference moved
            to the model's); None for a model that takes raw HU.
    """

    labels: np.ndarray
    analysed_slices: tuple[int, ...]
    tiles: int
    tile_side_px: int
    cell_px: int
    grid: tuple[Tile, ...] = ()
    grid_labels: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    classified: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=bool))
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    density_shift_hu: int | None = None

    @property
    def filled_tiles(self) -> int:
        """Grid tiles labelled from a neighbour (too little lung to classify)."""
        return int((~self.classified).sum())


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """The tiles of a study: every grid tile of the analysed slices, and which ones to classify."""

    slices: tuple[int, ...]
    grid: tuple[Tile, ...]
    side: int
    cell: int
    classified: np.ndarray


def plan_tiles(
    lungs: np.ndarray,
    spacing_mm: float,
    field_of_view_mm: float,
    stride_mm: float,
    slice_step: int,
    minimum_lung_share: float = 0.0,
) -> TilePlan:
    """Return the tiles of every ``slice_step``-th lung slice; those with enough lung are to classify."""
    side, cell = pixels_for(field_of_view_mm, spacing_mm), pixels_for(stride_mm, spacing_mm)
    slices = lung_slices(lungs, slice_step)
    grid = tuple(tile for index in slices for tile in tile_slice(lungs[index] > 0, index, cell, side))
    classified = tile_lung_shares(lungs, grid, side) >= minimum_lung_share
    return TilePlan(tuple(slices), grid, side, cell, classified)


def assemble_pattern_map(plan: TilePlan, lungs: np.ndarray, own_labels: np.ndarray) -> PatternMap:
    """Return the map from the classified tiles' labels (1..4; others ignored), edge cells filled."""
    grid_labels = fill_from_nearest(plan.grid, own_labels, plan.classified)
    labels = paint(lungs.shape, lungs, plan.grid, grid_labels)
    count = int(plan.classified.sum())
    return PatternMap(
        labels, plan.slices, count, plan.side, plan.cell, plan.grid, grid_labels, plan.classified
    )


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
    minimum_lung_share: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> PatternMap:
    """Tile the lung slices, classify every tile with enough lung once through Triton, paint the map.

    ``progress(done, total)`` is called with 0 before the first request and after every chunk
    (the web page draws its progress bar with it).
    """
    started = time.perf_counter()
    shift = None
    if info.density_reference_hu is not None:
        shift = density_shift_hu(hounsfield, lungs, info.density_reference_hu)

    def slice_as_learnt(index: int) -> np.ndarray:
        """One slice's HU as the model learnt them: shifted to its reference, if it has one."""
        return hounsfield[index] if shift is None else shift_hounsfield(hounsfield[index], shift)

    plan = plan_tiles(lungs, spacing_mm, field_of_view_mm, stride_mm, slice_step, minimum_lung_share)
    positions = np.flatnonzero(plan.classified)
    # The grid runs slice by slice from the lowest, so grouping a chunk's tiles by slice keeps
    # their order: the crops of one slice are cut in one indexing step.
    slice_of = np.array([plan.grid[index].slice_index for index in positions], dtype=np.int64)
    tops = np.array([plan.grid[index].top for index in positions], dtype=np.int64)
    lefts = np.array([plan.grid[index].left for index in positions], dtype=np.int64)
    own_labels = np.zeros(len(plan.grid), dtype=np.uint8)
    group = info.max_batch_size * max(classifier.settings.concurrency, 1)
    inference = 0.0
    if progress is not None:
        progress(0, len(positions))
    with tqdm(total=len(positions), desc="Classifying tiles", unit="tile", disable=quiet) as bar:
        for start in range(0, len(positions), group):
            chunk = slice(start, start + group)
            crops = np.concatenate(
                [
                    crop_many(
                        slice_as_learnt(index), tops[chunk][mask], lefts[chunk][mask], plan.side, AIR_HU
                    )
                    for index in np.unique(slice_of[chunk])
                    for mask in [slice_of[chunk] == index]
                ]
            )
            images = model_inputs(crops, info.image_size)
            before = time.perf_counter()
            predictions = classifier.classify(images, info.name)
            inference += time.perf_counter() - before
            own_labels[positions[chunk]] = [
                CLASS_NAMES.index(prediction.label) + 1 for prediction in predictions
            ]
            bar.update(len(images))
            if progress is not None:
                progress(bar.n, len(positions))
    painting = time.perf_counter()
    pattern_map = assemble_pattern_map(plan, lungs, own_labels)
    ended = time.perf_counter()
    seconds = {"tile": painting - started - inference, "inference": inference, "paint": ended - painting}
    return dataclasses.replace(pattern_map, seconds=seconds, density_shift_hu=shift)
