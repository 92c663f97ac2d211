"""`emphysema serve`: serve an ONNX model repository with the embedded CPU Triton server.

It checks the repository and the ports, starts the real tritonserver binary on the repository's
python-backend twin, waits until every model is ready, prints the endpoints, and on Ctrl-C,
SIGTERM or SIGHUP stops gracefully (in-flight requests finish). When Triton cannot start (a model
fails to load, a port is taken) it exits non-zero with Triton's own error lines. When a running
Triton dies, it is restarted with backoff (deploy/supervisor.py); after too many exits in a row
`serve` gives up with status 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.embedded import EmbeddedTriton
from deploy.errors import ServeError
from deploy.settings import LOOPBACK, ServeSettings
from deploy.supervisor import TritonSupervisor
from export.model_repository import RepositoryError
from imaging.contract import DEFAULT_REPOSITORY

DEFAULTS = ServeSettings()
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _ShutdownRequested(BaseException):
    """Raised from a signal handler so every blocking wait unwinds into the graceful stop."""


def build_parser() -> argparse.ArgumentParser:
    """Return the `emphysema serve` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema serve", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repository",
        type=Path,
        default=Path(DEFAULT_REPOSITORY),
        help="ONNX model repository (default: %(default)s)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULTS.host,
        help=f"address to bind (default {DEFAULTS.host}; 0.0.0.0 exposes the server to the network)",
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=DEFAULTS.grpc_port,
        help="Triton's gRPC port, the one predict and the app use (default %(default)s)",
    )
    parser.add_argument(
        "--http-port", type=int, default=DEFAULTS.http_port, help="Triton's HTTP port (default %(default)s)"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULTS.metrics_port,
        help="Triton's Prometheus metrics port (default %(default)s)",
    )
    parser.add_argument(
        "--supervisor-port",
        type=int,
        default=DEFAULTS.supervisor_port,
        help="serve's own /ready, /live and /metrics with the restart count "
        f"(default {DEFAULTS.supervisor_port}; 0: off)",
    )
    parser.add_argument(
        "--max-restarts",
        type=int,
        default=DEFAULTS.max_restarts,
        help="give up after this many unexpected Triton exits within --restart-window "
        f"(default {DEFAULTS.max_restarts})",
    )
    parser.add_argument(
        "--restart-window",
        type=float,
        default=DEFAULTS.restart_window_s,
        metavar="SECONDS",
        help=f"window over which exits are counted (default {DEFAULTS.restart_window_s:.0f})",
    )
    parser.add_argument(
        "--no-memory-arena",
        action="store_true",
        help="let onnxruntime free each batch's memory (the stub stays small; throughput drops ~40%%)",
    )
    parser.add_argument(
        "--allow-http-inference",
        action="store_true",
        help="accept inference over HTTP without the admin key (NOT advised: Triton 2.51 can be crashed by "
        "one malformed JSON request; clients use gRPC)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULTS.threads,
        help="onnxruntime threads per model (default 0: every available core)",
    )
    parser.add_argument(
        "--exit-timeout",
        type=int,
        default=DEFAULTS.exit_timeout_s,
        metavar="SECONDS",
        help=f"how long in-flight requests may take to finish on stop (default {DEFAULTS.exit_timeout_s})",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=DEFAULTS.startup_timeout_s,
        metavar="SECONDS",
        help=f"how long to wait for the models to load (default {DEFAULTS.startup_timeout_s:.0f})",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where to write the runtime twin and Triton's log (default: a temporary folder)",
    )
    return parser


def _raise_shutdown(signal_number: int, _frame: object) -> None:
    # Later signals only remind the user; the graceful stop already running must not be cut short.
    for number in STOP_SIGNALS:
        signal.signal(number, _remind)
    raise _ShutdownRequested(signal.Signals(signal_number).name)


def _remind(_signal_number: int, _frame: object) -> None:
    print("still stopping: waiting for in-flight requests to finish", file=sys.stderr, flush=True)


def describe_endpoints(server: EmbeddedTriton, waited_s: float) -> str:
    """Return the text printed once the server is ready."""
    models = ", ".join(
        f"{name} (version {', '.join(map(str, versions))})" for name, versions in server.twin.models.items()
    )
    lines = [
        f"Triton is ready after {waited_s:.1f} s, serving {models}",
        f"  gRPC     {server.grpc_url}",
        f"  HTTP     {server.http_url}   (health: {server.http_url}/v2/health/ready)",
        f"  metrics  {server.metrics_url}",
        f"  log      {server.log_path}",
    ]
    if server.settings.supervisor_port:
        supervisor = f"http://{server.settings.client_host}:{server.settings.supervisor_port}"
        lines.append(f"  status   {supervisor}/ready, {supervisor}/metrics (restart count)")
    if not server.settings.http_inference:
        lines.append("  HTTP inference is refused without the admin key; clients use gRPC.")
    lines += [f"  skipped  {name}: {why}" for name, why in server.twin.skipped.items()]
    if server.settings.host != LOOPBACK:
        lines.append(
            f"WARNING: listening on {server.settings.host}. Triton has no authentication: anyone who "
            "can reach this address can send requests. Keep it behind a gateway or firewall."
        )
    lines.append("Press Ctrl-C to stop (in-flight requests finish first).")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema serve`; return 0 after a graceful stop, 1 when the server could not run."""
    arguments = build_parser().parse_args(argv)
    try:
        settings = ServeSettings(
            host=arguments.host,
            grpc_port=arguments.grpc_port,
            http_port=arguments.http_port,
            metrics_port=arguments.metrics_port,
            threads=arguments.threads,
            exit_timeout_s=arguments.exit_timeout,
            startup_timeout_s=arguments.startup_timeout,
            http_inference=arguments.allow_http_inference,
            memory_arena=not arguments.no_memory_arena,
            supervisor_port=arguments.supervisor_port,
            max_restarts=arguments.max_restarts,
            restart_window_s=arguments.restart_window,
        )
    except ValueError as error:
        print(f"emphysema serve: error: {error}", file=sys.stderr)
        return 2
    supervisor = TritonSupervisor(arguments.repository, settings, work_directory=arguments.work_dir)
    previous = {number: signal.signal(number, _raise_shutdown) for number in STOP_SIGNALS}
    try:
        print(
            f"starting Triton on {settings.host} ({settings.resolved_threads} threads per model)...",
            flush=True,
        )
        waited_s = supervisor.start()
        print(describe_endpoints(supervisor.server, waited_s), flush=True)
        supervisor.supervise()
        return 1  # supervise only returns by raising
    except (ServeError, RepositoryError) as error:
        print(f"emphysema serve: error: {error}", file=sys.stderr)
        return 1
    except _ShutdownRequested as request:
        print(
            f"{request}: stopping Triton; in-flight requests finish first "
            f"(up to {settings.exit_timeout_s} s)...",
            flush=True,
        )
        return 0
    finally:
        returncode = supervisor.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
        if returncode is not None:
            print(f"Triton stopped (status {returncode}).", flush=True)


if __name__ == "__main__":
    sys.exit(main())
