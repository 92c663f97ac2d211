"""Follow Orthanc's change feed and hand each complete CT study to an analysis, once.

Exactly once, whatever stops the watcher: before a study's analysis the state records it as
``started`` (one attempt more), and only after the analysis has stored its results does the state
record it ``done`` together with the change that announced it, in one atomic write. A watcher killed
in between finds the study ``started`` on restart and analyses it again; the analysis itself must
be idempotent on the PACS (it stores results under the same UIDs, or sees them there), so the
PACS never holds two result sets. A study that keeps killing the watcher is given up after
``max_attempts``. Studies already ``done`` are never analysed again, even when new instances (our
own results, for instance) make Orthanc call them stable once more.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from imaging.errors import EmphysemaError
from pacs.changes import OrthancFeed, StudyFacts
from pacs.errors import PacsAccessError, PacsError
from pacs.watch_state import StudyEntry, WatchState, load_state, save_state

# BodyPartExamined values that say a CT is not of the chest; an empty or other value is analysed
# (lung segmentation then decides, and a study without lungs is skipped with that note).
NOT_CHEST = frozenset(
    "HEAD BRAIN SKULL NECK ABDOMEN PELVIS SPINE CSPINE LSPINE KNEE HIP LEG ARM HAND FOOT ANKLE "
    "WRIST ELBOW SHOULDER EXTREMITY".split()
)


class StudyNotAnalysable(EmphysemaError):
    """The analysis says this study is not for it (e.g. no lungs found): skip it with this note."""


@dataclasses.dataclass(frozen=True)
class WatchSettings:
    """How the watcher follows the feed.

    Attributes:
        poll_s: seconds between looks at the feed once it has nothing new.
        page_size: changes read per request.
        max_attempts: analyses begun per study (a watcher killed during one counts) before it fails.
        retry_delay_s: wait before the first retry of a failed analysis; doubled for each next one.
        from_start: on the first start, go through the whole feed (studies already in the PACS);
            else start at its end and analyse only studies that become complete from then on.
    """

    poll_s: float = 5.0
    page_size: int = 100
    max_attempts: int = 3
    retry_delay_s: float = 30.0
    from_start: bool = False

    def __post_init__(self) -> None:
        if self.poll_s <= 0 or self.retry_delay_s < 0:
            raise ValueError("the poll interval must be positive and the retry delay not negative")
        if self.page_size < 1 or self.max_attempts < 1:
            raise ValueError("the page size and the attempts must be at least 1")


def not_a_chest_ct(facts: StudyFacts) -> str | None:
    """Why the study is not a chest CT (a note without patient data), or None when it may be one."""
    computed = [series for series in facts.series if series.modality.upper() == "CT"]
    if not computed:
        modalities = sorted({series.modality for series in facts.series if series.modality})
        return f"no CT series (modalities: {', '.join(modalities) or 'none'})"
    parts = {series.body_part.upper() for series in computed}
    if "" not in parts and parts <= NOT_CHEST:
        return f"a CT of the {', '.join(sorted(parts)).lower()}, not of the chest"
    return None


class Follower:
    """One watcher: the feed, the state file, and the analysis to call per study."""

    def __init__(
        self,
        feed: OrthancFeed,
        state_path: Path,
        analyse: Callable[[StudyFacts], None],
        settings: WatchSettings,
        say: Callable[[str], None] = print,
    ) -> None:
        self.feed, self.state_path, self.analyse = feed, state_path, analyse
        self.settings, self.say = settings, say
        self.state = load_state(state_path)

    def run(self, keep_going: Callable[[], bool] = lambda: True) -> None:
        """Follow the feed until ``keep_going()`` is false (checked once per look at the feed)."""
        if self.state is None:
            start = 0 if self.settings.from_start else self.feed.last_sequence()
            self.state = WatchState(last_change=start)
            save_state(self.state, self.state_path)
        self._recover()
        while keep_going():
            try:
                self._retry_due()
                done = self._read_page()
            except PacsAccessError:
                raise
            except PacsError as error:  # down or restarting: the state holds our place
                self.say(f"PACS unavailable ({error}); trying again in {self.settings.poll_s:g} s")
                done = True
            if done and keep_going():
                time.sleep(self.settings.poll_s)

    def _recover(self) -> None:
        """A study still ``started`` was being analysed when the watcher died: retry it now."""
        for key, entry in self.state.studies.items():
            if entry.status == "started":
                self._after_failure(key, entry, "the watcher stopped during its analysis", delay_s=0.0)
        save_state(self.state, self.state_path)

    def _read_page(self) -> bool:
        page = self.feed.changes(self.state.last_change, self.settings.page_size)
        for change in page.changes:
            if change.kind == "StableStudy":
                self._consider(change.resource_id, change.sequence)
        if page.last != self.state.last_change:
            self.state.last_change = page.last
            save_state(self.state, self.state_path)
        return page.done

    def _consider(self, key: str, sequence: int) -> None:
        entry = self.state.studies.get(key)
        if entry is not None and entry.status == "done":
            return  # complete again after new instances (e.g. our results): analysed once only
        facts = self.feed.study(key)
        if facts is None:
            return  # deleted since
        if (
            entry is not None
            and entry.status in {"skipped", "failed"}
            and entry.last_update == facts.last_update
        ):
            return  # nothing new since it was looked at
        reason = not_a_chest_ct(facts)
        if reason is not None:
            self.state.studies[key] = StudyEntry("skipped", note=reason, last_update=facts.last_update)
            self.state.last_change = sequence
            save_state(self.state, self.state_path)
            self.say(f"study {key[:8]}: skipped, {reason}")
            return
        if entry is not None and entry.status in {"skipped", "failed"}:
            entry.attempts = 0  # new instances: a fresh start
        self._analyse(key, facts, sequence)

    def _retry_due(self) -> None:
        now = time.time()
        for key, entry in list(self.state.studies.items()):
            if entry.status == "retry" and entry.retry_at <= now:
                facts = self.feed.study(key)
                if facts is None:
                    del self.state.studies[key]
                    save_state(self.state, self.state_path)
                else:
                    self._analyse(key, facts, self.state.last_change)

    def _analyse(self, key: str, facts: StudyFacts, sequence: int) -> None:
        entry = self.state.studies.setdefault(key, StudyEntry("started"))
        entry.status, entry.attempts, entry.last_update = "started", entry.attempts + 1, facts.last_update
        save_state(self.state, self.state_path)
        self.say(f"study {key[:8]}: analysing (attempt {entry.attempts})")
        outcome = None  # said once the state holds it: a reader of the output finds it saved
        try:
            self.analyse(facts)
        except StudyNotAnalysable as reason:
            entry.status, entry.note = "skipped", str(reason)
            outcome = f"skipped, {reason}"
        except PacsAccessError:
            raise
        except (EmphysemaError, OSError) as error:
            self._after_failure(key, entry, str(error), self.settings.retry_delay_s)
        except KeyboardInterrupt:
            # Stopped on purpose (SIGTERM, Ctrl-C): not the study's fault, so not an attempt.
            entry.status, entry.attempts, entry.retry_at = "retry", entry.attempts - 1, 0.0
            save_state(self.state, self.state_path)
            raise
        else:
            entry.status, entry.note = "done", ""
            outcome = "done"
        self.state.last_change = max(self.state.last_change, sequence)
        save_state(self.state, self.state_path)
        if outcome is not None:
            self.say(f"study {key[:8]}: {outcome}")

    def _after_failure(self, key: str, entry: StudyEntry, note: str, delay_s: float) -> None:
        entry.note = note
        if entry.attempts >= self.settings.max_attempts:
            entry.status = "failed"
            self.say(f"study {key[:8]}: failed after {entry.attempts} attempts, {note}")
        else:
            entry.status = "retry"
            entry.retry_at = time.time() + delay_s * 2 ** (entry.attempts - 1)
            self.say(f"study {key[:8]}: attempt {entry.attempts} failed ({note}); will retry")
