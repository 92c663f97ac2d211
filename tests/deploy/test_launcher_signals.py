"""Every launcher stops all of its children on SIGTERM, SIGINT and SIGHUP, and no child outlives
a launcher killed outright (SIGKILL).

Each launcher runs as a real subprocess: `serve` (Triton and its python stub), `app` (Streamlit),
`app --serve` (both) and `publish` (Streamlit; ngrok cannot be reached from here, so the tunnel
fails and the app keeps serving locally, as it does offline).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from deploy.ports import free_ports

pytestmark = [pytest.mark.triton, pytest.mark.slow]

PASSWORD = "correct-horse-battery"


def _arguments(kind: str, repository) -> tuple[list[str], str, dict[str, str]]:
    """The command line, the line printed once it serves, and extra environment, for one launcher."""
    if kind == "serve":
        grpc_port, http_port, metrics_port, supervisor_port = free_ports(4)
        arguments = [
            "serve",
            "--repository",
            str(repository),
            "--threads",
            "1",
            "--exit-timeout",
            "5",
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            "--metrics-port",
            str(metrics_port),
            "--supervisor-port",
            str(supervisor_port),
        ]
        return arguments, "Press Ctrl-C", {}
    port = str(free_ports(1)[0])
    if kind == "app":
        return ["app", "--port", port, "--url", f"127.0.0.1:{free_ports(1)[0]}"], "Web app:", {}
    if kind == "app --serve":
        return ["app", "--port", port, "--serve", "--repository", str(repository)], "Web app:", {}
    environment = {"NGROK_AUTHTOKEN": "offline-test-token", "EMPHYSEMA_PUBLIC_AUTH": f"doctor:{PASSWORD}"}
    triton_url = f"127.0.0.1:{free_ports(1)[0]}"
    arguments = ["publish", "--port", port, "--url", triton_url, "--ngrok-path", "/bin/false"]
    return arguments, "Local URL:", environment


LAUNCHERS = ["serve", "app", "app --serve", "publish"]


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
@pytest.mark.parametrize("kind", LAUNCHERS)
def test_stop_signal_stops_every_child(launcher, tiny_repository, kind, signal_number):
    arguments, ready_line, environment = _arguments(kind, tiny_repository.path)
    run = launcher(arguments, environment)
    run.wait_for(ready_line)
    status = run.stop_and_check(signal_number)
    assert "Traceback" not in run.output(), run.output()
    expected = {"publish": 1}.get(kind, 0)  # publish says 1 when it only served locally
    assert status == expected, run.output()


@pytest.mark.parametrize("kind", LAUNCHERS)
def test_no_child_outlives_a_killed_launcher(launcher, tiny_repository, kind):
    arguments, ready_line, environment = _arguments(kind, tiny_repository.path)
    run = launcher(arguments, environment)
    run.wait_for(ready_line)
    run.stop_and_check(signal.SIGKILL)


def test_guardian_stops_what_a_library_started_when_the_launcher_dies(process_tools):
    """pyngrok starts ngrok without a parent-death signal: the guardian must stop it."""
    _, process_gone = process_tools
    script = (
        "import subprocess, sys, time\n"
        "from emphysema.lifetime import start_guardian\n"
        "tool = subprocess.Popen(['sleep', '600'])\n"  # like ngrok: no preexec_fn of ours
        "start_guardian([tool.pid])\n"
        "time.sleep(0.5); print(tool.pid, flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    tool_pid = int(parent.stdout.readline())
    assert not process_gone(tool_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 15
    while not process_gone(tool_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process_gone(tool_pid), "the tool outlived its killed launcher"
