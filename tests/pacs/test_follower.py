"""The change-feed follower against the real Orthanc: each complete CT study handed to the analysis
once, other studies skipped with a note, its place kept across restarts and crashes.

The analysis here is a recorder (the follower is what is under test); `test_watch.py` runs the
real analysis through Triton.
"""

from __future__ import annotations

import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from pacs.changes import OrthancFeed, SeriesFacts, StudyFacts, orthanc_root
from pacs.credentials import Credentials
from pacs.dicomweb import connect, store_folder
from pacs.errors import PacsAccessError, PacsError
from pacs.follower import Follower, StudyNotAnalysable, WatchSettings, not_a_chest_ct
from pacs.watch_state import StudyEntry, WatchState, load_state, save_state

pytestmark = pytest.mark.pacs

FAST = WatchSettings(poll_s=0.2, retry_delay_s=0.0)


def copy_study(source: Path, destination: Path, study_uid: str | None = None, **tags: str) -> str:
    """Copy a series as a new study (or a new series of ``study_uid``) with fresh UIDs; return its UID."""
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    destination.mkdir(parents=True)
    for index, path in enumerate(sorted(source.glob("*.dcm"))):
        dataset = pydicom.dcmread(path)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uid
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        for keyword, value in tags.items():
            setattr(dataset, keyword, value)
        dataset.save_as(destination / f"{index:04d}.dcm")
    return study_uid


class Recorder:
    """Stands in for the analysis: records the study UIDs it is given, fails or refuses on request."""

    def __init__(self, failures: int = 0, refuse: bool = False) -> None:
        self.calls: list[str] = []
        self.failures, self.refuse = failures, refuse

    def __call__(self, facts: StudyFacts) -> None:
        self.calls.append(facts.study_uid)
        if self.refuse:
            raise StudyNotAnalysable("no lungs found")
        if self.failures:
            self.failures -= 1
            raise PacsError("storing: the PACS refused the request (HTTP 503)")


def follow_until(follower: Follower, condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    follower.run(lambda: not condition() and time.monotonic() < deadline)
    assert condition(), "the follower did not get there in time"


def next_stable_study(feed: OrthancFeed, since: int, timeout_s: float = 30.0) -> int:
    """The sequence number of the first StableStudy change after ``since``, once Orthanc records it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stable = [c.sequence for c in feed.changes(since, 1000).changes if c.kind == "StableStudy"]
        if stable:
            return stable[0]
        time.sleep(0.2)
    raise AssertionError("Orthanc recorded no StableStudy change")


def orthanc_id(feed: OrthancFeed, study_uid: str) -> str:
    studies = feed.session.get(f"{feed.url}/studies", params={"expand": ""}).json()
    [key] = [study["ID"] for study in studies if study["MainDicomTags"]["StudyInstanceUID"] == study_uid]
    return key


@pytest.fixture
def feed(pacs):
    feed = OrthancFeed(pacs.settings.url, pacs.credentials)
    yield feed
    feed.close()


@pytest.fixture
def client(pacs):
    return connect(pacs.settings.dicomweb_url, pacs.credentials)


def _state_of(path: Path, feed: OrthancFeed, study_uid: str) -> StudyEntry:
    return load_state(path).studies[orthanc_id(feed, study_uid)]


def test_a_ct_study_sent_while_following_is_analysed_once(feed, client, synthetic_study, tmp_path):
    state_path, recorder = tmp_path / "watch_state.json", Recorder()
    follower = Follower(feed, state_path, recorder, FAST, say=lambda line: None)
    follower.run(lambda: False)  # first start: place at the feed's end
    study_uid = copy_study(synthetic_study, tmp_path / "ct")
    store_folder(client, tmp_path / "ct")
    follow_until(follower, lambda: study_uid in recorder.calls)
    assert _state_of(state_path, feed, study_uid).status == "done"

    # A new series arrives (as our results will): Orthanc calls the study complete again.
    before = feed.last_sequence()
    copy_study(synthetic_study, tmp_path / "more", study_uid=study_uid, Modality="OT")
    store_folder(client, tmp_path / "more")
    stable = next_stable_study(feed, before)
    restarted = Follower(feed, state_path, recorder, FAST, say=lambda line: None)
    follow_until(restarted, lambda: load_state(state_path).last_change >= stable)
    assert recorder.calls.count(study_uid) == 1


def test_studies_that_are_not_chest_ct_are_skipped_with_a_note(feed, client, synthetic_study, tmp_path):
    state_path, recorder, lines = tmp_path / "watch_state.json", Recorder(), []
    follower = Follower(feed, state_path, recorder, FAST, say=lines.append)
    follower.run(lambda: False)
    magnetic = copy_study(synthetic_study, tmp_path / "mr", Modality="MR")
    head = copy_study(synthetic_study, tmp_path / "head", BodyPartExamined="HEAD")
    store_folder(client, tmp_path / "mr")
    store_folder(client, tmp_path / "head")
    follow_until(follower, lambda: len(load_state(state_path).studies) == 2)
    assert recorder.calls == []
    assert _state_of(state_path, feed, magnetic).note == "no CT series (modalities: MR)"
    assert _state_of(state_path, feed, head).note == "a CT of the head, not of the chest"
    assert any("skipped, no CT series" in line for line in lines)
    assert not any(magnetic in line or head in line for line in lines), "UIDs stay out of the output"


def test_a_study_the_analysis_refuses_is_skipped_and_a_failure_retried(
    feed, client, synthetic_study, tmp_path
):
    refused_path, failing_path = tmp_path / "refused.json", tmp_path / "failing.json"
    refusing, failing = Recorder(refuse=True), Recorder(failures=1)
    refuser = Follower(feed, refused_path, refusing, FAST, say=lambda line: None)
    retrier = Follower(feed, failing_path, failing, FAST, say=lambda line: None)
    refuser.run(lambda: False)
    retrier.run(lambda: False)
    study_uid = copy_study(synthetic_study, tmp_path / "ct")
    store_folder(client, tmp_path / "ct")
    follow_until(refuser, lambda: refusing.calls == [study_uid])
    entry = _state_of(refused_path, feed, study_uid)
    assert (entry.status, entry.note) == ("skipped", "no lungs found")
    follow_until(retrier, lambda: len(failing.calls) == 2)
    entry = _state_of(failing_path, feed, study_uid)
    assert (entry.status, entry.attempts) == ("done", 2)


def test_a_study_the_watcher_died_on_is_retried_then_given_up(feed, client, synthetic_study, tmp_path):
    study_uid = copy_study(synthetic_study, tmp_path / "ct")
    store_folder(client, tmp_path / "ct")
    key = orthanc_id(feed, study_uid)
    state_path = tmp_path / "watch_state.json"
    # As a watcher killed during the analysis leaves it: one attempt begun, never finished.
    save_state(WatchState(feed.last_sequence(), {key: StudyEntry("started", attempts=1)}), state_path)
    recorder = Recorder()
    follow_until(Follower(feed, state_path, recorder, FAST, say=lambda line: None), lambda: recorder.calls)
    assert recorder.calls == [study_uid] and load_state(state_path).studies[key].status == "done"

    save_state(WatchState(feed.last_sequence(), {key: StudyEntry("started", attempts=3)}), state_path)
    again = Recorder()
    Follower(feed, state_path, again, FAST, say=lambda line: None).run(lambda: False)
    entry = load_state(state_path).studies[key]
    assert again.calls == [] and (entry.status, entry.note) == (
        "failed",
        "the watcher stopped during its analysis",
    )


def test_a_wrong_password_stops_the_watcher_and_a_damaged_state_is_refused(pacs, tmp_path):
    wrong = OrthancFeed(pacs.settings.url, Credentials(pacs.credentials.user, "not-the-password"))
    with pytest.raises(PacsAccessError, match="HTTP 401"):
        Follower(wrong, tmp_path / "state.json", Recorder(), FAST).run()
    (tmp_path / "damaged.json").write_text("{", encoding="utf-8")
    with pytest.raises(PacsError, match="move it away"):
        Follower(wrong, tmp_path / "damaged.json", Recorder(), FAST)


def test_the_state_file_is_private(feed, tmp_path):
    Follower(feed, tmp_path / "state.json", Recorder(), FAST).run(lambda: False)
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["state.json"]


def test_the_rest_root_comes_from_the_dicomweb_url():
    assert orthanc_root("http://127.0.0.1:8042/dicom-web/") == "http://127.0.0.1:8042"
    with pytest.raises(PacsError, match="--orthanc"):
        orthanc_root("http://pacs.example/wado")


def test_chest_ct_rules():
    def facts(*series):
        return StudyFacts("id", "1.2", "", tuple(SeriesFacts(*item) for item in series))

    assert not_a_chest_ct(facts(("CT", "CHEST"), ("SR", ""))) is None
    assert not_a_chest_ct(facts(("CT", ""))) is None  # unknown body part: lung segmentation decides
    assert not_a_chest_ct(facts(("CT", "HEAD"), ("CT", "CHEST"))) is None
    assert not_a_chest_ct(facts(("SEG", ""), ("SR", ""))) == "no CT series (modalities: SEG, SR)"
