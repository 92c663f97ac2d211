"""Does this slice look like lung HRCT? A check run before a classification is trusted.

A classifier answers with a confident class for any picture it is given (pydicom's CT_small.dcm,
a slice without lung, was called PSE with probability 0.985). This check measures what fraction of
the slice is aerated lung parenchyma; the model's answer is flagged as not meaningful when too
little of the slice is lung.

In Hounsfield units, parenchyma is [-1000, -500] HU: normal inspiratory lung sits near -850 HU,
emphysema reaches -1000 HU, and denser structures (vessels, walls, soft tissue) are above -500 HU.
An 8-bit image is taken to be lung-windowed (the contract's window), where the same HU range is a
band of mid greys. A soft-tissue window (W400/L40, say) shows the lungs as saturated black instead,
so an 8-bit slice that is largely black is flagged too.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imaging.hounsfield import LungWindow, hounsfield_window
from imaging.scan import Scan

NOT_LUNG_WARNING = "this image does not look like lung HRCT: the prediction is not meaningful"


@dataclasses.dataclass(frozen=True)
class LungLikenessSettings:
    """Thresholds of the check.

    Attributes:
        parenchyma_hounsfield: the HU range counted as aerated lung parenchyma.
        minimum_parenchyma_fraction: the least share of the slice that must be parenchyma.
        minimum_parenchyma_spread: the least standard deviation (display grey levels) inside the
            parenchyma; a blank or constant image has none of lung's texture.
        maximum_black_fraction: for 8-bit images, the largest share of saturated black pixels.
            In the lung window only padding outside the field of view is black; in a soft-tissue
            window the lungs themselves are.
    """

    parenchyma_hounsfield: tuple[float, float] = (-1000.0, -500.0)
    minimum_parenchyma_fraction: float = 0.4
    minimum_parenchyma_spread: float = 2.0
    maximum_black_fraction: float = 0.35


@dataclasses.dataclass(frozen=True)
class LungLikeness:
    """The check's verdict and the figures it rests on."""

    looks_like_lung: bool
    parenchyma_fraction: float
    reason: str

    def as_record(self) -> dict[str, object]:
        """The verdict as JSON/CSV fields."""
        return {
            "looks_like_lung": self.looks_like_lung,
            "lung_fraction": round(self.parenchyma_fraction, 3),
            "warning": "" if self.looks_like_lung else f"{NOT_LUNG_WARNING} ({self.reason})",
        }


def assess_lung_likeness(
    scan: Scan, settings: LungLikenessSettings = LungLikenessSettings(), window: LungWindow = LungWindow()
) -> LungLikeness:
    """Measure how much of a slice is lung parenchyma and say whether it looks like lung HRCT."""
    # One measure for both kinds of slice: HU are taken through the lung window first, and the
    # parenchyma's HU range becomes the grey band it occupies in that window.
    grey = scan.windowed(window)
    lower, upper = hounsfield_window(np.array(settings.parenchyma_hounsfield), window)
    inside = (grey >= lower) & (grey <= upper)
    fraction = float(inside.mean())
    if fraction < settings.minimum_parenchyma_fraction:
        return LungLikeness(
            False,
            fraction,
            f"{fraction:.0%} of the image is lung parenchyma "
            f"({settings.parenchyma_hounsfield[0]:.0f} to {settings.parenchyma_hounsfield[1]:.0f} HU), "
            f"at least {settings.minimum_parenchyma_fraction:.0%} expected",
        )
    if float(grey[inside].std()) < settings.minimum_parenchyma_spread:
        return LungLikeness(False, fraction, "the image is uniform, without the texture of lung")
    black = float((grey == 0).mean())
    if not scan.is_hounsfield and black > settings.maximum_black_fraction:
        return LungLikeness(
            False,
            fraction,
            f"{black:.0%} of the 8-bit image is black; lung-windowed slices show lung as grey "
            "(a soft-tissue window?)",
        )
    return LungLikeness(True, fraction, "")
