"""The three emphysema patterns drawn onto normal parenchyma.

Each function takes the parenchyma in HU (no vessels yet) and returns it changed, plus what the
vessel and wall layers need. ``extent`` in [0, 1] is the disease extent of the patient's
severity; lesion placement comes from the patient's anatomy generator and only a fraction of
lesions changes from slice to slice (``lesion_persistence``).
"""

from __future__ import annotations

import numpy as np

from imaging.phantom.anatomy import Boundaries
from imaging.phantom.fields import correlated_noise, gaussian_blur, smoothstep
from imaging.phantom.settings import PhantomSettings


def _persistent(count: int, patient_rng, slice_rng, persistence: float) -> tuple[np.ndarray, np.ndarray]:
    """Return patient-level uniforms, re-drawn for a (1 - persistence) share of them per slice."""
    patient_draws = patient_rng.random(count)
    redraw = slice_rng.random(count) >= persistence
    return np.where(redraw, slice_rng.random(count), patient_draws), patient_rng.random(count)


def add_centrilobular(
    parenchyma: np.ndarray,
    lobules: tuple,
    boundaries: Boundaries,
    extent: float,
    patient_rng: np.random.Generator,
    slice_rng: np.random.Generator,
    settings: PhantomSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Punch wall-less lucencies into the centre of a share ``extent`` of lobules.

    Lobules within ``cle_subpleural_sparing_mm`` of the pleura are spared (CLE is central).
    Returns the new parenchyma and a coverage map of central dots (centrilobular arteries).
    """
    index_map, centre_distance, centres = lobules
    size = settings.image_size
    inside = (centres >= 0).all(axis=1) & (centres < size).all(axis=1)
    rows = np.clip(np.rint(centres[:, 0]).astype(int), 0, size - 1)
    columns = np.clip(np.rint(centres[:, 1]).astype(int), 0, size - 1)
    sparing = settings.to_pixels(settings.cle_subpleural_sparing_mm)
    eligible = inside & (boundaries.pleural_distance[rows, columns] > sparing)
    eligible &= boundaries.lung_mask[rows, columns]
    chosen, shape_draw = _persistent(len(centres), patient_rng, slice_rng, settings.lesion_persistence)
    affected = eligible & (chosen < settings.cle_involvement * extent)
    # Diameter grows with extent; each lesion varies around it, smaller ones are ill-defined.
    low, high = settings.cle_diameter_mm
    growth = settings.cle_involvement * extent + 0.3 * (shape_draw - 0.5)
    diameter_mm = low + (high - low) * np.clip(growth, 0.0, 1.0)
    radius = settings.to_pixels(diameter_mm / 2.0)
    edge = settings.to_pixels(np.interp(extent, [0.0, 1.0], settings.cle_edge_mm[::-1]))
    irregular = 1.0 + settings.cle_shape_irregularity * correlated_noise(
        (size, size), settings.to_pixels(1.5), slice_rng
    )
    lesion_radius = np.where(affected[index_map], radius[index_map], 0.0) * irregular
    depth = smoothstep((lesion_radius - centre_distance) / edge + 0.5) * affected[index_map]
    lucency = slice_rng.uniform(*settings.cle_lucency_hu)
    changed = parenchyma + depth * (lucency - parenchyma)
    dots = affected & (shape_draw < settings.cle_central_dot_probability)
    dot_radius = settings.to_pixels(settings.cle_central_dot_mm / 2.0)
    dot_cover = np.clip(dot_radius - centre_distance + 0.5, 0.0, 1.0) * dots[index_map]
    return changed.astype(np.float32), dot_cover.astype(np.float32)


def _place_cysts(boundaries: Boundaries, extent, patient_rng, settings: PhantomSettings) -> np.ndarray:
    """Return ``(n, 3)`` cysts ``row, column, radius``: one row along each pleural surface."""
    size = settings.image_size
    low_count, high_count = settings.pse_cysts
    wanted = int(round(low_count + (high_count - low_count) * extent))
    low, high = settings.pse_diameter_mm
    cysts: list[tuple[float, float, float]] = []
    for curve in patient_rng.permutation(len(boundaries.curves)):
        points, normals = boundaries.curves[curve]
        in_view = np.flatnonzero(((points > 2) & (points < size - 3)).all(axis=1))
        if len(in_view) < 4 or len(cysts) >= wanted:
            continue
        steps = np.r_[0.0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))]
        first, last = steps[in_view[0]], steps[in_view[-1]]
        # Cysts grow quickly with extent: substantial PSE is mostly large subpleural cysts.
        typical = settings.to_pixels(low + (high - low) * np.sqrt(extent))
        row_length = (wanted - len(cysts)) * typical * 0.92
        position = first + patient_rng.uniform(0.0, 1.0) * max(0.0, last - first - row_length)
        while len(cysts) < wanted and position < last:
            growth = np.sqrt(extent) + patient_rng.normal(0.0, 0.15)
            radius = settings.to_pixels(low + (high - low) * float(np.clip(growth, 0.0, 1.0))) / 2.0
            at = min(int(np.searchsorted(steps, position + radius)), len(points) - 1)
            centre = points[at] + normals[at] * radius * settings.pse_inset
            cysts.append((centre[0], centre[1], radius))
            position += 2.0 * radius * 0.92  # neighbours overlap a little and share a septum
    return np.asarray(cysts, dtype=np.float64).reshape(-1, 3)


def add_paraseptal(
    parenchyma: np.ndarray,
    boundaries: Boundaries,
    extent: float,
    patient_rng: np.random.Generator,
    slice_rng: np.random.Generator,
    settings: PhantomSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a single row of thin-walled cysts abutting the pleura or a fissure.

    Returns the new parenchyma (cyst interiors and walls) and the cyst-interior mask, where no
    vessel runs (bullae are avascular).
    """
    cysts = _place_cysts(boundaries, extent, patient_rng, settings)
    size = settings.image_size
    if len(cysts) == 0:
        return parenchyma, np.zeros((size, size), dtype=bool)
    keep_draw, _ = _persistent(len(cysts), patient_rng, slice_rng, settings.lesion_persistence)
    cysts = cysts[(keep_draw < 0.9) | (np.arange(len(cysts)) == 0)]
    cysts[:, 2] *= slice_rng.uniform(0.9, 1.1, len(cysts))
    rows = np.arange(size, dtype=np.float32)[:, np.newaxis, np.newaxis]
    columns = np.arange(size, dtype=np.float32)[np.newaxis, :, np.newaxis]
    signed = np.hypot(rows - cysts[:, 0], columns - cysts[:, 1]) - cysts[:, 2]  # (S, S, n)
    ordered = np.sort(signed, axis=-1)
    nearest = ordered[..., 0]
    second = ordered[..., 1] if len(cysts) > 1 else np.full_like(nearest, np.inf)
    wall_width = settings.to_pixels(settings.pse_wall_mm)
    half_wall = wall_width / 2.0
    interior = (nearest < -half_wall) & boundaries.lung_mask
    # The wall is the cyst outline, plus the septum where two neighbouring cysts meet.
    outline = np.clip(half_wall + 0.5 - np.abs(nearest), 0.0, 1.0)
    septum = np.clip(half_wall + 0.5 - np.abs(second - nearest) / 2.0, 0.0, 1.0) * (second < half_wall)
    # A wall thinner than a pixel is averaged with the air beside it (partial volume).
    wall = np.maximum(outline, septum) * boundaries.lung_mask * min(wall_width, 1.0)
    lucency = slice_rng.uniform(*settings.pse_lucency_hu)
    changed = np.where(interior, lucency, parenchyma)
    changed = changed + wall * (settings.pse_wall_hu - changed)
    return changed.astype(np.float32), interior & (wall < 0.5)


def add_panlobular(
    parenchyma: np.ndarray,
    texture: np.ndarray,
    lobules: tuple,
    extent: float,
    patient_rng: np.random.Generator,
    settings: PhantomSettings,
) -> np.ndarray:
    """Lower whole lobules uniformly and flatten their texture; more lobules as extent grows."""
    index_map = lobules[0]
    count = len(lobules[2])
    low, high = settings.ple_lobule_involvement
    involved = patient_rng.random(count) < low + (high - low) * extent
    strength = np.where(involved, patient_rng.uniform(*settings.ple_lobule_strength, count), 0.0)[index_map]
    # Interlobular septa are thin, so neighbouring lobules blend over about a millimetre.
    strength = gaussian_blur(strength, settings.to_pixels(settings.ple_border_mm))
    flattened = texture * (1.0 - settings.ple_texture_reduction * extent * strength)
    return (parenchyma - texture + flattened - settings.ple_shift_hu * extent * strength).astype(np.float32)
