"""The frozen settings of the analysis stages: ROI extraction, study analysis, waiting for a PACS series."""

from __future__ import annotations

import argparse
import dataclasses

from analysis.density_reference import PARENCHYMA_HU
from imaging.errors import UsageError

# Measured: the best of 24, 32, 40 and 56 mm ROI models on held-out phantom studies by the rule in
# analysis.accuracy_summary.choose_best (analysis/results/pattern_accuracy/; a test keeps this equal
# to that comparison's best). A 32 mm square holds a few secondary lobules (10-25 mm).
DEFAULT_ROI_MM = 32.0
# 64 px over 32 mm is 0.5 mm a pixel: finer than a chest CT's in-plane spacing, so a full-size
# scan's ROI is upsampled a little and a coarser one more.
DEFAULT_ROI_PIXELS = 64
MINIMUM_ROI_PIXELS = 32
# The median density reference (analysis.density_reference) of the 138 medium phantom studies the
# default model is trained on (analysis/results/default_model_accuracy.sh): moving each study
# there shifts them least. Any value works as long as training and analysis share it.
DEFAULT_DENSITY_REFERENCE_HU = -815.0


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise UsageError(f"{name} must be positive, got {value}")


@dataclasses.dataclass(frozen=True)
class RoiSettings:
    """How ROIs are cut from a study with a pattern map.

    Attributes:
        roi_mm: the side of the square ROI in mm (the model's field of view).
        roi_pixels: the side each ROI is resampled to (in HU) before it is stored, so ROIs from
            scans of any pixel spacing share one scale; train at this image size and the model
            sees tiles exactly as `analyze` sends them. At least 32 (the readers' minimum).
        stride_mm: the distance between ROI centres in mm (default: the ROI side, no overlap).
        slice_step: every ``slice_step``-th slice that holds lung is used.
        minimum_lung_share: an ROI with less lung than this share of its pixels is skipped.
        emphysema_share: an ROI is labelled with an emphysema pattern when emphysema (CLE, PSE,
            PLE) covers at least this share of its lung: a CLE region is mostly normal lung
            around its lucencies, as in the CT emphysema database's hand-drawn ROIs.
        normal_ceiling: an ROI is NT when emphysema covers at most this share; ROIs between
            the two are ambiguous and skipped.
        minimum_label_share: the chosen emphysema pattern must hold this share of the ROI's
            emphysema voxels, else the ROI is mixed and skipped.
        density_reference_hu: each study's HU are shifted so its lung density reference
            (``analysis.density_reference``) is this before ROIs are cut; the model trained on
            them carries it, and `analyze` shifts each study the same way. None keeps raw HU.
    """

    roi_mm: float = DEFAULT_ROI_MM
    roi_pixels: int = DEFAULT_ROI_PIXELS
    stride_mm: float | None = None
    slice_step: int = 2
    minimum_lung_share: float = 0.75
    emphysema_share: float = 0.10
    normal_ceiling: float = 0.02
    minimum_label_share: float = 0.6
    density_reference_hu: float | None = DEFAULT_DENSITY_REFERENCE_HU

    def __post_init__(self) -> None:
        _check_positive("the ROI size (mm)", self.roi_mm)
        if self.roi_pixels < MINIMUM_ROI_PIXELS:
            raise UsageError(
                f"ROIs must be stored at {MINIMUM_ROI_PIXELS} pixels or more, got {self.roi_pixels}"
            )
        if self.stride_mm is not None:
            _check_positive("the stride (mm)", self.stride_mm)
        _check_positive("the slice step", self.slice_step)
        shares = {
            "minimum lung share": self.minimum_lung_share,
            "emphysema share": self.emphysema_share,
            "minimum label share": self.minimum_label_share,
        }
        for name, share in shares.items():
            if not 0 < share <= 1:
                raise UsageError(f"the {name} must be in (0, 1], got {share}")
        if not 0 <= self.normal_ceiling < self.emphysema_share:
            raise UsageError(f"the normal ceiling must be in [0, emphysema share), got {self.normal_ceiling}")
        low, high = PARENCHYMA_HU
        if self.density_reference_hu is not None and not low < self.density_reference_hu < high:
            raise UsageError(
                f"the density reference must be lung parenchyma ({low:g} to {high:g} HU), "
                f"got {self.density_reference_hu:g}"
            )

    @property
    def resolved_stride_mm(self) -> float:
        """The stride in mm: the given one, else the ROI side."""
        return self.stride_mm if self.stride_mm is not None else self.roi_mm


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """How a study is tiled, classified and summarised.

    Attributes:
        stride_mm: the side of the square cell each tile labels in the pattern map, in mm; tiles
            are centred on the cells, so the map has this resolution in-plane.
        slice_step: every ``slice_step``-th lung slice is analysed.
        field_of_view_mm: overrides the model's field of view (else read from its config).
        predominance_points: upper-zone emphysema share must exceed the lower zone's by this many
            points (or the reverse) to call a zone predominance; else ``none``.
        overlay_slices: slices in the overlay montage.
        include_patient_details: print the patient's name, ID and birth date on the PDF report
            (off by default: a report leaves the analysis without identifiers unless asked).
        minimum_lung_share: a region model (one with a field of view) classifies only tiles with
            at least this share of lung, as its training ROIs had (``RoiSettings``); the cells of
            edge tiles take the nearest classified tile's label. A slice-level model saw whole
            slices, chest wall included, and classifies every tile.
    """

    stride_mm: float = 10.0
    slice_step: int = 2
    field_of_view_mm: float | None = None
    predominance_points: float = 5.0
    overlay_slices: int = 9
    include_patient_details: bool = False
    minimum_lung_share: float = RoiSettings.minimum_lung_share

    def __post_init__(self) -> None:
        _check_positive("the stride (mm)", self.stride_mm)
        _check_positive("the slice step", self.slice_step)
        if self.field_of_view_mm is not None:
            _check_positive("the field of view (mm)", self.field_of_view_mm)
        _check_positive("the overlay slice count", self.overlay_slices)
        if not 0 <= self.minimum_lung_share <= 1:
            raise UsageError(f"the minimum lung share must be in [0, 1], got {self.minimum_lung_share}")


def add_grid_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--stride-mm`` and ``--slice-step``, the analysis grid `analyze` and `analysis-eval` share."""
    defaults = AnalysisSettings()
    parser.add_argument(
        "--stride-mm",
        type=float,
        default=defaults.stride_mm,
        help="map cell side in mm (default %(default)s)",
    )
    parser.add_argument(
        "--slice-step",
        type=int,
        default=defaults.slice_step,
        help="analyse every Nth lung slice (default %(default)s)",
    )


@dataclasses.dataclass(frozen=True)
class ArrivalSettings:
    """How long a series must hold still before it is fetched (a study may still be arriving).

    Attributes:
        settle_s: the series' instance count must stay the same over this many seconds.
        max_wait_s: give up (a clear error) when it still changes after this many seconds.
    """

    settle_s: float = 2.0
    max_wait_s: float = 60.0

    def __post_init__(self) -> None:
        if self.settle_s < 0 or self.max_wait_s < 0:
            raise UsageError("the settle time and the longest wait must not be negative")
