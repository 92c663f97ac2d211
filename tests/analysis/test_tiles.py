"""The batch tile path equals the one-tile path: grid, crops, model inputs, painting.

The pattern map cuts, resamples and windows whole chunks of tiles at once and paints the map a
slice at a time; each is checked against the plain per-tile definition it replaced (and model
inputs against `imaging.scan.to_model_input`, the pixel path training and the client use).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.edge_tiles import paint, tile_lung_shares
from analysis.tiles import (
    AIR_HU,
    crop,
    crop_many,
    model_input,
    model_inputs,
    occupied_cells,
    resample_hounsfield,
    resample_many,
    tile_slice,
)
from imaging.scan import Scan, to_model_input


def _random_lung(rng, shape) -> np.ndarray:
    """A blotchy mask: random rectangles, so cells are partly, wholly and not at all covered."""
    mask = np.zeros(shape, dtype=bool)
    for _ in range(6):
        top, left = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        mask[top : top + rng.integers(3, 40), left : left + rng.integers(3, 40)] = True
    return mask


def test_the_tile_grid_holds_exactly_the_cells_that_hold_lung():
    rng = np.random.default_rng(3)
    lung = _random_lung(rng, (97, 83))  # not a multiple of the cell: the last cells are cut short
    cell, side = 7, 20
    expected = [
        (top, left)
        for top in range(0, 97, cell)
        for left in range(0, 83, cell)
        if lung[top : top + cell, left : left + cell].any()
    ]
    tiles = tile_slice(lung, 5, cell, side)
    assert [(tile.rows.start, tile.columns.start) for tile in tiles] == expected
    rows, columns = occupied_cells(lung, cell)
    assert list(zip(rows * cell, columns * cell, strict=True)) == expected
    for tile in tiles:
        assert tile.slice_index == 5
        assert tile.rows.stop == min(tile.rows.start + cell, 97)
        assert (tile.top, tile.left) == (
            tile.rows.start + cell // 2 - side // 2,
            tile.columns.start + cell // 2 - side // 2,
        )


def test_many_crops_at_once_are_the_single_crops_padded_with_air():
    rng = np.random.default_rng(4)
    image = rng.integers(-1000, 400, size=(40, 50)).astype(np.int16)
    side = 16
    tops = np.array([-side, -3, 0, 10, 30, 40 - side // 2])
    lefts = np.array([-side // 2, 45, 0, 17, -1, 50 - side])
    crops = crop_many(image, tops, lefts, side, AIR_HU)
    for index, (top, left) in enumerate(zip(tops, lefts, strict=True)):
        assert np.array_equal(crops[index], crop(image, int(top), int(left), side, AIR_HU))
    assert (crops[0] == AIR_HU).sum() > 0


@pytest.mark.parametrize(("source", "target"), [(57, 64), (85, 32), (64, 64), (40, 64), (100, 37)])
def test_model_inputs_are_the_lung_window_of_the_resampled_crops(source, target):
    rng = np.random.default_rng(source)
    crops = rng.integers(-1100, 300, size=(12, source, source)).astype(np.int16)
    resampled = resample_many(crops, target)
    # Stacked into one image per pass, the crops still resample exactly as one at a time.
    assert np.array_equal(resampled, np.stack([resample_hounsfield(one, target) for one in crops]))
    inputs = model_inputs(crops, target)
    assert inputs.shape == (12, target, target, 1) and inputs.dtype == np.uint8
    for index, one_crop in enumerate(crops):
        # The pixel path of training and the client: HU resampled (as training ROIs), then windowed.
        expected = to_model_input(Scan(resample_hounsfield(one_crop, target), True, "tile"), target)
        assert np.array_equal(inputs[index], expected)
        assert np.array_equal(model_input(one_crop, target), expected)


def test_lung_shares_count_each_window_as_its_crop_does_past_the_edge_too():
    rng = np.random.default_rng(6)
    lungs = np.stack([_random_lung(rng, (45, 38)).astype(np.uint8) * label for label in (1, 2, 0, 1)])
    cell, side = 5, 14  # windows reach past every edge
    tiles = [tile for index in (0, 1, 3) for tile in tile_slice(lungs[index] > 0, index, cell, side)]
    expected = [crop(lungs[tile.slice_index] > 0, tile.top, tile.left, side, False).mean() for tile in tiles]
    assert np.allclose(tile_lung_shares(lungs, tiles, side), expected, rtol=0, atol=1e-12)
    assert min(expected) < 0.75 < max(expected)


def test_painting_puts_each_tile_label_on_the_lung_voxels_of_its_cell():
    rng = np.random.default_rng(5)
    lungs = np.stack([_random_lung(rng, (45, 38)).astype(np.uint8) * 2 for _ in range(4)])
    cell, side, slices = 6, 10, [0, 2, 3]
    tiles = [tile for index in slices for tile in tile_slice(lungs[index] > 0, index, cell, side)]
    tile_labels = rng.integers(1, 5, size=len(tiles)).astype(np.uint8)
    painted = paint(lungs.shape, lungs, tiles, tile_labels)
    expected = np.zeros_like(painted)
    position = 0
    for index in slices:
        rows, columns = occupied_cells(lungs[index] > 0, cell)
        for row, column in zip(rows, columns, strict=True):
            block = np.s_[index, row * cell : (row + 1) * cell, column * cell : (column + 1) * cell]
            expected[block] = np.where(lungs[block] > 0, tile_labels[position], 0)
            position += 1
    assert position == len(tiles)
    assert np.array_equal(painted, expected)
    assert not painted[1].any()  # a slice not analysed stays 0
    for index in slices:  # every lung voxel of an analysed slice carries a label
        assert painted[index][lungs[index] > 0].all()
