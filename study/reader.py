"""Read a study from whatever the user points at: a DICOM folder, a .zip of one, or NIfTI."""

from __future__ import annotations

import tempfile
from pathlib import Path

from study.archive import extract_zip
from study.errors import StudyError
from study.nifti import is_nifti, read_nifti
from study.series import ReadSettings, read_dicom_folder
from study.volume import Volume


def read_study(path: Path, settings: ReadSettings = ReadSettings()) -> Volume:
    """Return the study at ``path`` as a Volume, or raise StudyError naming the problem."""
    if not path.exists():
        raise StudyError(f"{path} does not exist")
    if path.is_dir():
        return read_dicom_folder(path, settings)
    if is_nifti(path):
        return read_nifti(path, settings.memory_cap_bytes)
    if path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="emphysema-study-") as folder:
            extract_zip(path, Path(folder), settings.memory_cap_bytes)
            volume = read_dicom_folder(Path(folder), settings)
        return Volume(**{**volume.__dict__, "source": "zip"})
    raise StudyError(
        f"{path.name} is not a study: give a folder of DICOM files, a .zip of one, or a .nii/.nii.gz volume"
    )
