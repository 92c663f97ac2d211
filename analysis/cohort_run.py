"""The record of a cohort run in its output folder, kept so that an interrupted run can resume.

A study's folder appears whole or not at all (`analyse_study` renames it into place when its files
are complete), so a folder holding ``report.json`` is a finished study whatever the CSV says: the
CSV is rewritten atomically after every study, and a run killed between the two gets its row back
from the report. Leftovers of a killed study (``.NAME.partial-*``) are removed on resume.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from analysis.cohort import CSV_COLUMNS, cohort_row
from analysis.output_files import COHORT_CSV as CSV_NAME
from analysis.output_files import REPORT_JSON as REPORT_NAME
from imaging.errors import UsageError
from imaging.staging import write_text_atomically

SETTINGS_NAME = "analysis_settings.json"
ALREADY_ANALYSED = "already analysed"  # the CSV status of a PACS study whose results were there


def read_rows(path: Path) -> dict[str, dict]:
    """The CSV rows of an earlier run by study name (none when the file is absent)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["study"]: row for row in csv.DictReader(handle)}


def prepare_resume(out: Path, record: dict) -> None:
    """Make ``out`` ready to resume into: new, or an earlier run's folder with the same settings.

    Settings that differ would mix two analyses in one cohort table, so they are refused.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    settings_path = out / SETTINGS_NAME
    if settings_path.is_file():
        earlier = json.loads(settings_path.read_text(encoding="utf-8"))
        if earlier != record:
            changed = sorted(key for key in {*earlier, *record} if earlier.get(key) != record.get(key))
            raise UsageError(
                f"{out} holds a run with other settings ({', '.join(changed)}); resume with the "
                "same --model and analysis options, or choose another --out"
            )
    elif any(path.name != CSV_NAME and not path.name.startswith(".") for path in out.iterdir()):
        raise UsageError(f"{out} is not empty and holds no earlier `emphysema analyze` run to resume")
    for leftover in out.glob(".*.partial-*"):
        shutil.rmtree(leftover, ignore_errors=True)


class CohortRecord:
    """The rows of one cohort run, written to ``analysis.csv`` after every study."""

    def __init__(self, root: Path, record: dict) -> None:
        self.root = root
        self.rows = read_rows(root / CSV_NAME)
        settings_path = root / SETTINGS_NAME
        if not settings_path.is_file():
            write_text_atomically(settings_path, json.dumps(record, indent=2) + "\n")

    def is_done(self, name: str) -> bool:
        """True when the study's folder is complete; its row is restored from its report if lost."""
        folder = self.root / name
        report_path = folder / REPORT_NAME
        if report_path.is_file():
            if self.rows.get(name, {}).get("status") != "done":
                report = json.loads(report_path.read_text(encoding="utf-8"))
                self.rows[name] = cohort_row(name, report, None)
                self._write()
            return True
        if folder.exists():  # not a finished study (no report): not ours to keep half-done
            shutil.rmtree(folder)
        return self.rows.get(name, {}).get("status") == ALREADY_ANALYSED

    def add(self, name: str, report: dict | None, error: str | None) -> None:
        """Record one study's outcome and rewrite the CSV."""
        self.rows[name] = cohort_row(name, report, error)
        self._write()

    def add_already_analysed(self, name: str) -> None:
        """Record a study whose results the PACS holds already (analysed by an earlier run)."""
        self.rows[name] = {"study": name, "status": ALREADY_ANALYSED, "error": ""}
        self._write()

    def _write(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, CSV_COLUMNS, restval="", extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows.values())
        write_text_atomically(self.root / CSV_NAME, buffer.getvalue())
