"""Render a study slice by slice: lungs with texture, vessels, fissures and lesions in a chest.

Each slice follows the slice phantom's recipe (``imaging.phantom.render_slice``): parenchyma
around -850 HU with a dependent gradient and correlated texture, the pattern, vessels at +40 HU,
fissures, then the kernel's blur and noise. Texture is carried from slice to slice (an AR(1)
process along z), so neighbouring slices resemble each other as in a real volume.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage
from scipy.special import ndtri

from imaging.phantom.fields import correlated_noise, gaussian_blur, smoothstep
from study.phantom.airway import airway_parts
from study.phantom.chest import AIRWAY, Chest, fissure_distance, lung_side
from study.phantom.grid import PixelGrid
from study.phantom.lesions import Lesions, coarse_lungs, place_lesions
from study.phantom.settings import StudySettings
from study.phantom.tissue import tissue_slice
from study.phantom.vessels import draw_vessel_slice, grow_vessels, thin_for_panlobular

# Pattern labels of the truth volume (0 is "not lung").
PATTERN_LABELS = {"NT": 1, "CLE": 2, "PSE": 3, "PLE": 4}


@dataclasses.dataclass(frozen=True)
class RenderedStudy:
    """A study's HU volume (int16, slices lowest first) with its truth volumes."""

    hounsfield: np.ndarray
    anatomy: np.ndarray
    pattern: np.ndarray
    grid: PixelGrid
    positions: np.ndarray


def study_grid(chest: Chest) -> PixelGrid:
    """Centre the body a little above the image centre, so the table fits below it."""
    return PixelGrid(chest.matrix, chest.pixel_spacing_mm, 0.2 * chest.body_half_depth)


def _carry(previous: np.ndarray | None, fresh: np.ndarray, correlation: float) -> np.ndarray:
    """AR(1) along z: keeps unit variance, correlation ``correlation`` with the previous slice."""
    if previous is None:
        return fresh
    return correlation * previous + np.sqrt(1.0 - correlation**2) * fresh


def _spheres_in_slice(spheres: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of spheres cut by the plane ``z`` and the radius of each cut."""
    rise = np.abs(spheres[:, 2] - z)
    cut = np.flatnonzero(rise < spheres[:, 3])
    return cut, np.sqrt(spheres[cut, 3] ** 2 - rise[cut] ** 2)


def _window(row: float, column: float, reach: int, matrix: int):
    """The pixel box within ``reach`` of a centre, and each pixel's distance to it (None if off-image)."""
    top, left = max(int(row) - reach, 0), max(int(column) - reach, 0)
    bottom, right = min(int(row) + reach + 2, matrix), min(int(column) + reach + 2, matrix)
    if top >= bottom or left >= right:
        return None
    local_rows = np.arange(top, bottom, dtype=np.float32)[:, np.newaxis]
    local_columns = np.arange(left, right, dtype=np.float32)[np.newaxis, :]
    return (top, bottom, left, right), np.hypot(local_rows - row, local_columns - column)


def _draw_centrilobular(parenchyma, lesions: Lesions, z, grid, chest, rng, settings):
    tissue = settings.tissue
    cut, radii = _spheres_in_slice(lesions.centrilobular, z)
    depth_map = np.zeros(grid.shape, dtype=np.float32)
    target = np.zeros(grid.shape, dtype=np.float32)
    dots = np.zeros(grid.shape, dtype=np.float32)
    if len(cut) == 0:
        return parenchyma, depth_map, dots
    irregular = 1.0 + tissue.cle_shape_irregularity * correlated_noise(grid.shape, 1.5 / grid.spacing, rng)
    edge = np.interp(chest.extent, [0.0, 1.0], tissue.cle_edge_mm[::-1]) / grid.spacing
    rows, columns = grid(lesions.centrilobular[cut, :2])
    dot_radius = tissue.cle_central_dot_mm / 2.0 / grid.spacing
    for index, row, column, radius_mm in zip(cut, rows, columns, radii, strict=True):
        radius = radius_mm / grid.spacing
        window = _window(row, column, int(np.ceil(radius * 1.4 + edge + 1)), grid.matrix)
        if window is None:
            continue
        (top, bottom, left, right), distance = window
        depth = smoothstep((radius * irregular[top:bottom, left:right] - distance) / edge + 0.5)
        region = depth_map[top:bottom, left:right]
        deeper = depth > region
        region[deeper] = depth[deeper]
        target[top:bottom, left:right][deeper] = lesions.centrilobular[index, 4]
        if lesions.central_dots[index]:
            cover = np.clip(dot_radius - distance + 0.5, 0.0, 1.0)
            np.maximum(dots[top:bottom, left:right], cover, out=dots[top:bottom, left:right])
    return parenchyma + depth_map * (target - parenchyma), depth_map, dots


def _draw_paraseptal(parenchyma, lesions: Lesions, z, grid, lung, settings):
    tissue = settings.tissue
    cut, radii = _spheres_in_slice(lesions.paraseptal, z)
    nearest = np.full(grid.shape, np.inf, dtype=np.float32)
    lucency = np.zeros(grid.shape, dtype=np.float32)
    if len(cut) == 0:
        return parenchyma, np.zeros(grid.shape, dtype=bool)
    rows, columns = grid(lesions.paraseptal[cut, :2])
    for index, row, column, radius_mm in zip(cut, rows, columns, radii, strict=True):
        radius = radius_mm / grid.spacing
        window = _window(row, column, int(np.ceil(radius + 2)), grid.matrix)
        if window is None:
            continue
        (top, bottom, left, right), distance = window
        signed = distance - radius
        region = nearest[top:bottom, left:right]
        closer = signed < region
        region[closer] = signed[closer]
        lucency[top:bottom, left:right][closer] = lesions.paraseptal[index, 4]
    wall_width = tissue.pse_wall_mm / grid.spacing
    half_wall = wall_width / 2.0
    interior = (nearest < -half_wall) & lung
    wall = np.clip(half_wall + 0.5 - np.abs(nearest), 0.0, 1.0) * lung * min(wall_width, 1.0)
    changed = np.where(interior, lucency, parenchyma)
    return changed + wall * (tissue.pse_wall_hu - changed), interior & (wall < 0.5)


def _panlobular_strength(lesions: Lesions, z, x, y, chest, settings) -> np.ndarray:
    """Involvement 0..1 of each pixel: the random field under a height-dependent quantile."""
    tissue = settings.tissue
    low, high = tissue.ple_lobule_involvement
    weight = max(settings.ple_zone_weight[0] + settings.ple_zone_weight[1] * z / chest.lung_height, 0.0)
    share = float(np.clip((low + (high - low) * chest.extent) * weight, 1e-4, 1.0 - 1e-4))
    coordinates = np.stack([np.full(x.shape, z), y, x]).reshape(3, -1) - lesions.field_origin[:, np.newaxis]
    field = ndimage.map_coordinates(
        lesions.panlobular_field, coordinates / lesions.field_step, order=1, mode="nearest"
    )
    return smoothstep((ndtri(share) - field.reshape(x.shape)) / 0.3 + 0.5).astype(np.float32)


def render_study(chest: Chest, settings: StudySettings, margin_below: float) -> RenderedStudy:
    """Render every slice of the study and its truth (anatomy and pattern labels)."""
    tissue = settings.tissue
    grid = study_grid(chest)
    x, y = grid.coordinates()
    positions = chest.slice_positions(margin_below)
    coarse = coarse_lungs(chest)
    lesions = place_lesions(chest, coarse, settings)
    anatomy_rng = np.random.default_rng(np.random.SeedSequence([chest.seed, 16]))
    tubes = grow_vessels(chest, coarse.volume_mm3, anatomy_rng, settings)
    if chest.pattern == "PLE":
        tubes = thin_for_panlobular(tubes, chest.extent, anatomy_rng, settings)
    shape = (len(positions), *grid.shape)
    hounsfield = np.empty(shape, dtype=np.int16)
    anatomy = np.zeros(shape, dtype=np.uint8)
    pattern = np.zeros(shape, dtype=np.uint8)
    texture = broad = None
    texture_sigma = tissue.texture_correlation_mm / grid.spacing
    for index, z in enumerate(positions):
        rng = np.random.default_rng(np.random.SeedSequence([chest.seed, 17, index]))
        side = lung_side(chest, x, y, z)
        lung = side > 0
        texture = _carry(
            texture,
            correlated_noise(grid.shape, texture_sigma, rng),
            np.exp(-chest.slice_interval_mm / max(tissue.texture_correlation_mm, 1e-3)),
        )
        broad = _carry(
            broad,
            correlated_noise(grid.shape, tissue.broad_variation_mm / grid.spacing, rng),
            np.exp(-chest.slice_interval_mm / tissue.broad_variation_mm),
        )
        gradient = chest.dependent_gradient_hu * (y / (2.0 * chest.inner_half_depth))
        fine = chest.texture_hu * texture
        parenchyma = chest.parenchyma_hu + gradient + tissue.broad_variation_hu * broad + fine
        labels = np.where(lung, PATTERN_LABELS["NT"], 0).astype(np.uint8)
        dots = np.zeros(grid.shape, dtype=np.float32)
        avascular = np.zeros(grid.shape, dtype=bool)
        if lesions.panlobular_field is not None and lung.any():
            strength = _panlobular_strength(lesions, z, x, y, chest, settings) * 0.92
            flattened = fine * (1.0 - tissue.ple_texture_reduction * chest.extent * strength)
            parenchyma = parenchyma - fine + flattened - tissue.ple_shift_hu * chest.extent * strength
            labels[lung & (strength > 0.5)] = PATTERN_LABELS["PLE"]
        if len(lesions.centrilobular):
            parenchyma, depth, dots = _draw_centrilobular(parenchyma, lesions, z, grid, chest, rng, settings)
            labels[lung & (depth > 0.5)] = PATTERN_LABELS["CLE"]
        if len(lesions.paraseptal):
            parenchyma, avascular = _draw_paraseptal(parenchyma, lesions, z, grid, lung, settings)
            labels[avascular] = PATTERN_LABELS["PSE"]
        vessels = np.maximum(draw_vessel_slice(tubes, z, 0.0, grid), dots)
        vessels[avascular | ~lung] = 0.0
        image = parenchyma + vessels * (tissue.vessel_hu - parenchyma)
        fissure_width = tissue.fissure_width_mm / grid.spacing
        fissure = np.clip(
            fissure_width / 2.0 + 0.5 - fissure_distance(chest, x, y, z) / grid.spacing, 0.0, 1.0
        )
        image = image + min(fissure_width, 1.0) * fissure * (tissue.fissure_hu - image)
        image = np.where(lung, image, tissue_slice(chest, x, y, z, settings))
        lumen, wall = airway_parts(chest, x, y, z, settings.airway_wall_mm)
        image[wall] = settings.soft_tissue_hu
        image[lumen] = settings.air_hu
        image = gaussian_blur(image, chest.blur_mm / grid.spacing)
        noise_sigma = tissue.kernel_noise_correlation_mm / grid.spacing
        image += chest.noise_hu * correlated_noise(grid.shape, noise_sigma, rng)
        hounsfield[index] = np.rint(np.clip(image, tissue.hu_minimum, tissue.hu_maximum))
        side[lumen | wall] = AIRWAY
        anatomy[index] = side
        labels[lumen | wall] = 0
        pattern[index] = labels
    return RenderedStudy(hounsfield, anatomy, pattern, grid, positions)
