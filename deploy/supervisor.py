"""Keep the embedded Triton running: restart it with backoff after an unexpected exit, or give up.

`emphysema serve` runs one `TritonSupervisor`. When Triton exits without being asked to (a crash,
an out-of-memory kill, `kill -9`), the supervisor prints why with Triton's last error lines,
reports not-ready on its status endpoint, waits (1 s, 2 s, 4 s ... at most 30 s) and starts a
fresh Triton on the same ports. More than `max_restarts` unexpected exits within
`restart_window_s` mean something is persistently wrong: it gives up with a clear error.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from deploy import processes
from deploy.embedded import EmbeddedTriton
from deploy.errors import ServeError
from deploy.settings import ServeSettings
from deploy.status_endpoint import SupervisorState, start_status_endpoint

LONGEST_BACKOFF_S = 30.0
# How often a running Triton is checked (and new shared-memory regions narrowed to 0600).
POLL_INTERVAL_S = 1.0


def backoff_seconds(recent_exits: int) -> float:
    """Seconds to wait before restart number `recent_exits` in the window: 1, 2, 4, ... 30."""
    return min(LONGEST_BACKOFF_S, 2.0 ** max(0, recent_exits - 1))


class TritonSupervisor:
    """Runs the embedded Triton for `emphysema serve` and restarts it when it dies.

    Attributes:
        state: readiness and restart counts, also served on the status endpoint.
        server: the Triton currently running (or last started).
    """

    def __init__(
        self,
        repository: Path,
        settings: ServeSettings,
        work_directory: Path | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.work_directory = work_directory
        self.state = SupervisorState()
        self.server: EmbeddedTriton | None = None
        self._report = report or (lambda line: print(line, file=sys.stderr, flush=True))
        self._endpoint = None

    def start(self) -> float:
        """Start the status endpoint and the first Triton; return seconds until it was ready.

        Raises:
            ServeError: the first start failed (bad repository, busy port, a model that fails to
                load): nothing is restarted then, the user must fix it.
        """
        # Triton first: a bad repository or busy Triton port is the error a user needs to see.
        waited = self._start_server()
        if self.settings.supervisor_port:
            self._endpoint = start_status_endpoint(
                self.settings.host, self.settings.supervisor_port, self.state
            )
        self.state.update(ready=True)
        return waited

    def supervise(self) -> None:
        """Block while Triton runs; restart it after each unexpected exit.

        Returns only by raising: a signal handler's exception stops it, and too many exits in
        the window raise ServeError.
        """
        exits: deque[float] = deque()
        while True:
            returncode = self._wait_for_exit()
            self.state.update(ready=False, unexpected_exits=self.state.unexpected_exits + 1)
            now = time.monotonic()
            exits.append(now)
            while exits and now - exits[0] > self.settings.restart_window_s:
                exits.popleft()
            why = processes.describe_exit(returncode)
            self._report(
                f"emphysema serve: Triton {why} unexpectedly; its last log lines:\n"
                f"{processes.triton_errors(self.server.log_path, tail_lines=8, with_tail=True)}"
            )
            self._discard_server()
            if len(exits) > self.settings.max_restarts:
                raise ServeError(
                    f"Triton exited unexpectedly {len(exits)} times within "
                    f"{self.settings.restart_window_s:.0f} s (last: {why}); giving up after "
                    f"{self.state.restarts} restarts. See its log lines above."
                )
            delay = backoff_seconds(len(exits))
            self._report(
                f"emphysema serve: restarting Triton in {delay:.0f} s "
                f"(restart {self.state.restarts + 1}; at most {self.settings.max_restarts} "
                f"within {self.settings.restart_window_s:.0f} s)"
            )
            time.sleep(delay)
            try:
                waited = self._start_server()
            except ServeError as error:
                # A restart that fails to start counts as one more exit; the loop decides.
                self._report(f"emphysema serve: restarting Triton failed: {error}")
                self.state.update(restarts=self.state.restarts + 1)
                continue
            self.state.update(ready=True, restarts=self.state.restarts + 1)
            self._report(
                f"emphysema serve: Triton restarted (restart {self.state.restarts}), ready after "
                f"{waited:.1f} s at {self.server.grpc_url}"
            )

    def stop(self) -> int | None:
        """Stop Triton gracefully and the status endpoint; return Triton's exit status."""
        self.state.update(ready=False)
        returncode = self.server.stop() if self.server is not None else None
        if self._endpoint is not None:
            self._endpoint.shutdown()
            self._endpoint.server_close()
            self._endpoint = None
        return returncode

    def _start_server(self) -> float:
        self.server = EmbeddedTriton(self.repository, self.settings, work_directory=self.work_directory)
        self.server.start()
        try:
            return self.server.wait_ready()
        except ServeError:
            self._discard_server()
            raise

    def _wait_for_exit(self) -> int:
        process = self.server.process
        while process.poll() is None:
            # The python backend restarts a stub that died, with a new shared-memory region.
            self.server.restrict_shared_memory()
            time.sleep(POLL_INTERVAL_S)
        return process.returncode

    def _discard_server(self) -> None:
        """Clean up after a Triton that exited: its orphaned stubs, shared memory and work folder."""
        if self.server is None or self.server.process is None:
            return
        try:  # its python-backend stubs are in its process group (its own session)
            os.killpg(self.server.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.server.stop()
