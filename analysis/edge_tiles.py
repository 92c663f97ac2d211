"""Tiles at the lung edge: which ones a region model may classify, and what labels the others' cells.

A region model learnt from ROIs that are at least 75 % lung (``RoiSettings.minimum_lung_share``);
a tile at the lung edge holds chest wall or mediastinum, which it never saw. Such a tile is not
classified: its cell takes the label of the nearest classified tile on the same slice, so the
map still covers the lung and no answer comes from an image unlike the training data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.tiles import Tile


def tile_lung_shares(lungs: np.ndarray, tiles: Sequence[Tile], side: int) -> np.ndarray:
    """Return the share of lung pixels in each tile's ``side`` x ``side`` window (outside the image: none).

    Counted with a summed-area table of each slice, padded by ``side`` so windows reaching past the
    edge count nothing there: four lookups a tile instead of a crop (tens of thousands a study).
    """
    shares = np.zeros(len(tiles), dtype=np.float64)
    slices = np.array([tile.slice_index for tile in tiles], dtype=np.int64)
    tops = np.array([tile.top for tile in tiles], dtype=np.int64) + side
    lefts = np.array([tile.left for tile in tiles], dtype=np.int64) + side
    for slice_index in np.unique(slices):
        padded = np.pad(lungs[slice_index] > 0, side)
        table = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = padded.cumsum(axis=0).cumsum(axis=1)
        on_slice = slices == slice_index
        top, left = tops[on_slice], lefts[on_slice]
        bottom, right = top + side, left + side
        counts = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
        shares[on_slice] = counts / side**2
    return shares


def fill_from_nearest(tiles: Sequence[Tile], labels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Return every tile's label: its own where ``known``, else the nearest known tile's on its slice.

    Distances are between tile positions (all tiles share one side, so their corners stand for their
    centres). A slice without a known tile leaves its tiles at 0 (unlabelled).
    """
    result = np.where(known, labels, 0).astype(labels.dtype)
    if known.all() or not len(tiles):
        return result
    slices = np.array([tile.slice_index for tile in tiles])
    positions = np.array([(tile.top, tile.left) for tile in tiles], dtype=np.float64)
    for slice_index in np.unique(slices[~known]):
        on_slice = slices == slice_index
        sources, targets = np.flatnonzero(on_slice & known), np.flatnonzero(on_slice & ~known)
        if not len(sources):
            continue
        distances = ((positions[targets, None, :] - positions[None, sources, :]) ** 2).sum(axis=-1)
        result[targets] = labels[sources[distances.argmin(axis=1)]]
    return result


def paint(shape: tuple[int, ...], lungs: np.ndarray, tiles: Sequence[Tile], labels: np.ndarray) -> np.ndarray:
    """Return a uint8 map: each tile's label on the lung voxels of its cell, 0 elsewhere."""
    painted = np.zeros(shape, dtype=np.uint8)
    for tile, label in zip(tiles, labels, strict=True):
        cell_lung = lungs[tile.slice_index, tile.rows, tile.columns] > 0
        painted[tile.slice_index, tile.rows, tile.columns][cell_lung] = label
    return painted
