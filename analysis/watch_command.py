"""`emphysema watch`: analyse each new CT study of an Orthanc PACS once it is complete; keep going.

Follows Orthanc's change feed (`pacs.follower`): when Orthanc calls a study stable (no new
instance for its StableAge), a study with a CT series is analysed through Triton and its results
are stored back (`analysis.from_pacs.analyse_pacs_study`); other studies are skipped with a note.
Killed at any moment and restarted on the same --out, no study is lost and none analysed twice.

Output (``DIR``)::

    DIR/watch_state.json     the last change handled and each study's status (0600)
    DIR/watch_settings.json  the resolved settings of the last start
    DIR/ORTHANC-ID/          a study's local results (report.json, overlay, map, DICOM files)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dicomweb_client.api import DICOMwebClient

from analysis.command import add_analysis_options, analysis_settings
from analysis.errors import AnalysisError
from analysis.from_pacs import ANALYSED, ArrivalSettings, analyse_pacs_study
from analysis.output_files import REPORT_JSON
from analysis.settings import AnalysisSettings
from client.settings import TritonSettings
from client.triton import TritonClassifier
from emphysema.lifetime import stop_on_signals
from imaging.errors import UsageError
from imaging.staging import write_text_atomically
from pacs.changes import OrthancFeed, StudyFacts, orthanc_root
from pacs.credentials import add_credentials_option, load_credentials
from pacs.dicomweb import connect
from pacs.follower import Follower, StudyNotAnalysable, WatchSettings

STATE_NAME = "watch_state.json"
say = functools.partial(print, flush=True)  # one line per event, at once (a log collector reads it)
SETTINGS_NAME = "watch_settings.json"


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema watch`` argument parser."""
    defaults = WatchSettings()
    parser = argparse.ArgumentParser(prog="emphysema watch", description=__doc__.split("\n")[0])
    parser.add_argument("--dicomweb", required=True, metavar="URL", help="DICOMweb root of the Orthanc PACS")
    parser.add_argument(
        "--orthanc",
        metavar="URL",
        help="Orthanc's REST root, for its change feed (default: the --dicomweb URL without /dicom-web)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for the watch state and the studies' local results"
    )
    add_analysis_options(parser)
    add_credentials_option(parser)
    parser.add_argument(
        "--poll",
        type=float,
        default=defaults.poll_s,
        help="seconds between looks at the feed (default %(default)s)",
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=defaults.max_attempts,
        help="analyses begun per study before it is given up (default %(default)s)",
    )
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=defaults.retry_delay_s,
        help="seconds before a failed study is tried again, doubled each time (default %(default)s)",
    )
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="on the first start, also analyse the studies already in the PACS (default: only "
        "studies that become complete from then on)",
    )
    parser.add_argument(
        "--pacs-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for each PACS answer (default %(default)s)",
    )
    return parser


@dataclasses.dataclass(frozen=True)
class StudyAnalysis:
    """Analyse one study of the PACS for the follower; its local results appear whole, after the store.

    A study whose local folder holds a report was analysed and stored by a watcher stopped before
    it could record that: it is not analysed again.
    """

    client: DICOMwebClient
    classifier: TritonClassifier
    model: str
    settings: AnalysisSettings
    out: Path

    def __call__(self, facts: StudyFacts) -> None:
        """Analyse the study and store its results, unless its local folder shows it was done."""
        final = self.out / facts.orthanc_id
        if (final / REPORT_JSON).is_file():
            return
        scratch = Path(tempfile.mkdtemp(prefix=f".{facts.orthanc_id}.partial-", dir=self.out))
        try:
            result = analyse_pacs_study(
                self.client,
                facts.study_uid,
                self.classifier,
                self.model,
                self.settings,
                scratch / "study",
                quiet=True,
                arrival=ArrivalSettings(settle_s=0.0),  # Orthanc's StableAge has done the waiting
            )
            if result.status == ANALYSED:
                shutil.rmtree(final, ignore_errors=True)  # a folder without a report is not a result
                os.replace(scratch / "study", final)
        except AnalysisError as error:  # no CT series, no lungs found, a field of view it cannot cover
            raise StudyNotAnalysable(str(error)) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def save_settings(
    out: Path, arguments: argparse.Namespace, analysis: AnalysisSettings, watch: WatchSettings
) -> None:
    """Write the resolved settings of this start beside the state (no credentials)."""
    record = {
        "dicomweb": arguments.dicomweb,
        "orthanc": arguments.orthanc,
        "url": arguments.url,
        "model": arguments.model,
        "analysis": dataclasses.asdict(analysis),
        "watch": dataclasses.asdict(watch),
    }
    write_text_atomically(out / SETTINGS_NAME, json.dumps(record, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema watch`` until a stop signal; 0 after a clean stop."""
    arguments = build_parser().parse_args(argv)
    analysis = analysis_settings(arguments)
    try:
        watch = WatchSettings(
            poll_s=arguments.poll, max_attempts=arguments.attempts, retry_delay_s=arguments.retry_delay,
            from_start=arguments.from_start,
        )  # fmt: skip
    except ValueError as error:
        raise UsageError(str(error)) from error
    if arguments.pacs_timeout <= 0:
        raise UsageError("--pacs-timeout must be positive")
    arguments.orthanc = arguments.orthanc or orthanc_root(arguments.dicomweb)
    out = arguments.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)  # results of patients' studies: private
    for leftover in out.glob(".*.partial-*"):  # a study a killed watcher was analysing
        shutil.rmtree(leftover, ignore_errors=True)
    credentials = load_credentials(arguments.credentials)
    client = connect(arguments.dicomweb, credentials, arguments.pacs_timeout)
    feed = OrthancFeed(arguments.orthanc, credentials, arguments.pacs_timeout)
    triton = TritonSettings(url=arguments.url, model=arguments.model)
    with stop_on_signals(), TritonClassifier(triton) as classifier:
        try:
            classifier.model_info(arguments.model)  # an unreachable Triton or a wrong model stops here
            save_settings(out, arguments, analysis, watch)
            analyse = StudyAnalysis(client, classifier, arguments.model, analysis, out)
            follower = Follower(feed, out / STATE_NAME, analyse, watch, say=say)
            say(f"Watching {arguments.orthanc} for complete CT studies; state in {out / STATE_NAME}")
            follower.run()
        except KeyboardInterrupt as stop:
            print(
                f"Stopping the watch ({stop or 'SIGINT'}); run it again to carry on",
                file=sys.stderr,
                flush=True,
            )
            return 0
        finally:
            feed.close()
    return 0
