"""The synthetic HRCT phantom: one lung slice in Hounsfield units for a class and severity.

A slice is built like a radiologist reads one: parenchyma around -850 HU with a gravity
gradient and fine correlated texture; secondary lobules; a vessel tree running from the hilum
towards the pleura; the chest wall and/or a fissure; then the pattern (CLE, PSE or PLE); then
the reconstruction kernel's blur and noise. A patient's ``PatientTraits`` fix everything that
belongs to the person and the scanner (anatomy seed, density, kernel, field of view), so a
patient's slices resemble each other and differ from other patients'.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imaging.contract import CLASS_NAMES
from imaging.phantom.anatomy import (
    build_boundaries,
    build_lobules,
    chest_wall_hounsfield,
    draw_vessels,
    grow_vessel_tree,
)
from imaging.phantom.fields import correlated_noise, gaussian_blur, pixel_grid
from imaging.phantom.patterns import add_centrilobular, add_panlobular, add_paraseptal
from imaging.phantom.settings import DEFAULT_KERNELS, DEFAULT_SETTINGS, KernelProfile, PhantomSettings

__all__ = [
    "DEFAULT_KERNELS",
    "DEFAULT_SETTINGS",
    "KernelProfile",
    "PatientTraits",
    "PhantomSettings",
    "RenderedSlice",
    "disease_extent",
    "draw_patient_traits",
    "generate_slice",
    "render_slice",
]


@dataclasses.dataclass(frozen=True)
class PatientTraits:
    """What is fixed for one patient: anatomy, lung density, scanner kernel and field of view.

    ``severity_position`` in [0, 1] places the patient inside their severity's extent range.
    The field-of-view traits (chest wall, fissure, depth) are drawn the same way for every class,
    so they carry no information about the label.
    """

    anatomy_seed: int
    severity_position: float
    kernel: str
    noise_hu: float
    blur_mm: float
    parenchyma_hu: float
    dependent_gradient_hu: float
    texture_hu: float
    vessel_area_fraction: float
    lobule_spacing_mm: float
    chest_wall: bool
    wall_angle: float
    chest_wall_depth_mm: float
    pleural_radius_mm: float
    extrapleural_fat_mm: float
    intercostal_muscle_mm: float
    ribs: tuple[tuple[float, float, float], ...]
    fissure: bool
    fissure_angle: float
    fissure_offset: float
    fissure_curvature: float


@dataclasses.dataclass(frozen=True)
class RenderedSlice:
    """A slice with the anatomy it was drawn on (for tests and overlays).

    Attributes:
        hounsfield: float32 ``(S, S)`` HU.
        lung_mask: bool ``(S, S)``, True in lung, False in chest wall.
        pleural_distance_mm: float32 ``(S, S)`` distance to the nearest pleura or fissure.
    """

    hounsfield: np.ndarray
    lung_mask: np.ndarray
    pleural_distance_mm: np.ndarray


def draw_patient_traits(
    rng: np.random.Generator, settings: PhantomSettings = DEFAULT_SETTINGS
) -> PatientTraits:
    """Draw one patient's traits; every class uses this same distribution."""
    kernel = settings.kernels[rng.integers(len(settings.kernels))]
    chest_wall = bool(rng.random() < settings.chest_wall_probability)
    # Every slice shows at least one pleural surface, so paraseptal cysts always have a home.
    fissure = bool(rng.random() < settings.fissure_probability) or not chest_wall
    fat_mm = rng.uniform(*settings.extrapleural_fat_mm)
    ribs = []
    for _ in range(rng.integers(settings.rib_count[0], settings.rib_count[1] + 1)):
        radius_mm = rng.uniform(*settings.rib_radii_mm)
        ribs.append((rng.uniform(-0.4, 0.4), fat_mm + 0.55 * radius_mm + 1.0, radius_mm))
    return PatientTraits(
        anatomy_seed=int(rng.integers(2**31)),
        severity_position=float(rng.random()),
        kernel=kernel.name,
        noise_hu=float(rng.uniform(*kernel.noise_hu)),
        blur_mm=float(rng.uniform(*kernel.blur_mm)),
        parenchyma_hu=float(settings.parenchyma_hu + settings.parenchyma_spread_hu * rng.standard_normal()),
        dependent_gradient_hu=float(rng.uniform(*settings.dependent_gradient_hu)),
        texture_hu=float(rng.uniform(*settings.texture_hu)),
        vessel_area_fraction=float(rng.uniform(*settings.vessel_area_fraction)),
        lobule_spacing_mm=float(rng.uniform(*settings.lobule_spacing_mm)),
        chest_wall=chest_wall,
        wall_angle=float(rng.uniform(0.0, 2.0 * np.pi)),
        chest_wall_depth_mm=float(rng.uniform(*settings.chest_wall_depth_mm)),
        pleural_radius_mm=float(rng.uniform(*settings.pleural_radius_mm)),
        extrapleural_fat_mm=float(fat_mm),
        intercostal_muscle_mm=float(rng.uniform(*settings.intercostal_muscle_mm)),
        ribs=tuple(ribs) if chest_wall else (),
        fissure=fissure,
        fissure_angle=float(rng.uniform(0.0, np.pi)),
        fissure_offset=float(rng.uniform(-0.25, 0.25)),
        fissure_curvature=float(rng.uniform(-0.4, 0.4)),
    )


def disease_extent(
    label: str, severity: str | None, traits: PatientTraits, settings: PhantomSettings
) -> float:
    """Return the disease extent in [0, 1]: 0 for NT, else inside the severity's range."""
    if label not in CLASS_NAMES:
        raise ValueError(f"unknown class label {label!r}; expected one of {', '.join(CLASS_NAMES)}")
    if label == "NT":
        return 0.0
    if severity is None:
        raise ValueError(f"class {label} needs a severity")
    low, high = settings.extent_range(severity)
    return low + (high - low) * traits.severity_position


def _select_vessels(segments, dots, label, extent, vessel_rng, settings):
    """Panlobular emphysema prunes the thin vessels and thins the rest; other classes keep all."""
    draws = vessel_rng.random(len(segments) + len(dots))
    if label != "PLE":
        return segments, dots
    vessels = np.concatenate([segments, dots])
    thinness = 1.0 - vessels[:, 4] / max(float(vessels[:, 4].max()), 1e-6)
    kept = vessels[draws >= settings.ple_vessel_pruning * extent * 2.0 * thinness]
    kept[:, 4] *= 1.0 - settings.ple_vessel_thinning * extent
    return kept, np.zeros((0, 5))


def render_slice(
    label: str,
    severity: str | None,
    traits: PatientTraits,
    rng: np.random.Generator,
    settings: PhantomSettings = DEFAULT_SETTINGS,
) -> RenderedSlice:
    """Render one slice and return it with its lung mask and pleural distances.

    Args:
        label: one of ``CLASS_NAMES``.
        severity: one of ``SEVERITIES``; ignored for ``NT``.
        traits: the patient's traits (``draw_patient_traits``).
        rng: the slice's own generator; the patient's anatomy comes from ``traits.anatomy_seed``.
        settings: the phantom settings.
    """
    extent = disease_extent(label, severity, traits, settings)
    texture_rng, lobule_rng, vessel_rng, lesion_rng = (
        np.random.default_rng(stream) for stream in np.random.SeedSequence(traits.anatomy_seed).spawn(4)
    )
    size = settings.image_size
    shape = (size, size)
    boundaries = build_boundaries(traits, rng, settings)
    correlation = settings.to_pixels(settings.texture_correlation_mm)
    share = settings.slice_texture_share
    texture = traits.texture_hu * (
        np.sqrt(1.0 - share) * correlated_noise(shape, correlation, texture_rng)
        + np.sqrt(share) * correlated_noise(shape, correlation, rng)
    )
    rows, _ = pixel_grid(size)
    broad = settings.broad_variation_hu * correlated_noise(
        shape, settings.to_pixels(settings.broad_variation_mm), texture_rng
    )
    parenchyma = (
        traits.parenchyma_hu + traits.dependent_gradient_hu * (rows / (size - 1) - 0.5) + broad + texture
    )
    segments = grow_vessel_tree(boundaries.outward, traits.vessel_area_fraction, vessel_rng, settings)
    dot_count = settings.vessel_dots
    dot_centres = vessel_rng.uniform(0, size, (dot_count, 2)) + rng.normal(0.0, 1.0, (dot_count, 2))
    dot_widths = settings.to_pixels(vessel_rng.uniform(*settings.vessel_dot_width_mm, dot_count))
    dots = np.column_stack([dot_centres, dot_centres, dot_widths])
    segments, dots = _select_vessels(segments, dots, label, extent, vessel_rng, settings)
    dot_cover = np.zeros(shape, dtype=np.float32)
    avascular = np.zeros(shape, dtype=bool)
    if label in ("CLE", "PLE"):
        spacing = settings.to_pixels(traits.lobule_spacing_mm)
        lobules = build_lobules(spacing, settings.lobule_jitter, size, lobule_rng)
    if label == "PLE":
        parenchyma = add_panlobular(parenchyma, texture, lobules, extent, lesion_rng, settings)
    elif label == "CLE":
        parenchyma, dot_cover = add_centrilobular(
            parenchyma, lobules, boundaries, extent, lesion_rng, rng, settings
        )
    elif label == "PSE":
        parenchyma, avascular = add_paraseptal(parenchyma, boundaries, extent, lesion_rng, rng, settings)
    vessels = np.maximum(draw_vessels(segments, dots, rng, settings), dot_cover)
    vessels[avascular] = 0.0
    image = parenchyma + vessels * (settings.vessel_hu - parenchyma)
    fissure_width = settings.to_pixels(settings.fissure_width_mm)
    fissure = np.clip(fissure_width / 2.0 + 0.5 - np.abs(boundaries.fissure_offset), 0.0, 1.0)
    image = image + min(fissure_width, 1.0) * fissure * (settings.fissure_hu - image)
    image = np.where(boundaries.lung_mask, image, chest_wall_hounsfield(traits, boundaries, rng, settings))
    image = gaussian_blur(image, settings.to_pixels(traits.blur_mm))
    noise_correlation = settings.to_pixels(settings.kernel_noise_correlation_mm)
    image = image + traits.noise_hu * correlated_noise(shape, noise_correlation, rng)
    hounsfield = np.clip(image, settings.hu_minimum, settings.hu_maximum).astype(np.float32)
    distance_mm = (boundaries.pleural_distance * settings.pixel_spacing_mm).astype(np.float32)
    return RenderedSlice(hounsfield, boundaries.lung_mask, distance_mm)


def generate_slice(
    label: str,
    severity: str | None,
    traits: PatientTraits,
    rng: np.random.Generator,
    settings: PhantomSettings = DEFAULT_SETTINGS,
) -> np.ndarray:
    """Return one synthetic HRCT slice as float32 HU ``(S, S)``; see ``render_slice``."""
    return render_slice(label, severity, traits, rng, settings).hounsfield
