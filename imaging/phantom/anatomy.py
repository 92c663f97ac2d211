"""The phantom's normal anatomy: pleura and chest wall, fissure, lobules and the vessel tree.

Patient-level structure comes from the patient's anatomy generator (so every slice of a
patient shares it); the per-slice generator only nudges it, like neighbouring slices do.
All geometry is in pixels; ``settings.to_pixels`` converts the millimetre settings.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imaging.phantom.fields import correlated_noise, draw_segments, pixel_grid
from imaging.phantom.settings import PhantomSettings

# Where the pleura or fissure is absent, its distance is "far away" (pixels).
FAR_AWAY_PX = 1.0e6
# How far lobule borders wander from the Voronoi lines, as a share of the lobule spacing.
LOBULE_WARP = 0.12


@dataclasses.dataclass(frozen=True)
class Boundaries:
    """Where the lung ends in one slice.

    Attributes:
        lung_mask: bool ``(S, S)``, True inside the lung (not chest wall).
        pleural_depth: float ``(S, S)`` pixels from the pleura, positive in the lung,
            negative in the chest wall, ``FAR_AWAY_PX`` without chest wall in view.
        fissure_offset: float ``(S, S)`` signed pixels from the fissure, ``FAR_AWAY_PX`` if none.
        outward: unit ``(row, column)`` direction from the hilum towards the chest wall.
        curves: polylines ``(points (n, 2), inward normals (n, 2))`` along which paraseptal
            cysts can sit: the pleura and/or both faces of the fissure.
    """

    lung_mask: np.ndarray
    pleural_depth: np.ndarray
    fissure_offset: np.ndarray
    outward: np.ndarray
    curves: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def pleural_distance(self) -> np.ndarray:
        """Pixels to the nearest pleural surface (costal pleura or fissure)."""
        return np.minimum(np.abs(self.pleural_depth), np.abs(self.fissure_offset))


def build_boundaries(traits, rng: np.random.Generator, settings: PhantomSettings) -> Boundaries:
    """Place the pleura (a large circle, convex outwards) and the fissure for one slice."""
    size = settings.image_size
    rows, columns = pixel_grid(size)
    centre = (size - 1) / 2.0
    jitter = settings.to_pixels(settings.slice_wall_jitter_mm)
    angle = traits.wall_angle + rng.normal(0.0, jitter / size)
    outward = np.array([np.sin(angle), np.cos(angle)])
    curves = []
    pleural_depth = np.full((size, size), FAR_AWAY_PX, dtype=np.float32)
    if traits.chest_wall:
        radius = settings.to_pixels(traits.pleural_radius_mm)
        half_width = size / 2.0 / max(abs(outward[0]), abs(outward[1]))
        depth = settings.to_pixels(traits.chest_wall_depth_mm) + rng.normal(0.0, jitter)
        pleural_point = centre + outward * (half_width - depth)
        circle_centre = pleural_point - outward * radius
        pleural_depth = (radius - np.hypot(rows - circle_centre[0], columns - circle_centre[1])).astype(
            np.float32
        )
        sweep = np.linspace(-np.pi / 2, np.pi / 2, 2 * size) * min(1.0, 1.5 * size / radius)
        directions = np.stack([np.sin(angle + sweep), np.cos(angle + sweep)], axis=1)
        curves.append((circle_centre + radius * directions, -directions))
    fissure_offset = np.full((size, size), FAR_AWAY_PX, dtype=np.float32)
    if traits.fissure:
        tangent = np.array([np.sin(traits.fissure_angle), np.cos(traits.fissure_angle)])
        normal = np.array([-tangent[1], tangent[0]])
        anchor = centre + normal * traits.fissure_offset * size + rng.normal(0.0, jitter, 2)
        along = (rows - anchor[0]) * tangent[0] + (columns - anchor[1]) * tangent[1]
        across = (rows - anchor[0]) * normal[0] + (columns - anchor[1]) * normal[1]
        curvature = traits.fissure_curvature / size
        fissure_offset = (across - curvature * along**2).astype(np.float32)
        steps = np.linspace(-0.75, 0.75, 2 * size)[:, np.newaxis] * size
        points = anchor + steps * tangent + (curvature * steps**2) * normal
        slope = 2.0 * curvature * steps
        normals = (normal - slope * tangent) / np.sqrt(1.0 + slope**2)
        curves += [(points + normals * 0.5, normals), (points - normals * 0.5, -normals)]
    lung_mask = pleural_depth > 0
    return Boundaries(lung_mask, pleural_depth, fissure_offset, outward, tuple(curves))


def chest_wall_hounsfield(
    traits, boundaries: Boundaries, rng: np.random.Generator, settings: PhantomSettings
) -> np.ndarray:
    """Return HU of the chest wall by depth beyond the pleura: fat, intercostal muscle, ribs."""
    size = settings.image_size
    depth_mm = -boundaries.pleural_depth * settings.pixel_spacing_mm
    wobble = correlated_noise((size, size), settings.to_pixels(3.0), rng) * 0.6
    fat_end = traits.extrapleural_fat_mm + wobble
    muscle_end = fat_end + traits.intercostal_muscle_mm + 1.5 * wobble
    wall = np.where((depth_mm > fat_end) & (depth_mm < muscle_end), settings.muscle_hu, settings.fat_hu)
    wall = np.where(depth_mm < settings.pixel_spacing_mm, settings.muscle_hu, wall)  # the pleura itself
    wall = wall + settings.soft_tissue_texture_hu * correlated_noise((size, size), 1.0, rng)
    rows, columns = pixel_grid(size)
    for rib in traits.ribs:
        # Each rib sits in the muscle layer; its along-wall position drifts a little per slice.
        offset, rib_depth_mm, radius_mm = rib
        tangent = np.array([-boundaries.outward[1], boundaries.outward[0]])
        position = (size - 1) / 2.0 + tangent * (offset * size + rng.normal(0.0, 1.0))
        across = (rows - position[0]) * tangent[0] + (columns - position[1]) * tangent[1]
        relative_depth = (depth_mm - rib_depth_mm) / (0.55 * radius_mm)
        radial = np.hypot(across * settings.pixel_spacing_mm / radius_mm, relative_depth)
        cortex_fraction = 1.0 - settings.rib_cortex_mm / radius_mm
        wall = np.where(radial < 1.0, settings.rib_cortex_hu, wall)
        wall = np.where(radial < cortex_fraction, settings.rib_marrow_hu, wall)
    return wall.astype(np.float32)


def build_lobules(spacing_px: float, jitter: float, size: int, rng: np.random.Generator):
    """Return ``(lobule index map (S, S), distance to own centre (S, S), centres (n, 2))``.

    Lobule centres lie on a jittered square lattice; each pixel belongs to the nearest centre,
    found among the 3x3 neighbouring lattice cells only (so the cost is 9 passes, not n).
    """
    cells = int(np.ceil(size / spacing_px)) + 2
    lattice = np.stack(np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij"), axis=-1) - 0.5
    centres = (lattice + rng.uniform(-jitter, jitter, lattice.shape)) * spacing_px
    rows, columns = pixel_grid(size)
    # Warping the coordinates a little makes lobule borders irregular polygons, not a lattice.
    warp = LOBULE_WARP * spacing_px
    rows = rows + warp * correlated_noise((size, size), spacing_px / 3.0, rng)
    columns = columns + warp * correlated_noise((size, size), spacing_px / 3.0, rng)
    cell_rows = np.clip(np.floor(rows / spacing_px).astype(int) + 1, 0, cells - 1)
    cell_columns = np.clip(np.floor(columns / spacing_px).astype(int) + 1, 0, cells - 1)
    flat_centres = centres.reshape(-1, 2).astype(np.float32)
    best_distance = np.full((size, size), np.inf, dtype=np.float32)
    best_index = np.zeros((size, size), dtype=np.int32)
    for step_row in (-1, 0, 1):
        for step_column in (-1, 0, 1):
            candidate_row = np.clip(cell_rows + step_row, 0, cells - 1)
            candidate = candidate_row * cells + np.clip(cell_columns + step_column, 0, cells - 1)
            distance = np.hypot(rows - flat_centres[candidate, 0], columns - flat_centres[candidate, 1])
            closer = distance < best_distance
            best_distance[closer] = distance[closer]
            best_index[closer] = candidate[closer]
    return best_index, best_distance, flat_centres


def grow_vessel_tree(
    outward: np.ndarray, area_fraction: float, rng: np.random.Generator, settings: PhantomSettings
) -> np.ndarray:
    """Grow branching vessels from the hilum (opposite the chest wall) towards the pleura.

    Branching is asymmetric, as in the lung: the parent runs on almost straight and a thinner
    side branch leaves at a wider angle. A branch that leaves the slice plane ends its subtree.
    Trees are grown until the vessels in view cover ``area_fraction`` of the image, so the
    vascular share is a patient trait (matched across classes), not an accident of branching.

    Returns:
        ``(count, 5)`` segments ``row0, column0, row1, column1, width`` in pixels.
    """
    size = settings.image_size
    centre = np.full(2, (size - 1) / 2.0)
    tangent = np.array([-outward[1], outward[0]])
    outward_heading = np.arctan2(outward[0], outward[1])
    minimum_width = settings.to_pixels(settings.vessel_min_width_mm)
    budget = area_fraction * size * size
    roots = settings.vessel_max_roots
    segments = []
    area = 0.0
    for across in (rng.permutation(roots) + rng.uniform(0.2, 0.8, roots)) / roots - 0.5:
        start = centre - outward * size * 0.55 + tangent * across * size * 1.2
        heading = outward_heading + rng.normal(0.0, 0.3)
        stack = [(start, heading, settings.to_pixels(rng.uniform(*settings.vessel_root_width_mm)), 0.0)]
        while stack and area < budget:
            start, heading, width, stop_probability = stack.pop()
            length = width * rng.uniform(*settings.vessel_length_to_width)
            end = start + length * np.array([np.sin(heading), np.cos(heading)])
            segments.append((start[0], start[1], end[0], end[1], width))
            if np.all(np.abs((start + end) / 2.0 - centre) < size / 2.0):
                area += length * width
            outside = np.any(np.abs(end - centre) > size * 0.7)
            if outside or width < minimum_width or rng.random() < stop_probability:
                continue
            # Vessels run outwards: each generation turns part of the way back towards the pleura.
            heading += settings.vessel_outward_pull * np.angle(np.exp(1j * (outward_heading - heading)))
            side = rng.choice((-1.0, 1.0))
            branch_angle = np.deg2rad(rng.uniform(*settings.vessel_branch_angle_deg))
            main_width = width * settings.vessel_width_ratio[1]
            side_width = width * rng.uniform(*settings.vessel_width_ratio)
            stack.append(
                (end, heading - side * branch_angle / 4.0, main_width, settings.vessel_stop_probability)
            )
            stack.append(
                (end, heading + side * branch_angle, side_width, settings.vessel_side_stop_probability)
            )
        if area >= budget:
            break
    return np.asarray(segments, dtype=np.float64).reshape(-1, 5)


def draw_vessels(
    segments: np.ndarray, dots: np.ndarray, rng: np.random.Generator, settings: PhantomSettings
) -> np.ndarray:
    """Render the tree, slightly rotated for this slice, and end-on dots into a coverage map.

    Some segments leave the slice plane (dropped); the rest vary in partial-volume weight.
    """
    size = settings.image_size
    pivot = np.full(2, (size - 1) / 2.0)
    angle = np.deg2rad(rng.normal(0.0, settings.slice_vessel_rotation_deg))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = segments.copy()
    for first in (0, 2):
        moved[:, first : first + 2] = (segments[:, first : first + 2] - pivot) @ rotation.T + pivot
    keep = rng.random(len(moved)) >= settings.vessel_out_of_plane_probability
    moved = np.concatenate([moved[keep], dots])
    weights = rng.uniform(0.75, 1.0, len(moved))
    return draw_segments(np.zeros((size, size), dtype=np.float32), moved, weights)
