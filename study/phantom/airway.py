"""The trachea and main bronchi of the study phantom, drawn slice by slice."""

from __future__ import annotations

import numpy as np

from study.phantom.chest import Chest


def _segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Distance of ``(..., 3)`` points to a segment, and the unclamped position along it."""
    direction = end - start
    along = ((points - start) @ direction) / float(direction @ direction)
    nearest = start + np.clip(along, 0.0, 1.0)[..., np.newaxis] * direction
    return np.linalg.norm(points - nearest, axis=-1), along


def airway_parts(chest: Chest, x, y, z: float, wall: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(lumen, wall)`` masks of the trachea and main bronchi in one axial slice.

    The bronchi end open (no wall across their far end), so their lumen meets the lung air as
    it does at a real hilum.
    """
    lumen = np.zeros(np.broadcast(x, y).shape, dtype=bool)
    walls = np.zeros_like(lumen)
    carina = chest.carina
    if z >= carina[2]:
        distance = np.hypot(x - carina[0], y - carina[1])
        lumen |= distance < chest.trachea_radius
        walls |= distance < chest.trachea_radius + wall
    points = np.stack(np.broadcast_arrays(x, y, np.full_like(x, z)), axis=-1)
    for side, radius in ((-1, chest.bronchus_radius), (1, 0.9 * chest.bronchus_radius)):
        hilum = chest.hilum(side)
        if not min(carina[2], hilum[2]) - radius <= z <= max(carina[2], hilum[2]) + radius:
            continue
        distance, along = _segment_distance(points, carina, hilum)
        lumen |= distance < radius
        walls |= (distance < radius + wall) & (along <= 1.0)
    return lumen, walls & ~lumen
