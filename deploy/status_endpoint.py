"""The supervisor's own HTTP endpoint: readiness and restart count while Triton itself may be down.

Triton's health and metrics endpoints vanish with Triton, so a probe or Prometheus cannot tell
"restarting" from "gone". `emphysema serve` answers here instead, on loopback (or `--host`):
`/ready` is 200 only while Triton is up and ready, `/live` is 200 while the supervisor runs, and
`/metrics` is Prometheus text with the restart count.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from deploy.errors import ServeError


@dataclass
class SupervisorState:
    """What the supervisor knows about Triton, shared with the endpoint's thread.

    Attributes:
        ready: Triton is running and every model is ready.
        restarts: how many times Triton was restarted after an unexpected exit.
        unexpected_exits: how many times Triton exited without being asked to.
    """

    ready: bool = False
    restarts: int = 0
    unexpected_exits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, **values: object) -> None:
        """Set fields under the lock (the endpoint reads them from another thread)."""
        with self.lock:
            for name, value in values.items():
                setattr(self, name, value)

    def metrics_text(self) -> str:
        """Prometheus exposition text of the state."""
        with self.lock:
            ready, restarts, exits = int(self.ready), self.restarts, self.unexpected_exits
        return (
            "# HELP emphysema_triton_ready 1 while the embedded Triton is up and every model is ready.\n"
            "# TYPE emphysema_triton_ready gauge\n"
            f"emphysema_triton_ready {ready}\n"
            "# HELP emphysema_triton_restarts_total Restarts of Triton after an unexpected exit.\n"
            "# TYPE emphysema_triton_restarts_total counter\n"
            f"emphysema_triton_restarts_total {restarts}\n"
            "# HELP emphysema_triton_unexpected_exits_total Times Triton exited without being asked to.\n"
            "# TYPE emphysema_triton_unexpected_exits_total counter\n"
            f"emphysema_triton_unexpected_exits_total {exits}\n"
        )


def start_status_endpoint(host: str, port: int, state: SupervisorState) -> ThreadingHTTPServer:
    """Serve `/ready`, `/live` and `/metrics` for `state` from a daemon thread.

    Raises:
        ServeError: the port cannot be bound.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path == "/metrics":
                self._answer(200, state.metrics_text(), "text/plain; version=0.0.4")
            elif self.path == "/ready":
                self._answer(200 if state.ready else 503, "ready\n" if state.ready else "not ready\n")
            elif self.path == "/live":
                self._answer(200, "live\n")
            else:
                self._answer(404, "not found\n")

        def _answer(self, status: int, text: str, content_type: str = "text/plain") -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_arguments: object) -> None:
            pass  # probes every few seconds would drown the supervisor's own lines

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise ServeError(
            f"cannot use {host}:{port} for the supervisor endpoint: {error.strerror or error}; "
            "pick another port with --supervisor-port"
        ) from error
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="supervisor-endpoint", daemon=True).start()
    return server
