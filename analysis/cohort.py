"""Which studies a command line names, and the one CSV row per study of a cohort.

A path is one study (a DICOM folder, searched recursively; a .zip; a NIfTI file) unless it is a
folder holding no files but sidecars and at least two sub-folders or study files: then it is a
cohort and each of those is a study.
"""

from __future__ import annotations

from pathlib import Path

from imaging.contract import CLASS_NAMES
from imaging.errors import UsageError

SIDECARS = {".csv", ".json", ".npz", ".md", ".txt"}
STUDY_FILES = (".zip", ".nii", ".nii.gz")
CSV_COLUMNS = (
    "study",
    "status",
    "error",
    "tiles",
    "dominant",
    "dominant_emphysema",
    *(f"{name}_percent" for name in CLASS_NAMES),
    "predominance",
    "lung_volume_ml",
    "laa950_percent",
)


def _study_name(path: Path) -> str:
    return path.parent.name if path.name == "dicom" else path.name.removesuffix(".gz").removesuffix(".nii")


def expand_studies(paths: list[Path]) -> list[tuple[str, Path]]:
    """Return ``(name, path)`` per study, cohort folders expanded, names unique."""
    studies = []
    for path in paths:
        members = sorted(path.iterdir()) if path.is_dir() else []
        files = [member for member in members if member.is_file() and not member.name.startswith(".")]
        candidates = [
            member
            for member in members
            if not member.name.startswith(".")
            and (member.is_dir() or member.name.lower().endswith(STUDY_FILES))
        ]
        is_cohort = len(candidates) >= 2 and all(
            member.suffix.lower() in SIDECARS or member in candidates for member in files
        )
        if is_cohort:
            studies.extend((_study_name(member), member) for member in candidates)
        else:
            studies.append((_study_name(path), path))
    names = [name for name, _ in studies]
    return [
        (name if names.count(name) == 1 else f"{name}-{index}", path)
        for index, (name, path) in enumerate(studies)
    ]


def cohort_row(name: str, report: dict | None, error: str | None) -> dict:
    """Return the CSV row of one study: its figures, or its error."""
    if report is None:
        return {"study": name, "status": "failed", "error": error}
    whole = report["patterns"]["regions"]["WholeLung"]
    measured = report["quantification"]["regions"]["WholeLung"]
    return {
        "study": name,
        "status": "done",
        "error": "",
        "tiles": report["tiles"]["count"],
        "dominant": whole["dominant"],
        "dominant_emphysema": whole["dominant_emphysema"] or "",
        **{f"{pattern}_percent": whole["pattern_percent"].get(pattern, 0.0) for pattern in CLASS_NAMES},
        "predominance": report["patterns"]["zones"]["predominance"],
        "lung_volume_ml": measured["volume_ml"],
        "laa950_percent": measured["laa950_percent"],
    }


def select_shard(items: list, index: int, count: int) -> list:
    """Return shard ``index`` of ``count``: every ``count``-th item from position ``index``.

    Every worker of a cluster job gets the same list and keeps its own shard, so the shards cover
    the list exactly once; taking every n-th item (not a block) spreads a sorted list's large or
    slow items across the workers.
    """
    if count < 1:
        raise UsageError(f"--shard-count must be at least 1, got {count}")
    if not 0 <= index < count:
        raise UsageError(
            f"--shard-index must be between 0 and {count - 1} (--shard-count {count}), got {index}"
        )
    return items[index::count]
