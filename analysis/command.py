"""`emphysema analyze`: pattern maps and zone summaries of CT studies, classified through Triton.

Output (``DIR``)::

    DIR/STUDY/report.json   pattern shares per lung and zone, predominance, quantification, settings
    DIR/STUDY/report.pdf    two pages: key figures, zone chart, overlay, HU histogram, disclaimer
    DIR/STUDY/overlay.png   analysed slices in the lung window with the pattern map in colour
    DIR/STUDY/pattern_map.npz  labels (0 outside lungs, 1 NT, 2 CLE, 3 PSE, 4 PLE), analysed_slices
    DIR/STUDY/pattern_map_seg.dcm, measurements_sr.dcm, report_pdf.dcm  DICOM SEG, SR (TID 1500)
                            and encapsulated PDF in the source study (DICOM studies only)
    DIR/analysis.csv        one row per study (status done or failed, with the error)
    DIR/analysis_settings.json  the model and analysis settings of the run

The names are defined once in ``analysis.output_files``.

With --dicomweb URL --study UID the study comes from a PACS and its DICOM results go back to it
(see `analysis.pacs_command`); --out DIR then keeps the local files in DIR/study/.

With one study, any failure is the command's error and nothing is written. With several (or a
cohort folder), a failed study gets its row and the others go on; the exit status is then 1.
With --resume, DIR is written study by study: a rerun skips the finished studies and retries the
failed ones. --shard-index I --shard-count N keep every N-th study from the I-th (cluster jobs).
--dicomweb URL --study-list FILE analyses the listed studies of a PACS the same way
(`analysis.pacs_cohort`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analysis.cohort import expand_studies, select_shard
from analysis.cohort_run import CohortRecord, prepare_resume
from analysis.pacs_cohort import listed_studies, pacs_study_analysis
from analysis.pacs_command import add_pacs_options, check_pacs_arguments, run_from_pacs
from analysis.settings import AnalysisSettings, add_grid_options
from analysis.study_analysis import analyse_study
from client.settings import TritonSettings
from client.triton import TritonClassifier
from imaging.contract import DEFAULT_TRITON_URL
from imaging.errors import EmphysemaError, UsageError
from imaging.staging import check_output_folder, staged_folder


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """Add the Triton server, the model and the analysis settings (shared with ``watch``)."""
    parser.add_argument(
        "--url", default=DEFAULT_TRITON_URL, help=f"Triton gRPC address (default {DEFAULT_TRITON_URL})"
    )
    parser.add_argument(
        "--model", default=TritonSettings.model, help="served model name (default %(default)s)"
    )
    add_grid_options(parser)
    parser.add_argument("--field-of-view-mm", type=float, help="ROI side in mm (default: the model's)")
    parser.add_argument(
        "--include-patient-details",
        action="store_true",
        help="print the patient's name, ID and birth date on the PDF report (default: left out)",
    )


def analysis_settings(arguments: argparse.Namespace) -> AnalysisSettings:
    """The analysis settings a command line asks for."""
    return AnalysisSettings(
        stride_mm=arguments.stride_mm,
        slice_step=arguments.slice_step,
        field_of_view_mm=arguments.field_of_view_mm,
        include_patient_details=arguments.include_patient_details,
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema analyze`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema analyze", description=__doc__.split("\n")[0])
    parser.add_argument(
        "studies", nargs="*", type=Path, metavar="STUDY", help="study folder, .zip, NIfTI, or cohort"
    )
    parser.add_argument(
        "--out", type=Path, help="output folder, must be empty or new (default: none; required for STUDY)"
    )
    add_analysis_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="write --out study by study; skip the studies an earlier run finished there, retry "
        "the failed ones (default: off, --out is written whole or not at all)",
    )
    parser.add_argument(
        "--shard-index", type=int, default=0, help="which shard of the studies to analyse (default 0)"
    )
    parser.add_argument(
        "--shard-count",
        type=int,
        default=1,
        help="split the studies into this many shards, every N-th study to a shard (default 1)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_pacs_options(parser)
    return parser


def output_root(out: Path, resume: bool, overwrite: bool, record: dict) -> contextlib.AbstractContextManager:
    """The folder to write into: ``out`` itself when resuming, else a staging folder renamed at the end."""
    if resume:
        if overwrite:
            raise UsageError("--resume keeps an earlier run and --overwrite replaces it: choose one")
        prepare_resume(out, record)
        return contextlib.nullcontext(out)
    check_output_folder(out, overwrite)
    return staged_folder(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema analyze``; 0 when every study is analysed, 1 when any failed."""
    arguments = build_parser().parse_args(argv)
    settings = analysis_settings(arguments)
    check_pacs_arguments(arguments)
    if arguments.dicomweb is not None and arguments.study:
        return run_from_pacs(arguments, settings)
    if arguments.dicomweb is not None:
        studies = listed_studies(arguments.study_list)
    else:
        studies = expand_studies(arguments.studies)
    studies = select_shard(studies, arguments.shard_index, arguments.shard_count)
    record = {"model": arguments.model, "settings": dataclasses.asdict(settings)}
    triton = TritonSettings(url=arguments.url, model=arguments.model)
    root_context = output_root(arguments.out, arguments.resume, arguments.overwrite, record)
    with TritonClassifier(triton) as classifier, root_context as root:
        classifier.model_info(arguments.model)  # an unreachable Triton or a wrong model stops here
        if arguments.dicomweb is not None:
            analyse = pacs_study_analysis(arguments, settings, classifier)
        else:

            def analyse(path: Path, destination: Path) -> dict:
                return analyse_study(
                    path, destination, classifier, arguments.model, settings, arguments.quiet
                )

        counts = run_cohort(studies, analyse, CohortRecord(root, record))
    earlier = len(studies) - counts["analysed"] - counts["failed"]
    print(
        f"Analysed {counts['analysed']} of {len(studies)} studies into {arguments.out}"
        + (f" ({earlier} done earlier or already in the PACS)" if earlier else "")
    )
    return 1 if counts["failed"] else 0


def run_cohort(
    studies: list[tuple[str, Any]], analyse: Callable[[Any, Path], dict | None], cohort: CohortRecord
) -> dict[str, int]:
    """Analyse each study not done yet with ``analyse(source, destination)``; count the outcomes.

    ``analyse`` returns the report, or None when the PACS already holds the study's results.
    """
    counts = {"analysed": 0, "failed": 0}
    for name, source in studies:
        if cohort.is_done(name):
            print(f"{name}: done in an earlier run, skipped")
            continue
        try:
            report = analyse(source, cohort.root / name)
        except (EmphysemaError, OSError) as error:
            # One study alone fails the command; in a cohort the rest go on (a Triton that
            # stays down fails each of them quickly, after the client's retries).
            if len(studies) == 1:
                raise
            print(f"emphysema analyze: {name}: {error}", file=sys.stderr)
            cohort.add(name, None, str(error))
            counts["failed"] += 1
            continue
        if report is None:
            cohort.add_already_analysed(name)
            print(f"{name}: its results are in the PACS already, skipped")
            continue
        cohort.add(name, report, None)
        counts["analysed"] += 1
        whole = report["patterns"]["regions"]["WholeLung"]
        tiles = report["tiles"]["count"]
        print(f"{name}: {tiles} tiles, dominant {whole['dominant']}, {whole['pattern_percent']}", flush=True)
    return counts


if __name__ == "__main__":
    sys.exit(main())
