"""Every number the synthetic HRCT phantom uses, in one frozen dataclass.

Values are in HU and millimetres and come from the imaging conventions in the research notes
(normal parenchyma about -850 HU, emphysema <= -950 HU, vessels about +40 HU, secondary
lobules 1-2.5 cm, paraseptal cysts 5-20 mm with -700..-500 HU walls). Pairs are
``(low, high)`` ranges drawn uniformly per patient or per lesion.
"""

from __future__ import annotations

import dataclasses

from imaging.classes import SEVERITIES
from imaging.errors import UsageError


@dataclasses.dataclass(frozen=True)
class KernelProfile:
    """A reconstruction kernel: how sharp the image is and how much noise it carries.

    Sharp ("bone") kernels show fine detail but add high-frequency noise, which pushes normal
    lung below -950 HU and inflates emphysema scores (Gallardo-Estrella 2016).
    """

    name: str
    noise_hu: tuple[float, float]
    blur_mm: tuple[float, float]


DEFAULT_KERNELS: tuple[KernelProfile, ...] = (
    KernelProfile("STANDARD", noise_hu=(12.0, 20.0), blur_mm=(0.55, 0.75)),
    KernelProfile("LUNG", noise_hu=(22.0, 32.0), blur_mm=(0.35, 0.5)),
    KernelProfile("BONE", noise_hu=(34.0, 46.0), blur_mm=(0.2, 0.35)),
)


@dataclasses.dataclass(frozen=True)
class PhantomSettings:
    """The phantom's geometry, tissue values and disease recipes (defaults are the reference)."""

    # Geometry: 256 px at 0.7 mm is an 18 cm field of view, about one lung.
    image_size: int = 256
    pixel_spacing_mm: float = 0.7
    slice_thickness_mm: float = 1.0
    slice_interval_mm: float = 10.0
    # Parenchyma: density, its spread between patients, the gravity gradient and the texture.
    parenchyma_hu: float = -850.0
    parenchyma_spread_hu: float = 20.0
    dependent_gradient_hu: tuple[float, float] = (20.0, 60.0)
    broad_variation_hu: float = 10.0
    broad_variation_mm: float = 12.0
    texture_hu: tuple[float, float] = (18.0, 28.0)
    texture_correlation_mm: float = 0.9
    slice_texture_share: float = 0.5
    # Field of view: how often the chest wall and a fissure are in view (class-independent).
    chest_wall_probability: float = 0.6
    fissure_probability: float = 0.5
    chest_wall_depth_mm: tuple[float, float] = (14.0, 32.0)
    pleural_radius_mm: tuple[float, float] = (110.0, 260.0)
    extrapleural_fat_mm: tuple[float, float] = (0.7, 2.0)
    intercostal_muscle_mm: tuple[float, float] = (6.0, 11.0)
    muscle_hu: float = 45.0
    fat_hu: float = -100.0
    soft_tissue_texture_hu: float = 12.0
    rib_count: tuple[int, int] = (0, 2)
    rib_radii_mm: tuple[float, float] = (4.5, 7.5)
    rib_cortex_mm: float = 1.4
    rib_cortex_hu: float = 750.0
    rib_marrow_hu: float = 220.0
    fissure_hu: float = 0.0
    fissure_width_mm: float = 0.45
    slice_wall_jitter_mm: float = 0.5
    # Vessels: a tree from the hilum towards the pleura, plus vessels seen end-on as dots.
    vessel_hu: float = 40.0
    vessel_area_fraction: tuple[float, float] = (0.035, 0.05)
    vessel_max_roots: int = 8
    vessel_root_width_mm: tuple[float, float] = (2.0, 3.5)
    vessel_min_width_mm: float = 0.6
    vessel_width_ratio: tuple[float, float] = (0.55, 0.85)
    vessel_length_to_width: tuple[float, float] = (5.0, 9.0)
    vessel_outward_pull: float = 0.3
    vessel_branch_angle_deg: tuple[float, float] = (30.0, 65.0)
    vessel_stop_probability: float = 0.1
    vessel_side_stop_probability: float = 0.35
    vessel_out_of_plane_probability: float = 0.12
    vessel_dots: int = 45
    vessel_dot_width_mm: tuple[float, float] = (0.5, 2.2)
    slice_vessel_rotation_deg: float = 4.0
    # Secondary pulmonary lobules: a jittered lattice, 1-2.5 cm apart.
    lobule_spacing_mm: tuple[float, float] = (11.0, 22.0)
    lobule_jitter: float = 0.35
    # Severity -> disease extent in [0, 1], per class recipe below. Trace and mild overlap
    # with normal lung on purpose.
    severity_extent: tuple[tuple[float, float], ...] = ((0.03, 0.1), (0.1, 0.25), (0.3, 0.5), (0.55, 0.85))
    lesion_persistence: float = 0.8
    # CLE: wall-less centrilobular lucencies, sparing the subpleural lung.
    cle_lucency_hu: tuple[float, float] = (-990.0, -960.0)
    cle_diameter_mm: tuple[float, float] = (2.0, 10.0)
    cle_involvement: float = 1.3
    cle_shape_irregularity: float = 0.25
    cle_edge_mm: tuple[float, float] = (0.6, 1.8)
    cle_central_dot_probability: float = 0.4
    cle_central_dot_mm: float = 0.8
    cle_subpleural_sparing_mm: float = 8.0
    # PSE: one row of thin-walled subpleural / perifissural cysts.
    pse_lucency_hu: tuple[float, float] = (-995.0, -965.0)
    pse_wall_hu: float = -420.0
    pse_wall_mm: float = 0.6
    pse_diameter_mm: tuple[float, float] = (5.0, 20.0)
    pse_cysts: tuple[int, int] = (1, 24)
    pse_inset: float = 0.8
    # PLE: diffuse whole-lobule low attenuation, less texture, fewer and thinner vessels.
    ple_shift_hu: float = 125.0
    ple_lobule_involvement: tuple[float, float] = (0.5, 1.0)
    ple_lobule_strength: tuple[float, float] = (0.85, 1.0)
    ple_texture_reduction: float = 0.8
    ple_border_mm: float = 1.0
    ple_vessel_thinning: float = 0.4
    ple_vessel_pruning: float = 0.45
    # Reconstruction kernels (noise and sharpness), one per patient.
    kernels: tuple[KernelProfile, ...] = DEFAULT_KERNELS
    kernel_noise_correlation_mm: float = 0.35
    hu_minimum: float = -1024.0
    hu_maximum: float = 3071.0

    def __post_init__(self) -> None:
        if self.image_size < 32:
            raise UsageError(f"phantom image_size must be at least 32 pixels, got {self.image_size}")
        if not self.pixel_spacing_mm > 0:
            raise UsageError(f"pixel_spacing_mm must be positive, got {self.pixel_spacing_mm}")
        if len(self.severity_extent) != len(SEVERITIES):
            raise UsageError(f"severity_extent needs one range per severity {SEVERITIES}")
        if not self.kernels:
            raise UsageError("at least one reconstruction kernel is needed")

    @property
    def field_of_view_mm(self) -> float:
        """The width of the image in millimetres."""
        return self.image_size * self.pixel_spacing_mm

    def to_pixels(self, millimetres: float) -> float:
        """Convert a length in millimetres to pixels."""
        return millimetres / self.pixel_spacing_mm

    def extent_range(self, severity: str) -> tuple[float, float]:
        """Return the ``(low, high)`` disease extent of a severity name."""
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
        return self.severity_extent[SEVERITIES.index(severity)]

    def with_image_size(self, image_size: int) -> PhantomSettings:
        """Return settings for another image size, keeping the field of view (pixels scale)."""
        spacing = self.field_of_view_mm / image_size
        return dataclasses.replace(self, image_size=image_size, pixel_spacing_mm=spacing)


# The reference settings, shared as the default argument of the phantom's functions.
DEFAULT_SETTINGS = PhantomSettings()
