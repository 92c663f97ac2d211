"""Faults under load: Triton killed and restarted, frozen, stopped gracefully, and driven for a while.

Every test here starts its own short-lived embedded Triton (the `own_triton` factory) on free
loopback ports, so killing or freezing it never disturbs the shared session server. Every loop is
bounded in count and in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from client.errors import TritonError
from client.triton import TritonClassifier, TritonSettings

pytestmark = [pytest.mark.triton, pytest.mark.slow]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def _images(size: int, count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 1), dtype=np.uint8)


class Ledger:
    """Records how every request ended, so a test can prove each ended exactly once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: dict[int, list[tuple[str, float, float]]] = {}
        self.messages: dict[int, str] = {}

    def run(self, request_id: int, call) -> None:
        started = time.monotonic()
        try:
            call()
            outcome = "ok"
        except TritonError as error:  # the wrapper's typed errors
            outcome = type(error).__name__
            self.messages[request_id] = f"{error.status}: {error}"
        except BaseException as error:  # anything else is a bug: recorded, then asserted on
            outcome = f"UNTYPED {type(error).__name__}: {error}"
        with self._lock:
            self.outcomes.setdefault(request_id, []).append((outcome, started, time.monotonic()))

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entries in self.outcomes.values():
            for outcome, _, _ in entries:
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts


def _worst_case_seconds(settings: TritonSettings) -> float:
    """The longest one wrapper call may take: every try hits its deadline, plus every backoff."""
    tries = settings.retries + 1
    backoff = sum(settings.backoff_seconds * 2**attempt for attempt in range(settings.retries))
    return tries * settings.timeout_seconds + backoff


def test_sigkill_and_restart_under_concurrent_load(own_triton, tiny_repository):
    server = own_triton()
    ports_settings = server.settings
    size = tiny_repository.image_size
    settings = TritonSettings(
        url=server.grpc_url,
        timeout_seconds=2.0,
        retries=6,
        backoff_seconds=0.25,
        max_batch_size=tiny_repository.max_batch_size,
    )
    # Each call may take this long at most; a little slack for a busy 2-core machine.
    call_bound = _worst_case_seconds(settings) + 5
    ledger = Ledger()
    requests = 48
    with TritonClassifier(settings) as classifier:
        classifier.model_info()  # read before the crash, like a running app
        killed = threading.Event()

        def one_request(request_id: int) -> None:
            ledger.run(request_id, lambda: classifier.classify(_images(size, 2, request_id)))

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = []
            for request_id in range(requests):
                futures.append(pool.submit(one_request, request_id))
                if request_id == 12:
                    time.sleep(0.3)  # let the first requests land, then crash the server mid-load
                    os.kill(server.process.pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                    killed.set()
                time.sleep(0.02)
            # Restart on the same ports, as a supervisor would, while requests are still retrying.
            server.process.wait(timeout=10)
            server.stop()  # cleans its work folder and shared memory; the process is already gone
            restarted_at = time.monotonic()
            restarted = own_triton(ports_settings)
            ready_at = time.monotonic()
            done, not_done = wait(futures, timeout=call_bound * 3)
        assert not not_done, f"{len(not_done)} requests hung past every deadline"
        # Once the server is ready again, a fresh request succeeds through the same wrapper.
        assert len(classifier.classify(_images(size, 3, 999))) == 3
    assert killed.is_set()
    assert restarted.grpc_url == server.grpc_url
    assert sorted(ledger.outcomes) == list(range(requests)), "a request was lost"
    assert all(len(entries) == 1 for entries in ledger.outcomes.values()), "a request ended twice"
    untyped = [entries for entries in ledger.outcomes.values() if entries[0][0].startswith("UNTYPED")]
    assert not untyped, untyped
    summary = ledger.summary()
    assert set(summary) <= {"ok", "TritonUnavailableError"}, summary
    assert summary.get("ok", 0) > 0
    durations = [end - start for entries in ledger.outcomes.values() for _, start, end in entries]
    assert max(durations) <= call_bound, f"a request took {max(durations):.1f} s, bound {call_bound:.1f} s"
    # Requests that started after the restart began all succeeded (retrying until it was ready).
    late = [entries[0][0] for entries in ledger.outcomes.values() if entries[0][1] >= restarted_at]
    assert all(outcome == "ok" for outcome in late), late
    # And the load really was in flight across the crash: some requests began around the kill and
    # ended only after the restart began (no server could answer them in between).
    spanning = [
        entries
        for entries in ledger.outcomes.values()
        if entries[0][1] <= killed_at + 0.5 and entries[0][2] >= restarted_at
    ]
    assert spanning, "no request was in flight across the crash; the test did not test anything"
    print(
        f"SIGKILL/restart: {summary}, restart took {ready_at - restarted_at:.1f} s, "
        f"longest request {max(durations):.1f} s (bound {call_bound:.1f} s)"
    )


def test_killed_server_leaves_no_python_backend_stub_behind(own_triton):
    server = own_triton()
    group = server.process.pid  # Triton runs in its own session: its stubs share this process group
    assert _group_members(group), "no processes in Triton's group"
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while _group_members(group) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftover = _group_members(group)
    if leftover:
        os.killpg(group, signal.SIGKILL)
    assert not leftover, f"python-backend stubs outlived a killed Triton: {leftover}"


def _group_members(group: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def server_errors(app: AppTest) -> list[str]:
    """The page's error boxes, less the lung check's (CT_small.dcm is a CT slice without lung)."""
    messages = [str(element.value) for element in app.error]
    return [message for message in messages if "does not look like lung" not in message]


def test_frozen_triton_shows_an_error_in_the_app_within_the_deadline_then_recovers(
    own_triton, ct_small_bytes, monkeypatch
):
    server = own_triton()
    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", server.grpc_url)
    app = AppTest.from_file(str(REPOSITORY_ROOT / "client" / "app.py"), default_timeout=60)
    app.run()
    app.file_uploader[0].set_value([("good.dcm", ct_small_bytes, "application/dicom")]).run()
    assert not app.exception and not server_errors(app), server_errors(app)
    assert app.session_state["entries"][0]["predictions"], "not classified while the server was up"

    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        app.run(timeout=60)
        frozen_seconds = time.monotonic() - started
        errors = server_errors(app)
        assert not app.exception
        assert any(server.grpc_url in message for message in errors), errors
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    # The app's deadline is a few seconds per call: the page must not hang for the default minute.
    assert frozen_seconds < 30, f"the app took {frozen_seconds:.1f} s to report a frozen server"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        app.run(timeout=60)
        if not server_errors(app):
            break
        time.sleep(0.5)
    assert not server_errors(app), server_errors(app)
    assert not app.exception
    assert app.session_state["entries"][0]["predictions"]
    print(f"SIGSTOP: the app reported the frozen server after {frozen_seconds:.1f} s")


def test_frozen_triton_makes_the_cli_fail_within_its_deadline(own_triton, ct_small_bytes, tmp_path, capsys):
    from emphysema import cli

    server = own_triton()
    scan = tmp_path / "slice.dcm"
    scan.write_bytes(ct_small_bytes)
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        status = cli.main(["predict", "--url", server.grpc_url, "--timeout", "1", "--quiet", str(scan)])
        elapsed = time.monotonic() - started
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    error = capsys.readouterr().err
    bound = _worst_case_seconds(TritonSettings(timeout_seconds=1)) + 5
    assert status == 2, error
    assert elapsed < bound, f"predict took {elapsed:.1f} s against a frozen server (bound {bound:.1f} s)"
    # A new connection to a frozen server never completes its handshake: "not reachable"; a
    # connection made before the freeze hits the deadline instead: "did not answer".
    assert f"Triton at {server.grpc_url}" in error and "Traceback" not in error, error
    assert "not reachable" in error or "did not answer within 1 s" in error, error
    assert cli.main(["predict", "--url", server.grpc_url, "--quiet", str(scan)]) == 0


def test_graceful_shutdown_completes_the_requests_triton_already_accepted(
    own_triton, slow_repository, tiny_repository
):
    """SIGTERM (`EmbeddedTriton.stop()`) while 8 requests are inside Triton: all 8 still get answers.

    The model here takes about a second per batch (`slow_repository`), so requests are still being
    executed or queued when the signal arrives. Every one of them must complete successfully, some
    of them after the signal was sent (so they were inside Triton when the shutdown began), and
    Triton must exit with status 0. A request sent after the shutdown began may only be refused as
    UNAVAILABLE. (The serving tests cover SIGTERM at the launcher level; this is the same promise
    seen through the client wrapper.)
    """
    server = own_triton(repository=slow_repository)
    size = tiny_repository.image_size
    settings = TritonSettings(
        url=server.grpc_url, timeout_seconds=30.0, retries=0, max_batch_size=tiny_repository.max_batch_size
    )
    ledger = Ledger()
    with TritonClassifier(settings) as classifier, ThreadPoolExecutor(max_workers=9) as pool:
        classifier.model_info()
        accepted = [
            pool.submit(
                ledger.run, number, lambda number=number: classifier.classify(_images(size, 1, number))
            )
            for number in range(8)
        ]
        time.sleep(0.5)  # the requests reach Triton; the model holds them for about a second
        unfinished = sum(not future.done() for future in accepted)
        signalled_at = time.monotonic()
        stopping = pool.submit(server.stop)
        time.sleep(0.3)
        late = pool.submit(ledger.run, 100, lambda: classifier.classify(_images(size, 1, 100)))
        done, not_done = wait([*accepted, late, stopping], timeout=90)
        assert not not_done
        returncode = stopping.result()
    assert unfinished > 0, "every request finished before SIGTERM: the model was not slow enough"
    outcomes = {number: entries[0][0] for number, entries in ledger.outcomes.items()}
    assert all(outcomes[number] == "ok" for number in range(8)), outcomes
    finished_after_signal = sum(ledger.outcomes[number][0][2] > signalled_at for number in range(8))
    assert finished_after_signal > 0
    assert outcomes[100] in {"ok", "TritonUnavailableError"}, (outcomes[100], ledger.messages)
    assert returncode == 0, f"Triton exited with {returncode} on SIGTERM"
    print(
        f"graceful shutdown: {unfinished} of 8 requests unfinished at SIGTERM, all 8 answered "
        f"({finished_after_signal} after the signal); a request sent during shutdown: {outcomes[100]}"
    )


LOAD_REQUESTS = 1500
RSS_GROWTH_BOUND_KIB = 32 * 1024


def _locate_perf_analyzer():
    """The bench stage's located perf_analyzer (binary and environment), or None where it is not installed."""
    from bench.perf_analyzer import locate_perf_analyzer
    from bench.settings import BenchError

    try:
        return locate_perf_analyzer()
    except BenchError as error:
        print(f"perf_analyzer unavailable ({error}); using a thread pool through the wrapper instead")
        return None


def _load_with_perf_analyzer(perf_analyzer, server, model: str, requests: int) -> str:
    command = [
        str(perf_analyzer.binary),
        "-m",
        model,
        "-i",
        "grpc",
        "-u",
        server.grpc_url,
        "--concurrency-range",
        "8",
        "--request-count",
        str(requests),
        "-b",
        "1",
    ]
    completed = subprocess.run(
        command, env=perf_analyzer.environment, capture_output=True, text=True, timeout=240, check=False
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def _load_with_threads(server, tiny_repository, requests: int) -> str:
    """The fallback when perf_analyzer is missing: 8 threads through the wrapper, one image each."""
    settings = TritonSettings(url=server.grpc_url, timeout_seconds=10, retries=0)
    ledger = Ledger()
    with TritonClassifier(settings) as classifier, ThreadPoolExecutor(max_workers=8) as pool:
        image = _images(tiny_repository.image_size, 1, 0)
        list(pool.map(lambda number: ledger.run(number, lambda: classifier.classify(image)), range(requests)))
    summary = ledger.summary()
    assert summary == {"ok": requests}, summary
    return f"thread pool: {summary}"


def test_sustained_load_has_no_failed_requests_and_stable_server_memory(
    own_triton, tiny_repository, rss_reader
):
    server = own_triton()
    perf_analyzer = _locate_perf_analyzer()

    def load(requests: int) -> str:
        if perf_analyzer is not None:
            return _load_with_perf_analyzer(perf_analyzer, server, tiny_repository.model_name, requests)
        return _load_with_threads(server, tiny_repository, requests)

    load(LOAD_REQUESTS // 3)  # warm-up: allocator pools, gRPC buffers and onnxruntime arenas settle
    settled = rss_reader(server.process.pid)
    report = load(LOAD_REQUESTS)
    after = rss_reader(server.process.pid)
    assert server.process.poll() is None
    statistics = _inference_statistics(server, tiny_repository.model_name)
    assert statistics["fail"] == 0, statistics
    assert statistics["success"] >= LOAD_REQUESTS + LOAD_REQUESTS // 3, statistics
    growth = sum(after.values()) - sum(settled.values())
    print(
        f"sustained load ({'perf_analyzer' if perf_analyzer else 'thread pool'}, concurrency 8, "
        f"{LOAD_REQUESTS} requests): server tree RSS {sum(settled.values()) / 1024:.1f} MiB -> "
        f"{sum(after.values()) / 1024:.1f} MiB ({growth / 1024:+.1f} MiB), "
        f"per process {settled} -> {after}; "
        f"statistics {statistics}"
    )
    if perf_analyzer is not None:
        assert "Throughput" in report
    assert growth < RSS_GROWTH_BOUND_KIB, f"server RSS grew by {growth} KiB under load"
    assert set(after) == set(settled), "Triton's process tree changed under load (a stub restarted?)"


def _inference_statistics(server, model: str) -> dict[str, int]:
    import tritonclient.grpc as grpcclient

    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        statistics = client.get_inference_statistics(model, as_json=True, client_timeout=10)
    inference = statistics["model_stats"][0]["inference_stats"]
    return {outcome: int(inference[outcome].get("count", 0)) for outcome in ("success", "fail")}
