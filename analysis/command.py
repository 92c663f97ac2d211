"""`emphysema analyze`: pattern maps and zone summaries of CT studies, classified through Triton.

Output (``DIR``)::

    DIR/STUDY/report.json   pattern shares per lung and zone, predominance, quantification, settings
    DIR/STUDY/report.pdf    two pages: key figures, zone chart, overlay, HU histogram, disclaimer
    DIR/STUDY/overlay.png   analysed slices in the lung window with the pattern map in colour
    DIR/STUDY/pattern_map.npz  labels (0 outside lungs, 1 NT, 2 CLE, 3 PSE, 4 PLE), analysed_slices
    DIR/STUDY/pattern_map_seg.dcm, measurements_sr.dcm, report_pdf.dcm  DICOM SEG, SR (TID 1500)
                            and encapsulated PDF in the source study (DICOM studies only)
    DIR/analysis.csv        one row per study (status done or failed, with the error)

The names are defined once in ``analysis.output_files``.

With --dicomweb URL --study UID the study comes from a PACS and its DICOM results go back to it
(see `analysis.pacs_command`); --out DIR then keeps the local files in DIR/study/.

With one study, any failure is the command's error and nothing is written. With several (or a
cohort folder), a failed study gets its row and the others go on; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.cohort import CSV_COLUMNS, cohort_row, expand_studies
from analysis.output_files import COHORT_CSV
from analysis.pacs_command import add_pacs_options, check_pacs_arguments, run_from_pacs
from analysis.settings import AnalysisSettings
from analysis.study_analysis import analyse_study
from client.settings import TritonSettings
from client.triton import TritonClassifier
from imaging.contract import DEFAULT_TRITON_URL
from imaging.errors import EmphysemaError
from imaging.staging import check_output_folder, staged_folder


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema analyze`` argument parser."""
    defaults = AnalysisSettings()
    parser = argparse.ArgumentParser(prog="emphysema analyze", description=__doc__.split("\n")[0])
    parser.add_argument(
        "studies", nargs="*", type=Path, metavar="STUDY", help="study folder, .zip, NIfTI, or cohort"
    )
    parser.add_argument(
        "--out", type=Path, help="output folder, must be empty or new (default: none; required for STUDY)"
    )
    parser.add_argument(
        "--url", default=DEFAULT_TRITON_URL, help=f"Triton gRPC address (default {DEFAULT_TRITON_URL})"
    )
    parser.add_argument(
        "--model", default=TritonSettings.model, help="served model name (default %(default)s)"
    )
    parser.add_argument(
        "--stride-mm",
        type=float,
        default=defaults.stride_mm,
        help="map cell side in mm (default %(default)s)",
    )
    parser.add_argument(
        "--slice-step",
        type=int,
        default=defaults.slice_step,
        help="analyse every Nth lung slice (default %(default)s)",
    )
    parser.add_argument("--field-of-view-mm", type=float, help="ROI side in mm (default: the model's)")
    parser.add_argument(
        "--include-patient-details",
        action="store_true",
        help="print the patient's name, ID and birth date on the PDF report (default: left out)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_pacs_options(parser)
    return parser


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema analyze``; 0 when every study is analysed, 1 when any failed."""
    arguments = build_parser().parse_args(argv)
    settings = AnalysisSettings(
        stride_mm=arguments.stride_mm,
        slice_step=arguments.slice_step,
        field_of_view_mm=arguments.field_of_view_mm,
        include_patient_details=arguments.include_patient_details,
    )
    check_pacs_arguments(arguments)
    if arguments.dicomweb is not None:
        return run_from_pacs(arguments, settings)
    studies = expand_studies(arguments.studies)
    check_output_folder(arguments.out, arguments.overwrite)
    triton = TritonSettings(url=arguments.url, model=arguments.model)
    rows = []
    with TritonClassifier(triton) as classifier, staged_folder(arguments.out) as staging:
        classifier.model_info(arguments.model)  # an unreachable Triton or a wrong model stops here
        for name, path in studies:
            try:
                report = analyse_study(
                    path, staging / name, classifier, arguments.model, settings, arguments.quiet
                )
            except (EmphysemaError, OSError) as error:
                # One study alone fails the command; in a cohort the rest go on (a Triton that
                # stays down fails each of them quickly, after the client's retries).
                if len(studies) == 1:
                    raise
                print(f"emphysema analyze: {name}: {error}", file=sys.stderr)
                rows.append(cohort_row(name, None, str(error)))
                continue
            rows.append(cohort_row(name, report, None))
            whole = report["patterns"]["regions"]["WholeLung"]
            tiles = report["tiles"]["count"]
            print(f"{name}: {tiles} tiles, dominant {whole['dominant']}, {whole['pattern_percent']}")
        _write_csv(staging / COHORT_CSV, rows)
    failed = sum(row["status"] == "failed" for row in rows)
    print(f"Analysed {len(rows) - failed} of {len(rows)} studies into {arguments.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
