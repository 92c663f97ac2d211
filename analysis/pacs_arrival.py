"""Wait for a series a PACS is still receiving: fetch it only once its instance count holds still.

A PACS stores a study as its instances arrive; DICOMweb says nothing about whether more are on
their way. Analysing half a series would give a wrong, and deterministic, result, so the count
must stay the same over a short settle time first.
"""

from __future__ import annotations

import time

from dicomweb_client.api import DICOMwebClient

from analysis.settings import ArrivalSettings
from pacs.dicomweb import describe_series
from pacs.errors import PacsError


def count_instances(client: DICOMwebClient, study_uid: str, series_uid: str) -> int:
    """The series' current instance count (0 when the PACS no longer holds it)."""
    return next(
        (one.instances for one in describe_series(client, study_uid) if one.series_uid == series_uid), 0
    )


def wait_until_stable(
    client: DICOMwebClient, study_uid: str, series_uid: str, arrival: ArrivalSettings
) -> int:
    """Return the series' instance count once it holds still for ``settle_s``; raise after ``max_wait_s``."""
    deadline = time.monotonic() + arrival.max_wait_s
    count = count_instances(client, study_uid, series_uid)
    while True:
        time.sleep(arrival.settle_s)
        latest = count_instances(client, study_uid, series_uid)
        if latest == count:
            return count
        if time.monotonic() > deadline:
            raise PacsError(
                f"the CT series is still arriving ({latest} instances, {latest - count:+d} in the last "
                f"{arrival.settle_s:g} s, after {arrival.max_wait_s:g} s of waiting); "
                "try again once it is complete"
            )
        count = latest
