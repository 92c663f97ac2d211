"""Run the study analysis for the web page and keep its results in memory.

The series and the analysis' output live in a private temporary folder (mode 0700; under
`emphysema app` the temporary folder is in memory, /dev/shm, where the system has one) only while
the analysis runs; every result file is then read into memory and the folder is deleted, so the
session holds the result and nothing stays on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from analysis.output_files import PATTERN_MAP_NPZ
from analysis.settings import AnalysisSettings
from analysis.study_analysis import analyse_study
from client.triton import TritonClassifier
from study.reader import read_study

RESULT_FOLDER = "result"


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """One analysed study as the result view shows it.

    Attributes:
        name: what the page calls the study (the phantom's name, "uploaded series", a PACS study).
        report: the analysis' report.json.
        files: every file the analysis wrote, by its path inside the result folder.
        hounsfield: the analysed slices in HU, int16 ``(k, rows, columns)``, lowest first.
        labels: the pattern map on those slices (0 outside the lungs, 1 NT ... 4 PLE).
        slice_numbers: the index of each analysed slice in the study volume (lowest first).
        slice_count: the number of slices in the study.
    """

    name: str
    report: dict
    files: dict[str, bytes]
    hounsfield: np.ndarray
    labels: np.ndarray
    slice_numbers: tuple[int, ...]
    slice_count: int


@contextlib.contextmanager
def private_workspace() -> Iterator[Path]:
    """A new private folder (0700) in the temporary folder, deleted with everything in it on exit."""
    folder = Path(tempfile.mkdtemp(prefix="emphysema-web-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_result_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, sorted: whatever the analysis wrote."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def collect_result(name: str, report: dict, series: Path, destination: Path) -> StudyResult:
    """Read what the analysis of ``series`` wrote into ``destination`` and its analysed slices into memory."""
    files = read_result_files(destination)
    with np.load(destination / PATTERN_MAP_NPZ) as saved:
        labels, analysed = saved["labels"], saved["analysed_slices"]
    volume = read_study(series)  # the same canonical orientation as the map
    numbers = tuple(int(index) for index in analysed)
    return StudyResult(
        name=name,
        report=report,
        files=files,
        hounsfield=np.ascontiguousarray(volume.hounsfield[list(numbers)]),
        labels=np.ascontiguousarray(labels[list(numbers)]),
        slice_numbers=numbers,
        slice_count=int(volume.hounsfield.shape[0]),
    )


def run_study_analysis(
    series: Path,
    workspace: Path,
    name: str,
    classifier: TritonClassifier,
    model: str,
    progress: Callable[[int, int], None] | None = None,
    settings: AnalysisSettings | None = None,
) -> StudyResult:
    """Analyse the series folder into ``workspace/result`` and return the result held in memory.

    Raises:
        EmphysemaError: the study cannot be read or analysed, or Triton failed (nothing is kept).
    """
    destination = workspace / RESULT_FOLDER
    report = analyse_study(
        series, destination, classifier, model, settings or AnalysisSettings(), True, progress
    )
    return collect_result(name, report, series, destination)
