"""The two data set layouts: a CSV manifest, or one folder per class.

- ``manifest.csv`` with columns ``path,label,patient_id[,severity]``, paths relative to it;
- class folders ``root/CLASS/[PATIENT/]FILE``: the patient is the sub-folder name, else the file
  name's text before the first ``_``, else the file itself.

Class names may be the contract's (``NT``, ``CLE``, ``PSE``, ``PLE``) or the usual synonyms
(``Normal``, ``Centrilobular``, ...; ``imaging.classes.parse_class_label``), in any case. Files are
checked from their first bytes only (existence, emptiness, format); decoding happens later in
:func:`imaging.dataset.load_images`. Problems are collected, never raised one by one; a caller that
passes a ``skipped`` list gets the unreadable files there instead, and the rest read normally.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from imaging.classes import SEVERITIES, class_index, describe_unknown_label, parse_class_label
from imaging.contract import CLASS_NAMES
from imaging.errors import ScanReadError
from imaging.formats import sniff_format
from imaging.samples import DatasetError, Sample

REQUIRED_COLUMNS = ("path", "label", "patient_id")
# Folders that archive tools add next to real data.
_IGNORED_FOLDERS = ("__MACOSX",)


def read_manifest(
    csv_path: str | Path, require_all_classes: bool = True, skipped: list[str] | None = None
) -> list[Sample]:
    """Read a ``path,label,patient_id[,severity]`` CSV; paths are relative to the CSV's folder.

    Args:
        csv_path: the manifest.
        require_all_classes: report a class without images as a problem.
        skipped: when given, rows whose file is missing or unreadable are left out and described here.

    Raises:
        DatasetError: unreadable CSV, missing columns, or every bad row, file and empty class.
    """
    csv_path = Path(csv_path)
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [str(column).strip().lower() for column in reader.fieldnames or []]
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(csv_path, [f"cannot read the manifest ({type(error).__name__})"]) from None
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        needed = "path,label,patient_id[,severity]"
        raise DatasetError(csv_path, [f"missing columns {missing}: need {needed}, found {','.join(columns)}"])
    samples, problems, unreadable, seen = [], [], [], set()
    for line, row in enumerate(rows, start=2):
        row = {
            str(key).strip().lower(): (value or "").strip() for key, value in row.items() if key is not None
        }
        sample, row_problems, file_problem = _sample_from_row(row, csv_path.parent, f"line {line}")
        problems += row_problems
        if file_problem:
            unreadable.append(file_problem)
        if sample is not None and sample.path in seen:
            problems.append(f"line {line} ({row['path']}): listed twice")
        elif sample is not None:
            seen.add(sample.path)
            samples.append(sample)
    return _finish(csv_path, samples, problems, unreadable, skipped, require_all_classes, "in the manifest")


def _sample_from_row(
    row: dict[str, str], base: Path, where: str
) -> tuple[Sample | None, list[str], str | None]:
    """The row's sample, its problems other than the file, and the file's problem (or None)."""
    problems = []
    relative = row.get("path", "")
    where = f"{where} ({relative})" if relative else where
    label = parse_class_label(row.get("label", ""))
    if label is None:
        problems.append(
            f"{where}: unknown label {row.get('label', '')!r} {describe_unknown_label(row.get('label', ''))}"
        )
    if not row.get("patient_id"):
        problems.append(f"{where}: no patient_id")
    severity = row.get("severity", "").lower() or None
    if severity is not None and severity not in SEVERITIES:
        problems.append(f"{where}: unknown severity {severity!r} (expected {', '.join(SEVERITIES)} or empty)")
    if not relative:
        problems.append(f"{where}: no path")
        return None, problems, None
    path = base / relative
    reason = _file_problem(path)
    file_problem = f"{where}: {reason}" if reason else None
    if problems or file_problem:
        return None, problems, file_problem
    return Sample(path=path, label=label, patient_id=row["patient_id"], severity=severity), [], None


def read_class_folders(
    root: str | Path, require_all_classes: bool = True, skipped: list[str] | None = None
) -> list[Sample]:
    """Read the layout ``root/CLASS/[PATIENT/]FILE`` (class names or synonyms, any case).

    Args:
        root: the data set folder.
        require_all_classes: report a class without images as a problem.
        skipped: when given, unreadable files are left out and described here.

    Raises:
        DatasetError: unknown class folders, unreadable files and empty classes, all together.
    """
    root = Path(root)
    samples, problems, unreadable = [], [], []
    folders = sorted(path for path in root.iterdir() if path.is_dir() and not _ignored(path.name))
    for folder in folders:
        label = parse_class_label(folder.name)
        if label is None:
            problems.append(f"{folder.name}/: unknown class folder; {describe_unknown_label(folder.name)}")
            continue
        files = sorted(
            path for path in folder.rglob("*") if path.is_file() and not any(map(_ignored, path.parts))
        )
        if not files:
            problems.append(f"{folder.name}/: no images in this class folder")
        for path in files:
            reason = _file_problem(path)
            if reason:
                unreadable.append(f"{path.relative_to(root).as_posix()}: {reason}")
            else:
                samples.append(Sample(path=path, label=label, patient_id=_patient_from_path(path, folder)))
    samples.sort(key=lambda sample: (class_index(sample.label), str(sample.path)))
    return _finish(root, samples, problems, unreadable, skipped, require_all_classes, f"under {root}")


def _finish(
    where: Path,
    samples: list[Sample],
    problems: list[str],
    unreadable: list[str],
    skipped: list[str] | None,
    require_all_classes: bool,
    place: str,
) -> list[Sample]:
    """Return the samples, or raise every problem at once; unreadable files go to ``skipped`` if given."""
    if skipped is not None:
        skipped += unreadable
        unreadable = []
    problems = problems + unreadable + _class_problems(samples, require_all_classes, place)
    if problems:
        raise DatasetError(where, problems, unreadable=len(unreadable))
    return samples


def _patient_from_path(path: Path, class_folder: Path) -> str:
    parts = path.relative_to(class_folder).parts
    if len(parts) > 1:
        return parts[0]
    stem_prefix = path.stem.split("_", 1)[0]
    return stem_prefix or path.stem


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_FOLDERS


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an image (checked from its first bytes only), or None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
        sniff_format(head, path.name)
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "a folder, not an image file"
    except OSError as error:
        return f"cannot read the file ({type(error).__name__})"
    except ScanReadError as error:
        return error.reason
    return None


def _class_problems(samples: Iterable[Sample], require_all_classes: bool, where: str) -> list[str]:
    present = {sample.label for sample in samples}
    if not present:
        return [f"no images {where}"]
    if not require_all_classes:
        return []
    return [f"class {label}: no images {where}" for label in CLASS_NAMES if label not in present]
