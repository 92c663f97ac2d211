"""One synthetic patient's chest: the drawn traits and the analytic anatomy they define.

Coordinates are millimetres in the DICOM patient frame (LPS): x towards the patient's left
(image columns), y towards the back (image rows), z towards the head (slice position), with z = 0
at the lowest point of the lungs (the costophrenic recess). Every test of "what is here" is a
vectorised function of (x, y, z), so the same code labels the voxel grid and places lesions.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imaging.classes import SEVERITIES
from study.phantom.settings import STUDY_PATTERNS, StudySettings

# Labels of the anatomy truth volume.
OUTSIDE, RIGHT_LUNG, LEFT_LUNG, AIRWAY = 0, 1, 2, 3
ANATOMY_LABELS = {"right_lung": RIGHT_LUNG, "left_lung": LEFT_LUNG, "airway": AIRWAY}


@dataclasses.dataclass(frozen=True)
class Chest:
    """What is fixed for one synthetic patient and scan (all lengths in mm)."""

    pattern: str
    severity: str | None
    extent: float
    kernel: str
    noise_hu: float
    blur_mm: float
    pixel_spacing_mm: float
    slice_thickness_mm: float
    slice_interval_mm: float
    slices: int
    matrix: int
    body_half_width: float
    body_half_depth: float
    fat: float
    muscle: float
    lung_height: float
    dome_tops: tuple[float, float]
    mediastinum: float
    trachea_radius: float
    bronchus_radius: float
    table_gap: float
    parenchyma_hu: float
    dependent_gradient_hu: float
    texture_hu: float
    vessel_volume_share: float
    lobule_spacing_mm: float
    seed: int

    @property
    def inner_half_width(self) -> float:
        """Half-width of the rib cage (inside fat and muscle)."""
        return self.body_half_width - self.fat - self.muscle

    @property
    def inner_half_depth(self) -> float:
        """Half-depth of the rib cage."""
        return self.body_half_depth - self.fat - self.muscle

    @property
    def spine_y(self) -> float:
        """The y of the front of the vertebral bodies."""
        return self.inner_half_depth - 30.0

    @property
    def trachea_y(self) -> float:
        """The y of the trachea's axis."""
        return self.spine_y - 36.0

    @property
    def carina(self) -> np.ndarray:
        """Where the trachea divides into the main bronchi."""
        return np.array([0.0, self.trachea_y, 0.62 * self.lung_height])

    def hilum(self, side: int) -> np.ndarray:
        """The end of a main bronchus: side -1 right lung, +1 left lung."""
        drop = 28.0 if side > 0 else 22.0
        return np.array([side * (self.mediastinum + 16.0), self.trachea_y + 6.0, self.carina[2] - drop])

    def lung_centre(self, side: int) -> tuple[float, float]:
        """``(x, y)`` of a lung's centre; side -1 right, +1 left."""
        return side * 0.5 * self.inner_half_width, 0.08 * self.inner_half_depth

    def slice_positions(self, margin_below: float) -> np.ndarray:
        """Z of every slice centre, lowest first."""
        return -margin_below + self.slice_interval_mm * np.arange(self.slices)


def _extent(pattern: str, severity: str | None, rng: np.random.Generator, settings: StudySettings) -> float:
    if pattern == "NT":
        return 0.0
    low, high = settings.tissue.extent_range(severity)
    return float(rng.uniform(low, high))


def _kernel_named(name: str, kernels):
    for kernel in kernels:
        if kernel.name == name:
            return kernel
    raise ValueError(f"unknown kernel {name!r}; expected one of {', '.join(k.name for k in kernels)}")


def draw_chest(
    pattern: str, severity: str | None, seed: int, settings: StudySettings, kernel_name: str | None = None
) -> Chest:
    """Draw one patient and scanner; the same seed gives the same chest.

    ``kernel_name`` fixes the reconstruction kernel instead of drawing it; everything else is
    drawn as before, so one seed on two kernels is one patient reconstructed twice.
    """
    if pattern not in STUDY_PATTERNS:
        raise ValueError(f"unknown study pattern {pattern!r}; expected one of {', '.join(STUDY_PATTERNS)}")
    if pattern != "NT" and severity not in SEVERITIES:
        raise ValueError(f"pattern {pattern} needs a severity, one of {', '.join(SEVERITIES)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 14]))
    tissue = settings.tissue
    kernel = tissue.kernels[rng.integers(len(tissue.kernels))]
    if kernel_name is not None:
        kernel = _kernel_named(kernel_name, tissue.kernels)
    lung_height = rng.uniform(*settings.lung_height_mm)
    length = lung_height + settings.margin_below_mm + settings.margin_above_mm
    if settings.matrix >= 512:
        thickness = float(rng.choice(settings.slice_thicknesses_mm))
        interval = thickness
    else:
        interval = length / settings.slices_below_full
        thickness = interval
    slices = int(np.ceil(length / interval))
    dome = rng.uniform(*settings.dome_height_share)
    return Chest(
        pattern=pattern,
        severity=None if pattern == "NT" else severity,
        extent=_extent(pattern, severity, rng, settings),
        kernel=kernel.name,
        noise_hu=float(rng.uniform(*kernel.noise_hu)),
        blur_mm=float(rng.uniform(*kernel.blur_mm)),
        pixel_spacing_mm=float(rng.uniform(*settings.pixel_spacing_mm) * settings.scale),
        slice_thickness_mm=float(thickness),
        slice_interval_mm=float(interval),
        slices=slices,
        matrix=settings.matrix,
        body_half_width=float(rng.uniform(*settings.body_half_width_mm)),
        body_half_depth=float(rng.uniform(*settings.body_half_depth_mm)),
        fat=float(rng.uniform(*settings.fat_mm)),
        muscle=float(rng.uniform(*settings.muscle_mm)),
        lung_height=float(lung_height),
        # The right dome sits higher, over the liver.
        dome_tops=(float(dome * lung_height * 1.1), float(dome * lung_height * 0.9)),
        mediastinum=float(rng.uniform(*settings.mediastinum_half_width_mm)),
        trachea_radius=float(rng.uniform(*settings.trachea_radius_mm)),
        bronchus_radius=float(rng.uniform(*settings.bronchus_radius_mm)),
        table_gap=float(rng.uniform(*settings.table_gap_mm)),
        parenchyma_hu=float(tissue.parenchyma_hu + tissue.parenchyma_spread_hu * rng.standard_normal()),
        dependent_gradient_hu=float(rng.uniform(*tissue.dependent_gradient_hu)),
        texture_hu=float(rng.uniform(*tissue.texture_hu)),
        vessel_volume_share=float(rng.uniform(*settings.vessel_volume_share)),
        lobule_spacing_mm=float(rng.uniform(*tissue.lobule_spacing_mm)),
        seed=int(seed),
    )


def _profile(t):
    """Lung width by height: full below 40 % of the height, narrowing to the apex."""
    return np.sqrt(np.clip(1.0 - (np.maximum(t - 0.4, 0.0) / 0.6) ** 2, 0.0, 1.0))


def in_heart(chest: Chest, x, y, z, margin: float = 0.0):
    """True inside the heart (plus ``margin`` mm of pericardium)."""
    radii = np.array([62.0, 52.0, 50.0]) + margin
    centre = (0.2 * chest.inner_half_width, -0.35 * chest.inner_half_depth, 0.28 * chest.lung_height)
    return (
        ((x - centre[0]) / radii[0]) ** 2
        + ((y - centre[1]) / radii[1]) ** 2
        + ((z - centre[2]) / radii[2]) ** 2
    ) < 1.0


def lung_side(chest: Chest, x, y, z) -> np.ndarray:
    """Return 0 outside the lungs, RIGHT_LUNG or LEFT_LUNG (broadcast over x, y, z)."""
    x, y, z = np.broadcast_arrays(*(np.asarray(value, dtype=np.float32) for value in (x, y, z)))
    t = z / chest.lung_height
    width = _profile(t)
    a_in, b_in = chest.inner_half_width, chest.inner_half_depth
    thorax = (x / a_in) ** 2 + (y / b_in) ** 2 < 0.96
    medial_clearance = np.maximum(
        chest.mediastinum, np.sqrt(np.maximum(0.0, 38.0**2 - (y - chest.spine_y) ** 2))
    )
    common = thorax & (z > 0.0) & (t < 1.0) & ~in_heart(chest, x, y, z, margin=4.0)
    result = np.zeros(x.shape, dtype=np.uint8)
    for side, label, dome_top in ((-1, RIGHT_LUNG, chest.dome_tops[0]), (1, LEFT_LUNG, chest.dome_tops[1])):
        centre_x, centre_y = chest.lung_centre(side)
        ellipse = ((x - centre_x) / (0.62 * a_in * width + 1e-6)) ** 2 + (
            (y - centre_y) / (0.95 * b_in * width + 1e-6)
        ) ** 2 < 1.0
        radial = ((x - centre_x) ** 2 + (y - centre_y) ** 2) / 95.0**2
        dome = dome_top * np.clip(1.0 - radial, 0.0, 1.0)
        inside = common & ellipse & (side * x > medial_clearance) & (z > dome)
        result[inside] = label
    return result


def fissure_distance(chest: Chest, x, y, z) -> np.ndarray:
    """Distance in mm to the nearest fissure: an oblique one per lung, the horizontal one on the right.

    The oblique fissure rises from the front of the diaphragm to the back of the upper chest
    (1 mm up per mm backwards); the horizontal fissure lies in front of it on the right.
    """
    x, y, z = np.broadcast_arrays(*(np.asarray(value, dtype=np.float32) for value in (x, y, z)))
    level = 0.45 * chest.lung_height
    oblique = ((z - level) - (y - 0.08 * chest.inner_half_depth)) / np.sqrt(2.0)
    horizontal = np.where((x < 0) & (oblique > 0), np.abs(z - 0.62 * chest.lung_height), np.inf)
    return np.minimum(np.abs(oblique), horizontal).astype(np.float32)
