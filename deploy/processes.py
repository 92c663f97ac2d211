"""Start, stop and read the log of the tritonserver child process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from emphysema.lifetime import die_with_parent

# Triton log lines look like "E1129 10:11:12.123456 42 server.cc:123] message".
TRITON_ERROR_LINE = re.compile(r"^E\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]]+\] ?(?P<message>.*)$")
# Error lines the CPU-only 2.51 build logs on every start; they are not why a start failed.
HARMLESS_ERRORS = ("CudaDriverHelper has not been initialized",)


def spawn(command: Sequence[str], environment: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start Triton in its own session, logging to a file, and tied to this process's life.

    Its own session keeps a terminal's Ctrl-C away from it, so the launcher decides how it stops
    (gracefully). The parent-death signal makes the kernel send it SIGTERM if this process dies
    without stopping it, so a crashed test run or CLI does not leave servers behind. (The kernel
    ties it to the calling *thread*: start servers from a thread that outlives them.)

    Args:
        command: the binary and its arguments.
        environment: the full environment for the child.
        log_path: file receiving Triton's stdout and stderr.

    Returns:
        The started process.
    """
    with open(log_path, "wb") as log:
        return subprocess.Popen(  # noqa: S603 - fixed binary, arguments built by the launcher
            list(command),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(private_files=True),  # noqa: PLW1509 - no threads rely on it
        )


def wait_or_kill(process: subprocess.Popen, timeout_s: float) -> int:
    """Wait for a stopping process; kill its whole process group if it overstays.

    Returns:
        The exit status (negative signal number when killed).
    """
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # The group holds Triton and its python-backend stubs; it is ours (start_new_session).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return process.wait()


def describe_exit(returncode: int) -> str:
    """Say how a process ended: ``exited with status 1`` or ``was killed by SIGABRT``."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def triton_errors(log_path: Path | None, tail_lines: int = 15, with_tail: bool = False) -> str:
    """Return Triton's error lines from its log, or its last lines when it logged no error.

    Args:
        log_path: Triton's log file.
        tail_lines: how many final lines to return when there is no error line.
        with_tail: add the final lines even when there are error lines (after a crash, the
            cause is often an unformatted line just before the last error).
    """
    if log_path is None or not log_path.is_file():
        return "(no Triton log was written)"
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [
        match["message"]
        for line in lines
        if (match := TRITON_ERROR_LINE.match(line))
        and not any(harmless in line for harmless in HARMLESS_ERRORS)
    ]
    # "error: creating server: ..." is Triton's final word when it gives up at start.
    errors += [line for line in lines if line.startswith("error:")]
    chosen = errors + ["(last log lines)", *lines[-tail_lines:]] if with_tail and errors else errors
    chosen = chosen or lines[-tail_lines:]
    return "\n".join(f"  {line}" for line in chosen) or "(Triton's log is empty)"


def remove_shared_memory(prefix: str) -> None:
    """Delete python-backend shared-memory regions a killed server left in /dev/shm."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return
    for region in shm.glob(f"{prefix}*"):
        try:
            region.unlink()
        except OSError:
            pass  # already gone, or not ours to remove


def restrict_shared_memory(prefix: str) -> None:
    """Make the python-backend shared-memory regions readable and writable by their owner only.

    The regions hold every request's pixels. Boost.Interprocess creates them with mode 0644
    whatever the umask, so the launcher narrows them to 0600 as soon as they appear.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return
    for region in shm.glob(f"{prefix}*"):
        try:
            if region.stat().st_mode & 0o077:
                region.chmod(0o600)
        except OSError:
            pass  # removed meanwhile, or not ours
