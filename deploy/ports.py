"""Check ports before starting a server, and find free ones for tests."""

from __future__ import annotations

import contextlib
import socket

from deploy.errors import ServeError


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Raise a clear error if any of the ports cannot be bound on `host`.

    SO_REUSEADDR is set like a server sets it, so ports in TIME_WAIT from a previous run count
    as free while a port somebody listens on does not.

    Args:
        host: the bind address.
        ports: endpoint name -> port, e.g. {"gRPC": 8001}.

    Raises:
        ServeError: naming the endpoint, the port and what to do.
    """
    for name, port in ports.items():
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise ServeError(
                    f"cannot use {host}:{port} for the {name} endpoint: {error.strerror or error}. "
                    f"Another server (perhaps another `emphysema serve`) is using it; stop it or pick "
                    f"another port with --{name.lower()}-port."
                ) from error


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct ports that were free a moment ago (for tests and tools)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(_family(host), socket.SOCK_STREAM)) for _ in range(count)
        ]
        for probe in sockets:
            probe.bind((host, 0))
        return [probe.getsockname()[1] for probe in sockets]
