"""The chest outside the lungs in one axial slice: body wall, bones, mediastinum, heart, table."""

from __future__ import annotations

import numpy as np

from study.phantom.chest import Chest, in_heart
from study.phantom.settings import StudySettings


def _ellipse(x, y, half_width: float, half_depth: float, centre=(0.0, 0.0)) -> np.ndarray:
    return ((x - centre[0]) / half_width) ** 2 + ((y - centre[1]) / half_depth) ** 2 < 1.0


def tissue_slice(chest: Chest, x: np.ndarray, y: np.ndarray, z: float, settings: StudySettings) -> np.ndarray:
    """Return float32 HU of everything but the lungs and airways at height ``z``."""
    tissue = settings.tissue
    a_in, b_in = chest.inner_half_width, chest.inner_half_depth
    image = np.full(x.shape, settings.air_hu, dtype=np.float32)
    image[_ellipse(x, y, chest.body_half_width, chest.body_half_depth)] = tissue.fat_hu
    image[_ellipse(x, y, a_in + chest.muscle, b_in + chest.muscle)] = tissue.muscle_hu
    # Ribs: a band just outside the pleura, crossing the slice at intervals that drift with y
    # because ribs run obliquely downwards towards the front.
    rib_band = _ellipse(x, y, a_in + settings.rib_width_mm, b_in + settings.rib_width_mm) & ~_ellipse(
        x, y, a_in, b_in
    )
    phase = np.cos(2.0 * np.pi * (z + 0.4 * y) / settings.rib_pitch_mm)
    ribs = (
        rib_band & (phase > np.cos(np.pi * settings.rib_width_mm / settings.rib_pitch_mm)) & (y > -0.6 * b_in)
    )
    image[ribs] = settings.bone_hu
    below_domes = z < max(chest.dome_tops)
    image[_ellipse(x, y, a_in, b_in)] = settings.abdomen_hu if below_domes else settings.soft_tissue_hu
    image[in_heart(chest, x, y, z, margin=4.0)] = tissue.fat_hu  # pericardial fat
    image[in_heart(chest, x, y, z)] = settings.soft_tissue_hu
    spine = np.hypot(x, y - chest.spine_y - 8.0)
    image[spine < 16.0] = settings.cortex_hu
    image[spine < 13.0] = settings.bone_hu
    image[np.hypot(x, y - chest.spine_y - 31.0) < 7.0] = 20.0  # spinal canal
    image[np.hypot(x, y - chest.spine_y - 44.0) < 8.0] = settings.bone_hu
    if 0.1 * chest.lung_height < z < 0.9 * chest.lung_height:
        image[_ellipse(x, y, 14.0, 5.0, (0.0, -b_in - 3.0))] = settings.bone_hu
    # The table: a curved carbon plate below the patient, spanning the whole field of view.
    top = chest.body_half_depth + chest.table_gap - 0.0008 * x**2
    image[(y > top) & (y < top + settings.table_thickness_mm)] = settings.table_hu
    return image
