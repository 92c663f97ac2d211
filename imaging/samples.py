"""One labelled slice, and the error that lists everything wrong with a data set."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from imaging.errors import EmphysemaError

MAXIMUM_LISTED_PROBLEMS = 20


class DatasetError(EmphysemaError, ValueError):
    """Everything wrong with a data set, listed together (at most ``MAXIMUM_LISTED_PROBLEMS``).

    Attributes:
        where: the data set folder or manifest.
        problems: one line per problem.
        unreadable: how many of the problems are files that cannot be read (a stage that can skip
            them says so in ``advice``).
        advice: a last line telling the user what to do, or "".
    """

    def __init__(
        self, where: str | Path, problems: Sequence[str], *, unreadable: int = 0, advice: str = ""
    ) -> None:
        self.where = str(where)
        self.problems = list(problems)
        self.unreadable = unreadable
        self.advice = advice
        listed = "\n".join(f"  - {problem}" for problem in self.problems[:MAXIMUM_LISTED_PROBLEMS])
        hidden = len(self.problems) - MAXIMUM_LISTED_PROBLEMS
        more = f"\n  ... and {hidden} more" if hidden > 0 else ""
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        last = f"\n{advice}" if advice else ""
        super().__init__(f"{self.where}: {count} in the data set:\n{listed}{more}{last}")

    def with_advice(self, advice: str) -> DatasetError:
        """The same error with ``advice`` as its last line."""
        return DatasetError(self.where, self.problems, unreadable=self.unreadable, advice=advice)


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
