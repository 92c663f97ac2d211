"""Children never outlive the launcher: stop signals unwind it, and the kernel stops orphans.

Every launcher (`serve`, `app`, `app --serve`, `publish`) runs its children for as long as it
runs itself. Two mechanisms make that hold whatever happens to it:

- `stop_on_signals` turns SIGTERM and SIGHUP into KeyboardInterrupt, the exception Ctrl-C
  already raises, so the launcher's `finally` blocks stop every child on any of the three.
- `die_with_parent` is a `preexec_fn` setting the child's parent-death signal: if the launcher is
  killed outright (SIGKILL, a crash), the kernel sends the child SIGTERM. The kernel ties it to
  the *thread* that started the child, so start children from the main thread.
- `start_guardian` covers children started by a library that offers no `preexec_fn` (pyngrok's
  ngrok): a small process tied to the launcher that terminates them when the launcher dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# signals_held's nesting depth and the stop signal it holds back (signal handlers run in the
# main thread only, so no lock is needed).
_held: dict = {"depth": 0, "pending": ""}
# The guardian: wait for the parent-death signal, then terminate the pids it was given.
GUARDIAN_CODE = """
import os, signal, sys
def stop(*_):
    for pid in map(int, sys.argv[1:]):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGUSR1, lambda *_: os._exit(0))  # released: the launcher stopped them itself
signal.signal(signal.SIGINT, signal.SIG_IGN)
if os.getppid() != int(os.environ["EMPHYSEMA_GUARDED_PARENT"]):
    stop()
while True:
    signal.pause()
"""


def die_with_parent(private_files: bool = False) -> Callable[[], None]:
    """Return a `preexec_fn` that makes the child receive SIGTERM when this process dies.

    Args:
        private_files: also set the child's umask to 077, so files it creates (temporary files,
            shared memory) are readable by this user only.
    """
    parent = os.getpid()

    def tie_to_parent() -> None:  # runs in the child between fork and exec
        if private_files:
            os.umask(0o077)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return tie_to_parent


def _interrupt(signal_number: int, _frame: object) -> None:
    # Later signals must not cut the cleanup short: it is already running.
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    name = signal.Signals(signal_number).name
    if _held["depth"]:
        _held["pending"] = name  # raised when the held block ends (signals_held)
        return
    raise KeyboardInterrupt(name)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt (once).

    Outside the main thread (a launcher's `main` run by a test in a thread) Python cannot set
    signal handlers; the block then runs without them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Within `stop_on_signals`, hold a stop signal until the block ends (then it interrupts).

    A stop signal then cannot cut a write in half (a JSON record, a result written but not counted).
    """
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
        pending = _held["pending"]
        if pending and not _held["depth"]:
            _held["pending"] = ""
            raise KeyboardInterrupt(pending)


def child_pids() -> list[int]:
    """The pids of this process's children (Linux /proc), e.g. a tool a library started."""
    pids: list[int] = []
    for task in Path("/proc/self/task").glob("*"):
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(pids))


def start_guardian(pids: list[int]) -> subprocess.Popen:
    """Start a process that sends SIGTERM to `pids` when this process dies (see `release_guardian`)."""
    environment = {**os.environ, "EMPHYSEMA_GUARDED_PARENT": str(os.getpid())}
    return subprocess.Popen(  # noqa: S603 - this interpreter and fixed code
        [sys.executable, "-c", GUARDIAN_CODE, *map(str, pids)],
        env=environment,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent(),  # noqa: PLW1509 - started from the main thread
    )


def release_guardian(guardian: subprocess.Popen) -> None:
    """Let a guardian go without it touching its pids (they were stopped in the normal way)."""
    if guardian.poll() is None:
        guardian.send_signal(signal.SIGUSR1)
    try:
        guardian.wait(timeout=5)
    except subprocess.TimeoutExpired:
        guardian.kill()
        guardian.wait()
