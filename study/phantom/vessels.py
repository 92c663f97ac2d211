"""The pulmonary vessel trees of a study: 3-D branching tubes from each hilum to the pleura.

The growth rule is the slice phantom's (``imaging.phantom.anatomy.grow_vessel_tree``) in 3-D:
a parent runs on almost straight, a thinner side branch leaves at a wider angle, headings turn
part of the way back outwards, and a branch that leaves the lung ends. Each axial slice draws
the part of every tube that crosses it with the slice phantom's anti-aliased ``draw_segments``.
"""

from __future__ import annotations

import numpy as np

from imaging.phantom.fields import draw_segments
from study.phantom.chest import Chest, lung_side
from study.phantom.settings import StudySettings

RETRIES = 6


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def _turn(heading: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """Return a unit vector ``angle`` radians away from ``heading`` in a random direction."""
    helper = _unit(np.cross(heading, rng.standard_normal(3)))
    return _unit(np.cos(angle) * heading + np.sin(angle) * helper)


def grow_vessels(chest: Chest, lung_volume_mm3: float, rng: np.random.Generator, settings: StudySettings):
    """Return ``(count, 7)`` tubes ``x0, y0, z0, x1, y1, z1, radius`` in mm, both lungs."""
    tissue = settings.tissue
    budget = chest.vessel_volume_share * lung_volume_mm3
    minimum_radius = tissue.vessel_min_width_mm / 2.0
    tubes: list[tuple[float, ...]] = []
    volume = 0.0
    for side in (-1, 1):
        hilum = chest.hilum(side) + np.array([side * 6.0, 0.0, 0.0])
        stack = []
        for heading in (
            [0, 0, 1],
            [0, 0, -1],
            [side, 0, 0.6],
            [side, 0, -0.6],
            [side, -0.8, 0],
            [side, 0.8, 0],
            [side * 0.4, -0.6, 0.8],
            [side * 0.4, 0.6, 0.8],
            [side * 0.4, -0.6, -0.8],
            [side * 0.4, 0.6, -0.8],
        ):
            radius = rng.uniform(*settings.vessel_root_radius_mm) * 0.8
            stack.append((hilum, _turn(_unit(np.array(heading, float)), 0.2, rng), radius, 0.0))
        side_volume, side_budget = 0.0, budget / 2.0
        while stack and side_volume < side_budget and len(tubes) < settings.vessel_max_segments:
            start, heading, radius, stop = stack.pop(0)  # breadth first: the tree fills evenly
            # Half the slice phantom's length: a 3-D tree must turn within a lung 10-15 cm across.
            length = radius * rng.uniform(*tissue.vessel_length_to_width)
            end = start + length * heading
            for _ in range(RETRIES):  # a branch about to leave the lung bends away from the pleura
                if lung_side(chest, *end) != 0:
                    break
                heading = _turn(heading, np.deg2rad(35.0), rng)
                end = start + length * heading
            else:
                continue
            tubes.append((*start, *end, radius))
            side_volume += np.pi * radius**2 * length
            if radius < minimum_radius or rng.random() < stop:
                continue
            outward = _unit(np.array([side * 1.0, 0.0, 0.0]) + 0.6 * _unit(end - hilum))
            heading = _unit(heading + tissue.vessel_outward_pull * (outward - heading))
            angle = np.deg2rad(rng.uniform(*tissue.vessel_branch_angle_deg))
            stack.append(
                (
                    end,
                    _turn(heading, angle / 4.0, rng),
                    radius * tissue.vessel_width_ratio[1],
                    tissue.vessel_stop_probability,
                )
            )
            stack.append(
                (
                    end,
                    _turn(heading, angle, rng),
                    radius * rng.uniform(*tissue.vessel_width_ratio),
                    tissue.vessel_side_stop_probability,
                )
            )
        volume += side_volume
    return np.asarray(tubes, dtype=np.float64).reshape(-1, 7)


def thin_for_panlobular(tubes: np.ndarray, extent: float, rng: np.random.Generator, settings: StudySettings):
    """Panlobular emphysema prunes the thin vessels and thins the rest (slice phantom's rule)."""
    tissue = settings.tissue
    thinness = 1.0 - tubes[:, 6] / max(float(tubes[:, 6].max()), 1e-6)
    kept = tubes[rng.random(len(tubes)) >= tissue.ple_vessel_pruning * extent * 2.0 * thinness].copy()
    kept[:, 6] *= 1.0 - tissue.ple_vessel_thinning * extent
    return kept


def draw_vessel_slice(tubes: np.ndarray, z: float, half_slab: float, to_pixel) -> np.ndarray:
    """Return the vessel coverage (0..1) of the axial slice at ``z``.

    Each tube is clipped to the slab ``z +- (half_slab + radius)``; what is left is drawn as a 2-D
    segment of the tube's width, which is the section of a slanted cylinder seen by a slice.
    """
    z0, z1, radius = tubes[:, 2], tubes[:, 5], tubes[:, 6]
    reach = half_slab + radius
    crossing = (np.minimum(z0, z1) <= z + reach) & (np.maximum(z0, z1) >= z - reach)
    chosen = tubes[crossing]
    rise = chosen[:, 5] - chosen[:, 2]
    flat = np.abs(rise) < 1e-6
    safe_rise = np.where(flat, 1.0, rise)
    reach = reach[crossing]
    low = np.where(flat, 0.0, np.clip((z - reach - chosen[:, 2]) / safe_rise, 0.0, 1.0))
    high = np.where(flat, 1.0, np.clip((z + reach - chosen[:, 2]) / safe_rise, 0.0, 1.0))
    first, last = np.minimum(low, high), np.maximum(low, high)
    start = chosen[:, 0:2] + first[:, np.newaxis] * (chosen[:, 3:5] - chosen[:, 0:2])
    end = chosen[:, 0:2] + last[:, np.newaxis] * (chosen[:, 3:5] - chosen[:, 0:2])
    rows0, columns0 = to_pixel(start)
    rows1, columns1 = to_pixel(end)
    pixel = to_pixel.spacing
    segments = np.column_stack([rows0, columns0, rows1, columns1, 2.0 * chosen[:, 6] / pixel])
    return draw_segments(np.zeros(to_pixel.shape, dtype=np.float32), segments)
