"""Every number of the chest-study phantom, in one frozen dataclass.

The lung tissue, texture, lesion and kernel values are the slice phantom's
(``imaging.phantom.settings.PhantomSettings``), so axial slices of a study look like the slice
phantom's classes; this module adds the whole-chest anatomy and the scanner geometry, in mm.
"""

from __future__ import annotations

import dataclasses

from imaging.phantom.settings import DEFAULT_SETTINGS, PhantomSettings

# Matrix sizes: "small" for tests, "medium" for the accuracy evidence, "full" for benchmarks.
STUDY_SIZES: dict[str, int] = {"small": 128, "medium": 256, "full": 512}
# Patterns a study can carry; "CLE+PSE" is the mixed study radiologists see in smokers.
STUDY_PATTERNS: tuple[str, ...] = ("NT", "CLE", "PSE", "PLE", "CLE+PSE")


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """The chest anatomy, scanner and emphysema distribution of the study phantom."""

    matrix: int = 512
    # Scanner: in-plane spacing for a 512 matrix (scaled for smaller ones) and slice thickness.
    pixel_spacing_mm: tuple[float, float] = (0.6, 0.8)
    slice_thicknesses_mm: tuple[float, ...] = (0.625, 1.0, 1.0, 1.25, 2.0, 2.5)
    # Slices of a small/medium study: the slice interval follows from the chest length.
    slices_below_full: int = 64
    # Body: half-width and half-depth of the outline, subcutaneous fat and muscle (mm).
    body_half_width_mm: tuple[float, float] = (145.0, 180.0)
    body_half_depth_mm: tuple[float, float] = (100.0, 125.0)
    fat_mm: tuple[float, float] = (8.0, 22.0)
    muscle_mm: tuple[float, float] = (8.0, 14.0)
    # Lungs: height from the costophrenic recess to the apex, dome height, mediastinum.
    lung_height_mm: tuple[float, float] = (200.0, 250.0)
    margin_below_mm: float = 25.0
    margin_above_mm: float = 30.0
    dome_height_share: tuple[float, float] = (0.22, 0.32)
    dome_radius_mm: float = 95.0
    mediastinum_half_width_mm: tuple[float, float] = (10.0, 16.0)
    heart_radii_mm: tuple[float, float, float] = (62.0, 52.0, 50.0)
    # Airways (lumen radius, wall), carina height as a share of the lung height.
    trachea_radius_mm: tuple[float, float] = (7.5, 9.5)
    bronchus_radius_mm: tuple[float, float] = (5.0, 6.5)
    airway_wall_mm: float = 1.8
    carina_share: float = 0.62
    # Tissues (HU).
    soft_tissue_hu: float = 40.0
    abdomen_hu: float = 55.0
    bone_hu: float = 300.0
    cortex_hu: float = 700.0
    table_hu: float = 150.0
    table_gap_mm: tuple[float, float] = (4.0, 18.0)
    table_thickness_mm: float = 9.0
    rib_pitch_mm: float = 32.0
    rib_width_mm: float = 9.0
    air_hu: float = -1000.0
    # Vessels: trees from each hilum, grown until they fill a share of the lung.
    vessel_root_radius_mm: tuple[float, float] = (3.5, 5.0)
    vessel_volume_share: tuple[float, float] = (0.025, 0.04)
    vessel_max_segments: int = 6000
    # Emphysema distribution along the lung height t (0 base, 1 apex): weight = a + b * t.
    cle_zone_weight: tuple[float, float] = (0.15, 1.7)
    pse_zone_weight: tuple[float, float] = (0.4, 1.2)
    ple_zone_weight: tuple[float, float] = (1.7, -1.5)
    pse_cysts_per_extent: tuple[float, float] = (30.0, 320.0)
    ple_field_mm: float = 18.0
    # The lesion, texture, vessel and kernel values shared with the slice phantom.
    tissue: PhantomSettings = DEFAULT_SETTINGS

    def __post_init__(self) -> None:
        if self.matrix < 64:
            raise ValueError(f"study matrix must be at least 64 pixels, got {self.matrix}")

    @property
    def scale(self) -> float:
        """How much coarser than a 512 matrix the pixels are."""
        return 512.0 / self.matrix


def settings_for_size(size: str) -> StudySettings:
    """Return the settings of a named size (``small``, ``medium``, ``full``)."""
    if size not in STUDY_SIZES:
        raise ValueError(f"unknown study size {size!r}; expected one of {', '.join(STUDY_SIZES)}")
    return StudySettings(matrix=STUDY_SIZES[size])
