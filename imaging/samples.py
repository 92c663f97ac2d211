"""One labelled slice, and the error that lists everything wrong with a data set."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from imaging.errors import EmphysemaError

MAXIMUM_LISTED_PROBLEMS = 20


class DatasetError(EmphysemaError, ValueError):
    """Everything wrong with a data set, listed together (at most ``MAXIMUM_LISTED_PROBLEMS``)."""

    def __init__(self, where: str | Path, problems: Sequence[str]) -> None:
        self.where = str(where)
        self.problems = list(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems[:MAXIMUM_LISTED_PROBLEMS])
        hidden = len(self.problems) - MAXIMUM_LISTED_PROBLEMS
        more = f"\n  ... and {hidden} more" if hidden > 0 else ""
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        super().__init__(f"{self.where}: {count} in the data set:\n{listed}{more}")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One labelled slice.

    Attributes:
        path: the image file.
        label: one of ``CLASS_NAMES`` (canonical upper case).
        patient_id: who the slice belongs to; splits never separate a patient's slices.
        severity: one of ``SEVERITIES`` when known, else None.
    """

    path: Path
    label: str
    patient_id: str
    severity: str | None = None
