"""A labelled data set of slices: found in either layout, then loaded as model input.

Two layouts (README "Data formats"): ``root/manifest.csv`` (``path,label,patient_id[,severity]``)
if present, else class folders ``root/CLASS/[PATIENT/]FILE``. Every problem (unknown label,
missing or unreadable file, empty class) is collected and reported together in one
:class:`DatasetError`, so a user fixes them all in one pass.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from imaging.classes import SEVERITIES, class_index
from imaging.contract import CLASS_NAMES
from imaging.errors import ScanReadError
from imaging.hounsfield import LungWindow
from imaging.layouts import read_class_folders, read_manifest
from imaging.readers import read_scan
from imaging.samples import DatasetError, Sample
from imaging.scan import to_model_input

__all__ = [
    "MANIFEST_NAME",
    "DatasetError",
    "Sample",
    "labels_to_indices",
    "load_images",
    "read_class_folders",
    "read_dataset",
    "load_readable_images",
    "read_manifest",
    "summarize",
]

MANIFEST_NAME = "manifest.csv"
# Written by `emphysema synth` beside its data set: the mark of the synthetic phantom.
PHANTOM_SETTINGS_NAME = "synth_settings.json"
LUNG_WINDOW = LungWindow()


def read_dataset(
    root: str | Path, require_all_classes: bool = True, skipped: list[str] | None = None
) -> list[Sample]:
    """Read ``root/manifest.csv`` if present, else the class-folder layout under ``root``.

    Args:
        root: the data set folder.
        require_all_classes: report a class with no images as a problem (training needs all four;
            an external evaluation set may pass False).
        skipped: when given, files that are missing or not readable images are left out and
            described here (one line each) instead of being reported as problems.

    Raises:
        DatasetError: the folder is missing, or lists every problem found in it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, ["no such data set folder"])
    manifest = root / MANIFEST_NAME
    if manifest.is_file():
        return read_manifest(manifest, require_all_classes, skipped)
    return read_class_folders(root, require_all_classes, skipped)


def is_phantom(root: str | Path) -> bool:
    """Whether the data set is the synthetic phantom: ``emphysema synth`` left its settings beside it."""
    try:
        document = json.loads((Path(root) / PHANTOM_SETTINGS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "phantom" in document


def load_images(
    samples: Sequence[Sample], image_size: int, window: LungWindow = LUNG_WINDOW, progress: bool = True
) -> np.ndarray:
    """Read, window and resize every sample into one uint8 array ``(N, image_size, image_size, 1)``.

    Args:
        samples: from :func:`read_dataset`.
        image_size: the model's input side in pixels.
        window: the lung window for HU images (8-bit images are already windowed).
        progress: show a tqdm progress bar.

    Raises:
        DatasetError: listing every file that could not be read (after trying them all).
    """
    images, problems = _decode(samples, image_size, window, progress)
    if problems:
        raise DatasetError("load_images", list(problems.values()), unreadable=len(problems))
    return images


def load_readable_images(
    samples: Sequence[Sample],
    image_size: int,
    window: LungWindow,
    skipped: list[str],
    progress: bool = True,
) -> tuple[list[Sample], np.ndarray]:
    """Like :func:`load_images`, but leave out the files that cannot be decoded, described in ``skipped``.

    Returns:
        The readable samples and their images, in the same order.
    """
    images, problems = _decode(samples, image_size, window, progress)
    skipped += problems.values()
    kept = [index for index in range(len(samples)) if index not in problems]
    return [samples[index] for index in kept], images[kept]


def _decode(
    samples: Sequence[Sample], image_size: int, window: LungWindow, progress: bool
) -> tuple[np.ndarray, dict[int, str]]:
    """Every sample's model input, and sample index -> why it could not be read."""
    images = np.zeros((len(samples), image_size, image_size, 1), dtype=np.uint8)
    problems = {}
    for index, sample in enumerate(tqdm(samples, desc="Reading images", unit="image", disable=not progress)):
        try:
            images[index] = to_model_input(read_scan(sample.path), image_size, window)
        except ScanReadError as error:
            problems[index] = str(error)
    return images, problems


def labels_to_indices(samples: Sequence[Sample]) -> np.ndarray:
    """Return each sample's class index (the model's output position) as an int64 array."""
    return np.array([class_index(sample.label) for sample in samples], dtype=np.int64)


def summarize(samples: Sequence[Sample]) -> str:
    """Return a small table of slices, patients and severities per class."""
    by_class = collections.defaultdict(list)
    for sample in samples:
        by_class[sample.label].append(sample)
    graded = [severity for severity in SEVERITIES if any(sample.severity == severity for sample in samples)]
    ungraded = any(sample.severity is None for sample in samples)
    headers = ["class", "slices", "patients", *graded, *(["ungraded"] if ungraded else [])]
    lines = []
    for label in CLASS_NAMES:
        members = by_class.get(label, [])
        severities = collections.Counter(sample.severity for sample in members)
        counts = [len(members), len({sample.patient_id for sample in members})]
        counts += [severities[severity] for severity in graded] + ([severities[None]] if ungraded else [])
        lines.append([label, *map(str, counts)])
    widths = [max(len(row[column]) for row in [headers, *lines]) for column in range(len(headers))]
    table = [
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in [headers, *lines]
    ]
    patients = len({sample.patient_id for sample in samples})
    return f"{len(samples)} slices from {patients} patients\n" + "\n".join(table)
