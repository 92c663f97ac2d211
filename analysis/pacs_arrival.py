"""Wait for a series a PACS is still receiving: fetch it only once its instance count holds still.

A PACS stores a study as its instances arrive; DICOMweb says nothing about whether more are on
their way. Analysing half a series would give a wrong, and deterministic, result, so the count
must stay the same over a short settle time first.
"""

from __future__ import annotations

import dataclasses
import time

from dicomweb_client.api import DICOMwebClient

from pacs.dicomweb import describe_series
from pacs.errors import PacsError


@dataclasses.dataclass(frozen=True)
class ArrivalSettings:
    """How long a series must hold still before it is fetched (a study may still be arriving).

    Attributes:
        settle_s: the series' instance count must stay the same over this many seconds.
        max_wait_s: give up (a clear error) when it still changes after this many seconds.
    """

    settle_s: float = 2.0
    max_wait_s: float = 60.0

    def __post_init__(self) -> None:
        if self.settle_s < 0 or self.max_wait_s < 0:
            raise ValueError("settle_s and max_wait_s must not be negative")


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
