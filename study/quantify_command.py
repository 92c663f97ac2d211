"""`emphysema quantify STUDY...`: lung volumes, mean lung density, LAA-950/-910/-856 and Perc15.

Each STUDY is a folder of DICOM files, a .zip of one, or a NIfTI volume in HU; with --each, every
entry of a folder is one study. A table goes to the screen (or JSON with --json). With --out DIR::

    DIR/quantification.csv              one row per study (failed studies say why)
    DIR/study-NNN/quantification.json   every region, the definitions, warnings and timings
    DIR/study-NNN/montage.png           slices with the lung outline and LAA-950 tinted red
    DIR/study-NNN/histogram.png         lung HU histogram with -950 HU and Perc15 marked
    DIR/quantify_settings.json          the resolved settings

Output names carry no patient data. A failing study is reported and the others go on; the exit
status is 1 when any study failed. DIR is built beside its place and renamed into it at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from imaging.staging import check_output_folder, staged_folder
from study.errors import StudyError
from study.quantify import QuantifySettings, quantify
from study.quantify_table import CSV_COLUMNS, csv_row, format_table, write_csv
from study.reader import read_study
from study.series import ReadSettings


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema quantify`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema quantify", description=__doc__.split("\n")[0])
    parser.add_argument("studies", nargs="+", type=Path, metavar="STUDY", help="DICOM folder, .zip or NIfTI")
    parser.add_argument(
        "--each", action="store_true", help="treat every entry of each STUDY folder as a study"
    )
    parser.add_argument(
        "--out", type=Path, help="write CSV, JSON and pictures into this folder (default: print only)"
    )
    parser.add_argument(
        "--series",
        help="SeriesInstanceUID to use when a folder holds several CT series (default: the only one)",
    )
    parser.add_argument(
        "--memory-cap-gb", type=float, default=4.0, help="largest study to load (default 4 GiB)"
    )
    parser.add_argument("--json", action="store_true", help="print the reports as JSON instead of tables")
    parser.add_argument("--no-figures", action="store_true", help="skip the montage and histogram")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _expand(paths: list[Path], each: bool) -> list[Path]:
    if not each:
        return paths
    expanded = []
    for path in paths:
        expanded += (
            sorted(child for child in path.iterdir() if not child.name.startswith("."))
            if path.is_dir()
            else [path]
        )
    return expanded


def _process(
    path: Path, name: str, read: ReadSettings, settings: QuantifySettings, folder: Path | None, figures: bool
):
    volume = read_study(path, read)
    report, masks = quantify(volume, settings)
    report = {"study": name, "input": str(path), **report}
    if folder is not None:
        folder.mkdir()
        (folder / "quantification.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if figures:
            from study.figures import write_histogram, write_montage

            whole = report["regions"]["WholeLung"]
            write_montage(folder / "montage.png", volume.hounsfield, masks.labels, volume.spacing_mm[0])
            values = volume.hounsfield[masks.labels > 0]
            write_histogram(folder / "histogram.png", values, whole["laa950_percent"], whole["perc15_hu"])
    return report


def run(arguments: argparse.Namespace, staging: Path | None) -> tuple[list[dict], list[list]]:
    """Quantify every study; return the reports and the CSV rows (failures included)."""
    read = ReadSettings(memory_cap_bytes=int(arguments.memory_cap_gb * 2**30), series_uid=arguments.series)
    settings = QuantifySettings()
    paths = _expand(arguments.studies, arguments.each)
    reports, rows = [], []
    quiet = arguments.quiet or len(paths) == 1
    for index, path in enumerate(tqdm(paths, desc="Quantifying studies", unit="study", disable=quiet)):
        name = f"study-{index:03d}"
        try:
            report = _process(
                path, name, read, settings, staging / name if staging else None, not arguments.no_figures
            )
        except StudyError as error:
            print(f"emphysema quantify: {path}: {error}", file=sys.stderr)
            rows.append(csv_row(name, path, None, str(error)))
            continue
        except (MemoryError, OSError) as error:  # one study's trouble must not stop a cohort
            message = f"could not be processed ({error.__class__.__name__}: {error})"
            print(f"emphysema quantify: {path}: {message}", file=sys.stderr)
            rows.append(csv_row(name, path, None, message))
            continue
        reports.append(report)
        rows.append(csv_row(name, path, report, ""))
        if not arguments.json:
            print(format_table(report))
    if staging is not None:
        write_csv(staging / "quantification.csv", rows)
        record = {
            "read": dataclasses.asdict(read),
            "quantify": dataclasses.asdict(settings),
            "columns": CSV_COLUMNS,
        }
        (staging / "quantify_settings.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return reports, rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema quantify``; 0 when every study was quantified, 1 when some failed, 2 on bad use."""
    arguments = build_parser().parse_args(argv)
    if arguments.out is not None:
        check_output_folder(arguments.out, arguments.overwrite)
    if arguments.out is None:
        reports, rows = run(arguments, None)
    else:
        with staged_folder(arguments.out) as staging:
            reports, rows = run(arguments, staging)
    if arguments.json:
        print(json.dumps(reports, indent=2))
    return 0 if len(reports) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
