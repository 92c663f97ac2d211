"""`emphysema serve` supervises Triton: a killed or crashed Triton is restarted with backoff, the
status endpoint says not-ready while it is down and counts the restarts, and repeated crashes
end in a clear error."""

from __future__ import annotations

import http.client
import os
import signal
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from deploy.ports import free_ports
from deploy.supervisor import backoff_seconds

pytestmark = [pytest.mark.triton, pytest.mark.slow]


class Served:
    """A `serve` launcher with its ports."""

    def __init__(self, launcher, repository, *extra: str) -> None:
        self.grpc_port, self.http_port, metrics_port, self.status_port = free_ports(4)
        ports = [
            "--grpc-port",
            str(self.grpc_port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(metrics_port),
            "--supervisor-port",
            str(self.status_port),
        ]
        self.run = launcher(
            [
                "serve",
                "--repository",
                str(repository),
                "--threads",
                "1",
                "--exit-timeout",
                "5",
                *ports,
                *extra,
            ]
        )
        self.run.wait_for("Press Ctrl-C")

    def status(self, path: str) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.status_port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def metric(self, name: str) -> float:
        _, text = self.status("/metrics")
        values = [line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")]
        assert len(values) == 1, text
        return float(values[0])

    def triton_pid(self, descendants) -> int:
        for pid in descendants(self.run.process.pid):
            try:
                if b"tritonserver" in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]:
                    return pid
            except OSError:
                continue
        raise AssertionError(f"no tritonserver below serve:\n{self.run.output()}")

    def wait_restarted(self, restarts: int, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while self.metric("emphysema_triton_restarts_total") < restarts or self.status("/ready")[0] != 200:
            assert self.run.process.poll() is None, self.run.output()
            assert time.monotonic() < deadline, self.run.output()
            time.sleep(0.2)

    def classify(self, repository) -> None:
        size = repository.image_size
        image = grpcclient.InferInput("image", [1, size, size, 1], "UINT8")
        image.set_data_from_numpy(np.zeros((1, size, size, 1), np.uint8))
        with grpcclient.InferenceServerClient(f"127.0.0.1:{self.grpc_port}") as client:
            result = client.infer(repository.model_name, [image], client_timeout=30)
        assert result.as_numpy("probabilities").shape == (1, 4)


def _wait_not_ready(served: Served, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while served.status("/ready")[0] != 503:
        assert time.monotonic() < deadline, "the status endpoint never said not-ready while Triton was down"
        time.sleep(0.05)


def test_killed_triton_is_restarted_and_counted(launcher, tiny_repository, process_tools):
    descendants, process_gone = process_tools
    served = Served(launcher, tiny_repository.path)
    assert served.status("/ready")[0] == 200 and served.metric("emphysema_triton_restarts_total") == 0
    served.classify(tiny_repository)
    first = served.triton_pid(descendants)
    os.kill(first, signal.SIGKILL)
    _wait_not_ready(served)
    served.wait_restarted(1)
    served.classify(tiny_repository)
    assert served.triton_pid(descendants) != first and process_gone(first)
    assert served.metric("emphysema_triton_unexpected_exits_total") == 1
    output = served.run.output()
    assert "Triton was killed by SIGKILL unexpectedly" in output
    assert "Triton restarted (restart 1)" in output
    assert served.run.stop_and_check(signal.SIGTERM) == 0


@pytest.mark.parametrize("crash", ["huge_declared_shape", "deep_nesting"])
def test_crash_requests_kill_an_unprotected_triton_and_serve_brings_it_back(
    launcher, tiny_repository, crash, crash_request_bodies
):
    """With --allow-http-inference, Triton 2.51 still dies of the issue's requests; serve restarts it."""
    served = Served(launcher, tiny_repository.path, "--allow-http-inference")
    connection = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=60)
    try:
        connection.request(
            "POST",
            f"/v2/models/{tiny_repository.model_name}/infer",
            body=crash_request_bodies[crash],
            headers={"Content-Type": "application/json"},
        )
        connection.getresponse().read()
        answered = True
    except (http.client.RemoteDisconnected, ConnectionResetError):
        answered = False
    finally:
        connection.close()
    if answered and served.metric("emphysema_triton_unexpected_exits_total") == 0:
        pytest.fail("this Triton answered the crash request: the upstream bug is fixed; revisit the docs")
    served.wait_restarted(1)
    served.classify(tiny_repository)
    assert "unexpectedly" in served.run.output()
    assert served.run.stop_and_check(signal.SIGTERM) == 0


def test_repeated_crashes_end_in_a_clear_error(launcher, tiny_repository, process_tools):
    descendants, process_gone = process_tools
    served = Served(launcher, tiny_repository.path, "--max-restarts", "1", "--restart-window", "120")
    os.kill(served.triton_pid(descendants), signal.SIGKILL)
    served.wait_restarted(1)
    tree = descendants(served.run.process.pid)
    os.kill(served.triton_pid(descendants), signal.SIGKILL)
    assert served.run.process.wait(timeout=60) == 1
    output = served.run.output()
    assert "Triton exited unexpectedly 2 times within 120 s" in output
    assert "giving up after 1 restarts" in output
    deadline = time.monotonic() + 30
    while not all(process_gone(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(process_gone(pid) for pid in tree), "a process outlived serve after it gave up"


def test_backoff_doubles_up_to_thirty_seconds():
    assert [backoff_seconds(count) for count in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
