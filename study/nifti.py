"""Reading and writing a study as NIfTI (nibabel), refusing images that are not in HU.

NIfTI's world frame is RAS; the study frame is LPS (see ``study.volume``). A volume is written
with voxel axes ``(columns, rows, slices)`` and an affine that flips x and y, and read back
through nibabel's closest canonical (RAS) orientation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from study.errors import StudyError
from study.volume import Volume, to_hounsfield_int16

NIFTI_SUFFIXES = (".nii", ".nii.gz")
# A CT in HU has air near -1000: its low percentile must be well below this.
AIR_CHECK_HU = -500.0
HIGHEST_PLAUSIBLE_HU = 4000.0


def is_nifti(path: Path) -> bool:
    """True for ``.nii`` and ``.nii.gz`` files."""
    return path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES)


def write_nifti(path: Path, volume: Volume) -> None:
    """Write the volume as int16 NIfTI with its spacing and position."""
    import nibabel

    data = np.ascontiguousarray(volume.hounsfield.transpose(2, 1, 0))
    slice_step, row_step, column_step = volume.spacing_mm
    x0, y0, z0 = volume.origin_mm
    affine = np.diag([-column_step, -row_step, slice_step, 1.0])
    affine[:3, 3] = [-x0, -y0, z0]
    image = nibabel.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.header.set_slope_inter(1.0, 0.0)
    nibabel.save(image, str(path))


def read_nifti(path: Path, memory_cap_bytes: int) -> Volume:
    """Read a NIfTI CT volume in HU; refuse one that is not 3-D, too large or not in HU."""
    import nibabel

    try:
        image = nibabel.load(str(path))
    except Exception as error:  # nibabel raises several types for a broken file
        raise StudyError(f"{path.name} is not a readable NIfTI file ({error.__class__.__name__})") from error
    if len(image.shape) != 3:
        raise StudyError(f"{path.name} has {len(image.shape)} dimensions; a CT study needs 3")
    needed = int(np.prod(image.shape)) * 2
    if needed > memory_cap_bytes:
        raise StudyError(
            f"{path.name} needs {needed / 2**30:.1f} GiB as int16 HU, over the memory cap of "
            f"{memory_cap_bytes / 2**30:.1f} GiB"
        )
    canonical = nibabel.as_closest_canonical(image)
    data = np.asarray(canonical.dataobj, dtype=np.float32)
    low, high = np.percentile(data, [1, 99.9])
    if low > AIR_CHECK_HU or high > HIGHEST_PLAUSIBLE_HU:
        raise StudyError(
            f"{path.name} does not look like CT in Hounsfield units (1st percentile {low:.0f}, "
            f"99.9th {high:.0f}; air should be near -1000 HU); convert it to HU first"
        )
    spacing = canonical.header.get_zooms()[:3]
    # Canonical RAS axes: i towards the right, j to the front, k up; flip i and j for LPS.
    hounsfield = to_hounsfield_int16(data.transpose(2, 1, 0)[:, ::-1, ::-1])
    affine = canonical.affine
    corner = affine @ np.array([canonical.shape[0] - 1, canonical.shape[1] - 1, 0, 1.0])
    return Volume(
        hounsfield=np.ascontiguousarray(hounsfield),
        spacing_mm=(float(spacing[2]), float(spacing[1]), float(spacing[0])),
        origin_mm=(float(-corner[0]), float(-corner[1]), float(corner[2])),
        source="nifti",
        notes=("NIfTI carries no reconstruction kernel or slice thickness",),
    )
