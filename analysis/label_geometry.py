"""Put a user's label map (NIfTI or DICOM SEG) on a study's voxel grid, by geometry, with highdicom.

The study's grid is ``(slices, rows, columns)`` in the patient frame (LPS, ``study.volume``). A
label volume is matched to it by permuting and flipping axes (and, for a SEG, padding the slices
it has no frames for); a map that would need resampling is refused, naming both geometries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.errors import AnalysisError
from study.volume import Volume

# Positions in DICOM files are decimal strings; a hundredth of a millimetre is well inside a voxel.
GEOMETRY_TOLERANCE_MM = 0.01
# Segment labels and property-type code meanings accepted for each pattern map value.
SEGMENT_NAMES = {
    "NT": 1,
    "NORMAL TISSUE": 1,
    "NORMAL LUNG": 1,
    "NORMAL LUNG TISSUE": 1,
    "CLE": 2,
    "CENTRILOBULAR EMPHYSEMA": 2,
    "PSE": 3,
    "PARASEPTAL EMPHYSEMA": 3,
    "PLE": 4,
    "PANLOBULAR EMPHYSEMA": 4,
}


def study_geometry(volume: Volume):
    """Return the study's grid as a ``highdicom.VolumeGeometry`` (index ``(slice, row, column)`` to LPS)."""
    import highdicom

    slice_mm, row_mm, column_mm = volume.spacing_mm
    affine = np.array(
        [
            [0.0, 0.0, column_mm, volume.origin_mm[0]],
            [0.0, row_mm, 0.0, volume.origin_mm[1]],
            [slice_mm, 0.0, 0.0, volume.origin_mm[2]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    return highdicom.VolumeGeometry(affine, volume.shape, coordinate_system="PATIENT")


def _describe(affine: np.ndarray, shape: tuple[int, ...]) -> str:
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    origin = np.round(affine[:3, 3], 2).tolist()
    return f"shape {tuple(shape)}, spacing {np.round(spacing, 3).tolist()} mm, origin {origin}"


def match_to_study(labels, volume: Volume, path: Path, allow_padding: bool) -> np.ndarray:
    """Return the label array on the study's grid, or raise AnalysisError saying why it is not aligned."""
    target = study_geometry(volume)
    if not allow_padding and sorted(labels.spatial_shape) != sorted(volume.shape):
        raise AnalysisError(
            f"{path.name}: label map shape {tuple(labels.spatial_shape)} does not match the study's "
            f"{volume.shape} (slices, rows, columns): it must be on the study's voxel grid"
        )
    try:
        matched = labels.match_geometry(target, tol=GEOMETRY_TOLERANCE_MM)
    except (RuntimeError, ValueError) as error:
        raise AnalysisError(
            f"{path.name}: label map is not aligned with the study "
            f"({_describe(labels.affine, labels.spatial_shape)} against the study's "
            f"{_describe(target.affine, volume.shape)}); write it on the study's grid"
        ) from error
    return np.asarray(matched.array)


def read_nifti_labels(path: Path, volume: Volume) -> np.ndarray:
    """Return a NIfTI label map on the study's grid (same voxels, any axis order or direction)."""
    import highdicom
    import nibabel

    try:
        image = nibabel.load(str(path))
        if len(image.shape) != 3:
            raise AnalysisError(f"{path.name} has {len(image.shape)} dimensions; a label map needs 3")
        labels = highdicom.Volume.from_nibabel(image, coordinate_system="PATIENT")
    except AnalysisError:
        raise
    except Exception as error:  # nibabel and highdicom raise several types for a broken file
        raise AnalysisError(
            f"{path.name} is not a readable NIfTI label map ({type(error).__name__})"
        ) from error
    return match_to_study(labels, volume, path, allow_padding=False)


def segment_values(segmentation, path: Path) -> dict[int, int]:
    """Return segment number -> pattern map value, from each segment's label or property type."""
    values, unknown = {}, []
    for number in segmentation.get_segment_numbers():
        description = segmentation.get_segment_description(number)
        names = {str(description.segment_label).strip().upper()}
        names.add(str(description.segmented_property_type.meaning).strip().upper())
        found = {SEGMENT_NAMES[name] for name in names if name in SEGMENT_NAMES}
        if len(found) != 1:
            unknown.append(f"{number} {description.segment_label!r}")
            continue
        values[number] = found.pop()
    if unknown:
        raise AnalysisError(
            f"{path.name}: segments {', '.join(unknown)} are not NT, CLE, PSE or PLE (by label or "
            "segmented property type: normal tissue, centrilobular, paraseptal, panlobular emphysema)"
        )
    return values


def read_seg_labels(path: Path, volume: Volume) -> np.ndarray:
    """Return a DICOM SEG's segments on the study's grid as pattern map values (0 in no segment)."""
    import highdicom

    try:
        segmentation = highdicom.seg.segread(path)
    except Exception as error:  # pydicom and highdicom raise several types for a file that is no SEG
        raise AnalysisError(
            f"{path.name} is not a readable DICOM SEG ({type(error).__name__}: {error})"
        ) from error
    referenced = {str(item.SeriesInstanceUID) for item in segmentation.get("ReferencedSeriesSequence", [])}
    if volume.series_uid and referenced and volume.series_uid not in referenced:
        raise AnalysisError(
            f"{path.name} segments another series ({', '.join(sorted(referenced))}), not this study's"
        )
    values = segment_values(segmentation, path)
    try:  # overlapping segments, or frames that do not form a volume, cannot be one label map
        labels = segmentation.get_volume(combine_segments=True, relabel=False)
    except (RuntimeError, ValueError) as error:
        raise AnalysisError(f"{path.name}: its segments do not form one label volume ({error})") from error
    array = match_to_study(labels, volume, path, allow_padding=True)
    lookup = np.zeros(max(values, default=0) + 1, dtype=np.uint8)
    for number, value in values.items():
        lookup[number] = value
    return lookup[array.astype(np.int64)]
