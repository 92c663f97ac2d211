"""Where a study's emphysema lies in 3-D: centrilobular spheres, paraseptal cysts, panlobular field.

The recipes are the slice phantom's (``imaging.phantom.patterns``) with the lesions made
three-dimensional and distributed as radiologists know them: CLE in lobule centres, sparing the
subpleural lung and weighted to the upper zones; PSE as a single row of cysts abutting the pleura
and fissures; PLE as whole-lobule low attenuation weighted to the lower zones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from study.phantom.chest import Chest, fissure_distance, lung_side
from study.phantom.settings import StudySettings

COARSE_STEP_MM = 4.0


@dataclasses.dataclass(frozen=True)
class Lesions:
    """Spheres ``(n, 5)``: ``x, y, z, radius, lucency HU``; CLE also flags a central dot per sphere."""

    centrilobular: np.ndarray
    central_dots: np.ndarray
    paraseptal: np.ndarray
    panlobular_field: np.ndarray | None
    field_origin: np.ndarray
    field_step: float


@dataclasses.dataclass(frozen=True)
class CoarseLungs:
    """The lungs on a 4 mm grid: centres of lung cells and their distance to pleura or fissure."""

    centres: np.ndarray
    depth_mm: np.ndarray
    volume_mm3: float


def coarse_lungs(chest: Chest) -> CoarseLungs:
    """Sample the lungs every 4 mm and measure how deep each sample lies (for lesion placement)."""
    step = COARSE_STEP_MM
    xs = np.arange(-chest.inner_half_width, chest.inner_half_width + step, step)
    ys = np.arange(-chest.inner_half_depth, chest.inner_half_depth + step, step)
    zs = np.arange(0.0, chest.lung_height + step, step)
    z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")
    inside = lung_side(chest, x, y, z) > 0
    depth = ndimage.distance_transform_edt(np.pad(inside, 1), sampling=step)[1:-1, 1:-1, 1:-1]
    depth = np.minimum(depth, fissure_distance(chest, x, y, z))
    centres = np.column_stack([x[inside], y[inside], z[inside]])
    return CoarseLungs(centres, depth[inside].astype(np.float32), float(inside.sum()) * step**3)


def _zone_weight(weights: tuple[float, float], z: np.ndarray, chest: Chest) -> np.ndarray:
    return np.clip(weights[0] + weights[1] * z / chest.lung_height, 0.0, None)


def place_centrilobular(chest: Chest, coarse: CoarseLungs, rng: np.random.Generator, settings: StudySettings):
    """Return CLE spheres and their central-dot flags, in lobule centres away from the pleura."""
    tissue = settings.tissue
    spacing = chest.lobule_spacing_mm
    axes = [
        np.arange(low, high, spacing)
        for low, high in (
            (-chest.inner_half_width, chest.inner_half_width),
            (-chest.inner_half_depth, chest.inner_half_depth),
            (0.0, chest.lung_height),
        )
    ]
    lattice = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    centres = lattice + rng.uniform(-tissue.lobule_jitter, tissue.lobule_jitter, lattice.shape) * spacing
    cell = np.clip(np.rint((centres - coarse.centres.min(axis=0)) / COARSE_STEP_MM).astype(int), 0, None)
    depth = _depth_lookup(coarse, cell)
    eligible = depth > tissue.cle_subpleural_sparing_mm
    probability = (
        tissue.cle_involvement * chest.extent * _zone_weight(settings.cle_zone_weight, centres[:, 2], chest)
    )
    chosen = eligible & (rng.random(len(centres)) < probability)
    count = int(chosen.sum())
    low, high = tissue.cle_diameter_mm
    growth = np.clip(tissue.cle_involvement * chest.extent + 0.3 * (rng.random(count) - 0.5), 0.0, 1.0)
    radius = (low + (high - low) * growth) / 2.0
    lucency = rng.uniform(*tissue.cle_lucency_hu, count)
    spheres = np.column_stack([centres[chosen], radius, lucency])
    return spheres, rng.random(count) < tissue.cle_central_dot_probability


def _depth_lookup(coarse: CoarseLungs, cell: np.ndarray) -> np.ndarray:
    """Depth of the coarse lung cell at integer ``cell`` indices (0 outside the lungs)."""
    origin = coarse.centres.min(axis=0)
    keys = np.rint((coarse.centres - origin) / COARSE_STEP_MM).astype(np.int64)
    shape = keys.max(axis=0) + 1
    table = np.zeros(tuple(shape), dtype=np.float32)
    table[tuple(keys.T)] = coarse.depth_mm
    inside = (cell < shape).all(axis=1)
    result = np.zeros(len(cell), dtype=np.float32)
    result[inside] = table[tuple(cell[inside].T)]
    return result


def place_paraseptal(chest: Chest, coarse: CoarseLungs, rng: np.random.Generator, settings: StudySettings):
    """Return PSE cysts in a single row along the pleura and fissures, upper zones first."""
    tissue = settings.tissue
    low_count, per_extent = settings.pse_cysts_per_extent
    wanted = int(round(low_count + per_extent * chest.extent))
    low, high = tissue.pse_diameter_mm
    weight = _zone_weight(settings.pse_zone_weight, coarse.centres[:, 2], chest)
    cysts: list[tuple[float, ...]] = []
    for _ in range(4 * wanted):
        if len(cysts) >= wanted:
            break
        growth = float(np.clip(np.sqrt(chest.extent) + rng.normal(0.0, 0.15), 0.0, 1.0))
        radius = (low + (high - low) * growth) / 2.0
        near = np.abs(coarse.depth_mm - tissue.pse_inset * radius) <= COARSE_STEP_MM * 0.6
        if not near.any():
            continue
        candidates = np.flatnonzero(near)
        probability = weight[candidates] / weight[candidates].sum()
        centre = coarse.centres[rng.choice(candidates, p=probability)]
        if cysts:
            placed = np.asarray(cysts)
            gaps = np.linalg.norm(placed[:, :3] - centre, axis=1) - 0.92 * (placed[:, 3] + radius)
            if (gaps < 0).any():
                continue
        cysts.append((*centre, radius, rng.uniform(*tissue.pse_lucency_hu)))
    return np.asarray(cysts, dtype=np.float64).reshape(-1, 5)


def panlobular_field(chest: Chest, rng: np.random.Generator, settings: StudySettings):
    """Return a smooth unit-SD random field on a coarse grid (lobule-sized blobs) and its origin."""
    step = settings.ple_field_mm / 2.0
    shape = tuple(
        int(np.ceil(length / step)) + 3
        for length in (chest.lung_height + 20.0, 2 * chest.inner_half_depth, 2 * chest.inner_half_width)
    )
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 1.0, mode="wrap")
    field = (field - field.mean()) / field.std()
    origin = np.array([-10.0 - step, -chest.inner_half_depth - step, -chest.inner_half_width - step])
    return field.astype(np.float32), origin, step


def place_lesions(chest: Chest, coarse: CoarseLungs, settings: StudySettings) -> Lesions:
    """Place every lesion of the study's pattern (none for NT)."""
    rng = np.random.default_rng(np.random.SeedSequence([chest.seed, 15]))
    empty = np.zeros((0, 5))
    cle, dots = empty, np.zeros(0, dtype=bool)
    pse, field, origin, step = empty, None, np.zeros(3), 1.0
    if "CLE" in chest.pattern:
        cle, dots = place_centrilobular(chest, coarse, rng, settings)
    if "PSE" in chest.pattern:
        pse = place_paraseptal(chest, coarse, rng, settings)
    if chest.pattern == "PLE":
        field, origin, step = panlobular_field(chest, rng, settings)
    return Lesions(cle, dots, pse, field, origin, step)
