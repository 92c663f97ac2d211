"""Many studies of a PACS in one run: `emphysema analyze --dicomweb URL --study-list FILE`.

The list holds one Study Instance UID a line (blank lines and `#` comments ignored). Study *i*
of the list is named ``study-NNNNN`` (its position, from 0) in the output folder and the CSV, so no
UID reaches a file name or a log; ``--shard-index``/``--shard-count`` keep one shard of the list.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from analysis.pacs_command import connect_to_pacs
from analysis.settings import AnalysisSettings, ArrivalSettings
from client.triton import TritonClassifier
from imaging.errors import UsageError

# A DICOM UID: dot-separated numbers without leading zeros, at most 64 characters (PS3.5 9.1).
UID_PATTERN = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def listed_studies(path: Path) -> list[tuple[str, str]]:
    """``(name, Study Instance UID)`` for each UID of the list file, in its order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsageError(f"cannot read the study list {path}: {error.strerror or error}") from None
    uids = []
    for number, line in enumerate(lines, start=1):
        uid = line.split("#", 1)[0].strip()
        if not uid:
            continue
        if len(uid) > 64 or not UID_PATTERN.fullmatch(uid):
            raise UsageError(f"{path} line {number} is not a DICOM UID (digits and dots, at most 64)")
        uids.append(uid)
    if not uids:
        raise UsageError(f"{path} lists no Study Instance UID")
    if len(set(uids)) != len(uids):
        raise UsageError(f"{path} lists a study twice; each study must appear once")
    return [(f"study-{index:05d}", uid) for index, uid in enumerate(uids)]


def pacs_study_analysis(
    arguments: argparse.Namespace, settings: AnalysisSettings, classifier: TritonClassifier
) -> Callable[[str, Path], dict | None]:
    """Return ``analyse(uid, destination)``: one study of the PACS, its results stored back.

    It returns the report, or None when the PACS holds this model's results already.
    """
    client, analyse_pacs_study, already_analysed = connect_to_pacs(arguments)
    arrival = ArrivalSettings(settle_s=arguments.settle)

    def analyse(study_uid: str, destination: Path) -> dict | None:
        result = analyse_pacs_study(
            client, study_uid, classifier, arguments.model, settings, destination, arguments.quiet,
            arguments.force, arrival,
        )  # fmt: skip
        return None if result.status == already_analysed else result.report

    return analyse
