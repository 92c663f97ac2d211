"""Studies with a pattern map: the phantom's ``labels.npz``, or a user's NIfTI label map or DICOM SEG.

A study folder holds its series (in ``dicom/`` or the folder itself) and one label file:

- ``labels.npz``: the phantom's truth, a ``pattern`` volume on the series' grid;
- ``labels.nii.gz`` / ``labels.nii``: a label map with values 0 outside the lungs, 1 NT, 2 CLE,
  3 PSE, 4 PLE (the pattern map's values), on the study's voxel grid in any axis order;
- ``labels.dcm``: a DICOM SEG (read with highdicom) whose segments are named or coded NT, CLE,
  PSE, PLE (or normal tissue, centrilobular, paraseptal, panlobular emphysema); voxels in no
  segment are outside the lungs.

Label maps are placed on the study's grid by their own geometry (axes permuted and flipped as
needed, never resampled); one that needs resampling, or does not cover the study, is refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from analysis.errors import AnalysisError
from analysis.label_geometry import read_nifti_labels, read_seg_labels
from study.reader import read_study
from study.volume import Volume

LABEL_FILES = ("labels.npz", "labels.nii.gz", "labels.nii", "labels.dcm")


@dataclasses.dataclass(frozen=True)
class LabelledStudy:
    """A study, its pattern map (uint8, the volume's shape, 0..4) and what its truth file says."""

    name: str
    volume: Volume
    pattern: np.ndarray
    severity: str | None = None
    truth: dict | None = None


def label_file(folder: Path) -> Path | None:
    """Return the folder's label file (the first of ``LABEL_FILES`` present), or None."""
    return next((folder / name for name in LABEL_FILES if (folder / name).is_file()), None)


def find_labelled_studies(paths: list[Path]) -> list[Path]:
    """Return the study folders (holding a label file) among ``paths`` and their children."""
    studies = []
    for path in paths:
        if path.is_dir() and label_file(path):
            studies.append(path)
        elif path.is_dir() and (found := sorted(child for child in path.iterdir() if label_file(child))):
            studies.extend(found)
        else:
            raise AnalysisError(
                f"{path} is not a study with a pattern map ({', '.join(LABEL_FILES)}) nor a folder of them"
            )
    return studies


def read_pattern(path: Path, volume: Volume) -> np.ndarray:
    """Return the pattern map in ``path`` on the study's grid, checking its values are 0..4."""
    if path.name.endswith(".npz"):
        with np.load(path) as labels:
            if "pattern" not in labels:
                raise AnalysisError(f"{path} has no 'pattern' volume")
            pattern = labels["pattern"]
        if pattern.shape != volume.shape:
            raise AnalysisError(
                f"{path}: pattern map {pattern.shape} does not match the series {volume.shape}"
            )
    elif path.name.endswith((".nii", ".nii.gz")):
        pattern = read_nifti_labels(path, volume)
    else:
        pattern = read_seg_labels(path, volume)
    if not np.issubdtype(pattern.dtype, np.integer) and not np.array_equal(pattern, np.rint(pattern)):
        raise AnalysisError(f"{path}: label values must be whole numbers 0..4 (0 outside the lungs)")
    found = np.unique(pattern)
    if found.min() < 0 or found.max() > 4:
        raise AnalysisError(
            f"{path}: label values {found.tolist()} outside 0..4 "
            "(0 outside the lungs, 1 NT, 2 CLE, 3 PSE, 4 PLE)"
        )
    return pattern.astype(np.uint8)


def read_labelled_study(folder: Path, labels: Path | None = None) -> LabelledStudy:
    """Read a study and its pattern map (``labels``, else the folder's label file) and truth.json."""
    series = folder / "dicom" if (folder / "dicom").is_dir() else folder
    volume = read_study(series)
    labels = labels or label_file(folder)
    if labels is None:
        raise AnalysisError(f"{folder} holds no label file ({', '.join(LABEL_FILES)})")
    pattern = read_pattern(labels, volume)
    truth_path = folder / "truth.json" if folder.is_dir() else None
    truth = (
        json.loads(truth_path.read_text(encoding="utf-8")) if truth_path and truth_path.is_file() else None
    )
    name = folder.name.removesuffix(".zip").removesuffix(".nii.gz").removesuffix(".nii")
    return LabelledStudy(name, volume, pattern, (truth or {}).get("severity"), truth)
