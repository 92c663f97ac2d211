"""`emphysema analyze --dicomweb URL --study UID`: analyse one study of a PACS and store the results back.

The options live here; `analysis.command` adds them to `analyze` and hands such a run over.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

from analysis.settings import AnalysisSettings, ArrivalSettings
from client.settings import TritonSettings
from client.triton import TritonClassifier
from imaging.errors import UsageError
from imaging.staging import check_output_folder, staged_folder
from pacs.errors import PacsError

PACS_EXTRA = "pip install -e '.[pacs]'"
LOCAL_NAME = "study"  # --out DIR gets DIR/study/ (report.json, overlay, map, the DICOM results)


def add_pacs_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of an analysis from a PACS to ``analyze``'s parser."""
    arrival = ArrivalSettings()
    group = parser.add_argument_group("from a PACS (DICOMweb)")
    group.add_argument(
        "--dicomweb", metavar="URL", help="DICOMweb root of the PACS (default: none, read STUDY)"
    )
    group.add_argument("--study", metavar="UID", help="Study Instance UID to analyse (default: none)")
    group.add_argument(
        "--credentials",
        type=Path,
        help="file with one line `user:password`, mode 0600 (default: EMPHYSEMA_PACS_USER and "
        "EMPHYSEMA_PACS_PASSWORD from the environment)",
    )
    group.add_argument(
        "--force", action="store_true", help="analyse even when its results are in the PACS (default: off)"
    )
    group.add_argument(
        "--settle",
        type=float,
        default=arrival.settle_s,
        help="seconds the series must hold still before it is fetched (default %(default)s)",
    )
    group.add_argument(
        "--pacs-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for each PACS answer (default %(default)s)",
    )


def check_pacs_arguments(arguments: argparse.Namespace) -> None:
    """Refuse a command line that mixes a PACS study with study paths, or names only half of it."""
    if arguments.dicomweb is None:
        if arguments.study or arguments.force or arguments.credentials:
            raise UsageError("--study, --force and --credentials need --dicomweb URL")
        if not arguments.studies:
            raise UsageError("give STUDY paths, or --dicomweb URL --study UID")
        if arguments.out is None:
            raise UsageError("--out DIR is required when analysing STUDY paths")
        return
    if arguments.studies:
        raise UsageError("give STUDY paths or --dicomweb, not both")
    if not arguments.study:
        raise UsageError("--dicomweb needs --study UID (the Study Instance UID to analyse)")
    if arguments.pacs_timeout <= 0 or arguments.settle < 0:
        raise UsageError("--pacs-timeout must be positive and --settle not negative")


def run_from_pacs(arguments: argparse.Namespace, settings: AnalysisSettings) -> int:
    """Analyse ``--study`` of ``--dicomweb`` and store its results back; print one line."""
    # Imported here: analysing local studies needs no DICOMweb client (the `pacs` extra).
    try:
        from analysis.from_pacs import ALREADY_ANALYSED, analyse_pacs_study
        from pacs.credentials import load_credentials
        from pacs.dicomweb import connect
    except ImportError as error:
        missing = (error.name or "a module").split(".")[0]
        raise PacsError(f"--dicomweb needs the `pacs` extra ({missing} is missing): {PACS_EXTRA}") from None

    client = connect(arguments.dicomweb, load_credentials(arguments.credentials), arguments.pacs_timeout)
    arrival = ArrivalSettings(settle_s=arguments.settle)
    triton = TritonSettings(url=arguments.url, model=arguments.model)
    if arguments.out is not None:
        check_output_folder(arguments.out, arguments.overwrite)
    with contextlib.ExitStack() as stack:
        classifier = stack.enter_context(TritonClassifier(triton))
        if arguments.out is None:  # the local results are not kept: a private scratch folder
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="emphysema-")))
        else:
            folder = stack.enter_context(staged_folder(arguments.out))
        result = analyse_pacs_study(
            client, arguments.study, classifier, arguments.model, settings,
            folder / LOCAL_NAME, arguments.quiet, arguments.force, arrival,
        )  # fmt: skip
    if result.status == ALREADY_ANALYSED:
        print(
            "Already analysed: the results of this model and these settings are in the PACS (--force to redo)"
        )
        return 0
    whole = result.report["patterns"]["regions"]["WholeLung"]
    print(
        f"Analysed the CT series ({result.instances} instances, {result.report['tiles']['count']} tiles, "
        f"dominant {whole['dominant']}); stored {result.stored} result instances in the PACS"
    )
    return 0
