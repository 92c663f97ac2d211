"""A launcher run as a real subprocess (`python -m emphysema ...`), with its whole process tree.

Tests start `serve`, `app`, `app --serve` or `publish` exactly as a user or a supervisor (systemd,
Docker, Kubernetes) would, wait for the line saying it serves, signal it, and check that it and
every process it started are gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def process_gone(pid: int) -> bool:
    """True when the process no longer runs (exited, or a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in {"Z", "X"}


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children ...), from /proc."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            pending += children
    return sorted(set(found))


class Launcher:
    """One `emphysema` launcher subprocess with its output in a file."""

    def __init__(self, arguments: list[str], log_path: Path, environment: dict[str, str] | None = None):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "emphysema", *arguments],
                cwd=REPOSITORY_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(environment or {})},
                start_new_session=True,
            )  # a test's signals reach only the launcher, as from a supervisor

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout_s: float = 120) -> None:
        """Wait until the output contains `text`; fail with the output if the launcher exits first."""
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            assert self.process.poll() is None, f"launcher exited {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout_s} s:\n{self.output()}"
            time.sleep(0.2)

    def stop_and_check(self, signal_number: int, timeout_s: float = 60) -> int:
        """Send a signal; return the exit status once the launcher and all its descendants are gone."""
        tree = descendants(self.process.pid)
        assert tree, "the launcher started no child process"
        self.process.send_signal(signal_number)
        status = self.process.wait(timeout=timeout_s)
        deadline = time.monotonic() + 30
        while not all(process_gone(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = [pid for pid in tree if not process_gone(pid)]
        assert not survivors, f"{survivors} outlived the launcher ({_commands(survivors)}):\n{self.output()}"
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _commands(pids: list[int]) -> list[str]:
    commands = []
    for pid in pids:
        try:
            commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:80].decode())
        except OSError:
            commands.append("?")
    return commands


@pytest.fixture
def launcher(tmp_path):
    """A factory of `Launcher`s; every one still running at the end of the test is killed."""
    started: list[Launcher] = []

    def start(arguments: list[str], environment: dict[str, str] | None = None) -> Launcher:
        run = Launcher(arguments, tmp_path / f"launcher_{len(started)}.log", environment)
        started.append(run)
        return run

    yield start
    for run in started:
        for pid in descendants(run.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run.kill()


@pytest.fixture(scope="session")
def process_tools():
    """`descendants` and `process_gone`, for tests (imported with importlib, they cannot import conftest)."""
    return descendants, process_gone
