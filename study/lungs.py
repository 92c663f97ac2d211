"""Classical lung segmentation: left and right lung without the trachea and main bronchi.

The recipe follows CIP's GeneratePartialLungLabelMap and Hu, Hoffman & Reinhardt (2001):
threshold air; drop air connected to the edge of any slice (outside the body, under the
table); cut out the airway tree (``study.airways``); keep large components; split left from
right at the trachea (image left is the right lung), cutting lungs that touch at the thinnest
column of each slice; close each lung and fill its holes slice by slice to take in vessels;
then check the result is a plausible pair of lungs. No model is downloaded.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from study.airways import track_airways
from study.errors import StudyError
from study.volume import Volume

RIGHT_LUNG, LEFT_LUNG = 1, 2
IN_PLANE = np.array(
    [[[0, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[0, 0, 0]] * 3], dtype=bool
)


@dataclasses.dataclass(frozen=True)
class SegmentationSettings:
    """Thresholds and sizes of the lung segmentation."""

    air_threshold_hu: float = -400.0
    airway_margin_voxels: int = 2
    closing_mm: float = 4.0
    largest_hole_mm2: float = 500.0
    minimum_component_share: float = 0.04
    lung_volume_ml: tuple[float, float] = (200.0, 8000.0)


@dataclasses.dataclass(frozen=True)
class LungMasks:
    """Labels ``(slices, rows, columns)``: 1 right lung, 2 left lung; and the airway found."""

    labels: np.ndarray
    airway: np.ndarray


def _inside_air(hounsfield: np.ndarray, threshold: float) -> np.ndarray:
    """Air below ``threshold`` that touches no edge of any slice (lungs and airways)."""
    labels, _ = ndimage.label(hounsfield < threshold)
    edges = np.concatenate([labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]], axis=None)
    outside = np.unique(edges)
    keep = np.ones(labels.max() + 1, dtype=bool)
    keep[outside] = False
    keep[0] = False  # not air at all
    return keep[labels]


def dilate_within_box(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Return ``ndimage.binary_dilation(mask, iterations=iterations)``, computed in a box only.

    The box is the mask's, grown by ``iterations``: nothing further can be reached, so the voxels
    are the same. The airway is a sliver of the chest box, which dilating whole took a tenth of
    the segmentation.
    """
    result = np.zeros_like(mask)
    if not mask.any():
        return result
    box = tuple(
        slice(max(int(where.min()) - iterations, 0), int(where.max()) + 1 + iterations)
        for where in np.nonzero(mask)
    )
    result[box] = ndimage.binary_dilation(mask[box], iterations=iterations)
    return result


def _split_touching(component: np.ndarray, midline: int) -> np.ndarray:
    """Return the right-lung part of a component spanning both sides (cut at each slice's thinnest column)."""
    columns = component.shape[2]
    window = slice(max(midline - columns // 8, 0), min(midline + columns // 8, columns))
    counts = component[:, :, window].sum(axis=1)
    cut = window.start + np.argmin(counts, axis=1)
    return component & (np.arange(columns)[np.newaxis, np.newaxis, :] < cut[:, np.newaxis, np.newaxis])


def _assign_sides(lungs_air: np.ndarray, midline: int, share: float) -> np.ndarray:
    labels, count = ndimage.label(lungs_air)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    result = np.zeros(lungs_air.shape, dtype=np.uint8)
    for label in np.flatnonzero(sizes >= share * sizes.sum()):
        component = labels == label
        right_side = component[:, :, :midline].sum()
        if min(right_side, sizes[label] - right_side) > 0.15 * sizes[label]:
            right = _split_touching(component, midline)
            result[right] = RIGHT_LUNG
            result[component & ~right] = LEFT_LUNG
        else:
            result[component] = RIGHT_LUNG if right_side > sizes[label] / 2 else LEFT_LUNG
    return result


def _close_and_fill(mask: np.ndarray, size: int, largest_hole: int) -> np.ndarray:
    """Closing with a square of ``size`` pixels in each slice, then filling holes slice by slice.

    Only holes up to ``largest_hole`` pixels are filled: vessels are, but the top of a
    diaphragm dome, which shows as an island of liver inside the lung, is not.
    """
    # Closed on a zero margin, as if the image went on with no lung beyond its edge: the filters'
    # default mirroring at the border would carry a lung that runs close to the edge out onto it.
    square = (1, size, size)
    padded = np.pad(mask.astype(np.uint8), ((0, 0), (size, size), (size, size)))
    closed = ndimage.minimum_filter(ndimage.maximum_filter(padded, size=square), size=square)
    closed = closed[:, size:-size, size:-size].astype(bool)
    background, _ = ndimage.label(~closed, structure=IN_PLANE)
    edges = np.concatenate(
        [background[:, 0, :], background[:, -1, :], background[:, :, 0], background[:, :, -1]], axis=None
    )
    fill = np.bincount(background.ravel()) <= largest_hole
    fill[np.unique(edges)] = False
    fill[0] = False
    return closed | fill[background]


def bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...]:
    """The smallest box holding ``mask``, widened in-plane by ``margin`` voxels (clipped to the image)."""
    box = []
    for axis in range(3):
        present = np.flatnonzero(mask.any(axis=tuple(other for other in range(3) if other != axis)))
        grow = 0 if axis == 0 else margin
        box.append(slice(max(int(present[0]) - grow, 0), min(int(present[-1]) + 1 + grow, mask.shape[axis])))
    return tuple(box)


def segment_lungs(volume: Volume, settings: SegmentationSettings = SegmentationSettings()) -> LungMasks:
    """Segment the right and left lung of a study, or raise StudyError saying why it cannot."""
    hounsfield = volume.hounsfield
    candidate = _inside_air(hounsfield, settings.air_threshold_hu)
    if not candidate.any():
        raise StudyError("no air inside the body: this does not look like a chest CT")
    size = max(3, int(round(settings.closing_mm / volume.spacing_mm[1])) * 2 + 1)
    # Everything after this works inside the box around the air in the chest: a third of the volume.
    box = bounding_box(candidate, size + settings.airway_margin_voxels)
    candidate = candidate[box]
    airway = track_airways(hounsfield[box], candidate, volume.spacing_mm)
    midline = int(round(np.nonzero(airway.any(axis=(0, 1)))[0].mean()))
    margin = airway
    if settings.airway_margin_voxels:
        margin = dilate_within_box(airway, settings.airway_margin_voxels)
    sides = _assign_sides(candidate & ~margin, midline, settings.minimum_component_share)
    labels = np.zeros(hounsfield.shape, dtype=np.uint8)
    boxed = labels[box]
    for label in (RIGHT_LUNG, LEFT_LUNG):
        lung = sides == label
        if not lung.any():
            continue
        inner = bounding_box(lung, size)
        largest_hole = int(settings.largest_hole_mm2 / (volume.spacing_mm[1] * volume.spacing_mm[2]))
        filled = _close_and_fill(lung[inner], size, largest_hole) & ~airway[inner] & (boxed[inner] == 0)
        boxed[inner][filled] = label
    full_airway = np.zeros(hounsfield.shape, dtype=bool)
    full_airway[box] = airway
    _check(labels, volume, settings)
    return LungMasks(labels, full_airway)


def _check(labels: np.ndarray, volume: Volume, settings: SegmentationSettings) -> None:
    """Refuse to report on masks that cannot be a pair of lungs."""
    low, high = settings.lung_volume_ml
    for label, name in ((RIGHT_LUNG, "right"), (LEFT_LUNG, "left")):
        millilitres = np.count_nonzero(labels == label) * volume.voxel_volume_ml
        if not low <= millilitres <= high:
            raise StudyError(
                f"the {name} lung measures {millilitres:.0f} mL, outside {low:.0f}-{high:.0f} mL: "
                "segmentation failed"
            )
    edges = (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1])
    if any(edge.any() for edge in edges):
        raise StudyError("the lung mask touches the edge of the image: the field of view cuts the lungs")
