"""Where `emphysema watch` stands: the last change it handled and what became of each study.

The state is one small JSON file replaced atomically (written beside it, flushed to disk, renamed),
so a watcher killed at any moment finds either the state before a step or the state after it.
Studies are keyed by Orthanc's own ID (a hash, not a DICOM UID or a patient identifier).

Study statuses: ``started`` (its analysis began; still ``started`` on restart means the watcher
died during it), ``done`` (results stored), ``skipped`` (not a chest CT, with a note), ``retry``
(a failure that may pass, tried again later), ``failed`` (out of attempts, with a note).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from imaging.staging import write_text_atomically
from pacs.errors import PacsError

FORMAT_VERSION = 1
STATUSES = ("started", "done", "skipped", "retry", "failed")


@dataclasses.dataclass
class StudyEntry:
    """What became of one study.

    Attributes:
        status: one of `STATUSES`.
        attempts: analyses begun, counting those a killed watcher never finished.
        note: why it was skipped or failed (no patient data).
        last_update: Orthanc's LastUpdate of the study when it was last looked at; new
            instances change it, and a skipped or failed study is then looked at again.
        retry_at: when a ``retry`` study may be tried again (seconds since the epoch).
    """

    status: str
    attempts: int = 0
    note: str = ""
    last_update: str = ""
    retry_at: float = 0.0


@dataclasses.dataclass
class WatchState:
    """The last change handled (``last_change``) and one entry per study seen."""

    last_change: int
    studies: dict[str, StudyEntry] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        """The state as the file holds it."""
        document = {
            "format": FORMAT_VERSION,
            "last_change": self.last_change,
            "studies": {key: dataclasses.asdict(entry) for key, entry in self.studies.items()},
        }
        return json.dumps(document, indent=1, sort_keys=True) + "\n"


def load_state(path: Path) -> WatchState | None:
    """The saved state, or None when there is none yet; a damaged file is one clear error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {document.get('format')!r}, expected {FORMAT_VERSION}")
        studies = {key: StudyEntry(**entry) for key, entry in document["studies"].items()}
        return WatchState(int(document["last_change"]), studies)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PacsError(
            f"the watch state {path} cannot be read ({error}); move it away to start afresh"
        ) from None


def save_state(state: WatchState, path: Path) -> None:
    """Replace the state file in one step (0600: it lists which studies the PACS holds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, state.to_json(), mode=0o600)
