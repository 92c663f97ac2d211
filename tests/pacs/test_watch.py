"""`emphysema watch` as a real subprocess: a real Orthanc, the real embedded Triton and the tiny model.

A study sent while it runs is analysed; killed (SIGKILL) during the analysis and restarted, the
study is analysed exactly once more and Orthanc lists one SEG, one SR and one PDF; restarted after
a kill that came between the store and the state's update (with or without the local results in
place), it is not analysed again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

from pacs.dicomweb import connect, describe_series, store_folder
from pacs.watch_state import StudyEntry, WatchState, load_state, save_state
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from tests.pacs.conftest import started_pacs
from tests.triton_support import inference_count

pytestmark = [pytest.mark.pacs, pytest.mark.triton]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with started_pacs(tmp_path_factory.mktemp("pacs_watch")) as running:
        yield running


class Watcher:
    """`python -m emphysema watch ...` with its output in a file."""

    def __init__(self, arguments: list[str], environment: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "emphysema", "watch", *arguments],
                cwd=REPOSITORY_ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={**os.environ, **environment},
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout_s: float = 120.0, poll_s: float = 0.05) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            assert self.process.poll() is None, f"watch exited {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout_s} s:\n{self.output()}"
            time.sleep(poll_s)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def watch(orthanc, triton_server, tiny_repository, tmp_path):
    """Start watchers on one --out folder; each is killed at the end if still running."""
    started: list[Watcher] = []
    environment = {
        "EMPHYSEMA_PACS_USER": orthanc.credentials.user,
        "EMPHYSEMA_PACS_PASSWORD": orthanc.credentials.password,
    }
    arguments = ["--dicomweb", orthanc.url, "--out", str(tmp_path / "watch"), "--url", triton_server.grpc_url]
    arguments += [
        "--model",
        tiny_repository.model_name,
        "--slice-step",
        "4",
        "--poll",
        "0.2",
        "--retry-delay",
        "0",
    ]

    def start() -> Watcher:
        watcher = Watcher(arguments, environment, tmp_path / f"watch_{len(started)}.log")
        started.append(watcher)
        watcher.wait_for("Watching")
        return watcher

    yield start
    for watcher in started:
        watcher.kill()


def send_study(orthanc, tmp_path: Path, seed: int) -> str:
    write_study(
        tmp_path / f"study-{seed}", "CLE+PSE", "severe", seed, settings_for_size("small"), nifti=False
    )
    folder = tmp_path / f"study-{seed}" / "dicom"
    store_folder(connect(orthanc.url, orthanc.credentials), folder)
    return pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID


def only_study(out: Path) -> tuple[str, StudyEntry]:
    [(key, entry)] = load_state(out / "watch_state.json").studies.items()
    return key, entry


def assert_stored_once(orthanc, study_uid: str, local: Path) -> None:
    """The PACS holds the study's CT series and exactly the result series of the one local result set."""
    client = connect(orthanc.url, orthanc.credentials)
    series = describe_series(client, study_uid)
    local_series: dict[str, int] = {}
    for path in local.rglob("*.dcm"):
        uid = pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID
        local_series[uid] = local_series.get(uid, 0) + 1
    assert [one.modality for one in series].count("CT") == 1
    assert sorted(one.modality for one in series if one.modality != "CT") == ["DOC", "SEG", "SR"]
    assert {one.series_uid: one.instances for one in series if one.modality != "CT"} == local_series


def test_a_study_sent_while_watching_is_analysed_once_even_across_a_kill(
    watch, orthanc, triton_server, tiny_repository, tmp_path
):
    out = tmp_path / "watch"
    first = watch()
    study_uid = send_study(orthanc, tmp_path, seed=31)
    first.wait_for("analysing (attempt 1)")
    first.kill()  # SIGKILL, in the middle of fetching or analysing the study
    key, entry = only_study(out)
    assert (entry.status, entry.attempts) == ("started", 1), first.output()
    assert not (out / key).exists(), "the killed analysis left a visible result folder"

    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    second = watch()
    second.wait_for("done")
    report = json.loads((out / key / "report.json").read_text(encoding="utf-8"))
    served = inference_count(triton_server.grpc_url, tiny_repository.model_name) - before
    assert served == report["tiles"]["count"]
    _, entry = only_study(out)
    assert (entry.status, entry.attempts) == ("done", 2)
    assert not list(out.glob(".*partial*"))
    assert_stored_once(orthanc, study_uid, out / key)
    assert study_uid not in first.output() + second.output(), "UIDs stay out of the output"

    # Orthanc calls the study complete again after our results arrive: it is not analysed again.
    time.sleep(2.5)
    assert second.output().count("analysing") == 1
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=30) == 0
    assert "Stopping the watch" in second.output()

    # A kill between the state's update and the store's: the state still says "started".
    state_path, local = out / "watch_state.json", out / key
    save_state(WatchState(load_state(state_path).last_change, {key: StudyEntry("started", 1)}), state_path)
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    third = watch()
    third.wait_for("done")
    assert inference_count(triton_server.grpc_url, tiny_repository.model_name) == before, "analysed twice"
    assert_stored_once(orthanc, study_uid, local)
    third.kill()

    # A kill after the store but before the local results were renamed into place: the PACS
    # lists the results, so the study is not classified again and nothing is stored twice.
    results = tmp_path / "kept"
    local.rename(results)
    save_state(WatchState(load_state(state_path).last_change, {key: StudyEntry("started", 1)}), state_path)
    fourth = watch()
    fourth.wait_for("done")
    assert inference_count(triton_server.grpc_url, tiny_repository.model_name) == before, "analysed twice"
    assert_stored_once(orthanc, study_uid, results)
    assert load_state(state_path).studies[key].status == "done"
