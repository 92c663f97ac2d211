"""`emphysema app`: run the Streamlit web client with the project's safe settings.

Streamlit reads `.streamlit/config.toml` from its working directory, so the app is started from
the repository root, where that file lives; the Triton address reaches the app through the
`EMPHYSEMA_TRITON_URL` environment variable.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from client.triton import TritonSettings
from emphysema.lifetime import die_with_parent, stop_on_signals
from imaging.contract import DEFAULT_REPOSITORY

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP_SCRIPT = Path(__file__).resolve().with_name("app.py")
CONFIG_FILE = PROJECT_ROOT / ".streamlit" / "config.toml"
URL_VARIABLE = "EMPHYSEMA_TRITON_URL"
# Streamlit's web server (Starlette) spools an upload over 1 MiB to an unnamed file in the temporary
# folder while it arrives. Where the system has a memory filesystem, the app's temporary folder is
# put there, so uploaded scans never reach a disk.
MEMORY_TEMP_DIRECTORY = Path("/dev/shm")


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """How the web client is served.

    Attributes:
        port: the local port of the web page.
        address: the address it binds to; loopback unless the user deliberately opens it.
        triton_url: the Triton gRPC address the app uses by default.
        allowed_hosts: Host headers accepted on the app's WebSocket (empty: Streamlit accepts any).
        script: the Streamlit script to serve; `emphysema app` serves the whole web app
            (``web/app.py``, chosen by the layer above), this layer's default is the single-slice page.
    """

    port: int = 8501
    address: str = "127.0.0.1"
    triton_url: str = TritonSettings().url
    allowed_hosts: tuple[str, ...] = ()
    script: Path = APP_SCRIPT

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be between 1 and 65535, got {self.port}")

    @property
    def local_url(self) -> str:
        """The address a browser on this machine opens."""
        host = "127.0.0.1" if self.address in {"0.0.0.0", "::", ""} else self.address
        return f"http://{host}:{self.port}"


def is_loopback(address: str) -> bool:
    """Return whether an address only accepts connections from this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def streamlit_command(settings: AppSettings) -> list[str]:
    """The `streamlit run` command line for these settings (config.toml supplies the rest)."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(settings.script),
        "--server.port",
        str(settings.port),
        "--server.address",
        settings.address,
    ]
    for host in settings.allowed_hosts:
        command += ["--server.allowedHosts", host]
    return command


def app_environment(settings: AppSettings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the app runs in: the Triton address, and a temporary folder in memory if possible.

    Args:
        settings: the app settings (for the Triton address).
        base: the environment to extend; defaults to ``os.environ``.
    """
    environment = {**(os.environ if base is None else base), URL_VARIABLE: settings.triton_url}
    if MEMORY_TEMP_DIRECTORY.is_dir() and os.access(MEMORY_TEMP_DIRECTORY, os.W_OK | os.X_OK):
        environment["TMPDIR"] = str(MEMORY_TEMP_DIRECTORY)
    return environment


def start_app(settings: AppSettings) -> subprocess.Popen:
    """Start the Streamlit app in the background and return its process.

    Raises:
        FileNotFoundError: `.streamlit/config.toml` is missing, so the safe settings would not apply.
    """
    if not CONFIG_FILE.is_file():
        raise FileNotFoundError(
            f"{CONFIG_FILE} is missing: the app's safe settings (upload limit, XSRF, no "
            "error details) live there. Run the app from a checkout of the repository."
        )
    # Tied to this process: if the launcher is killed outright, the kernel stops the app too.
    return subprocess.Popen(
        streamlit_command(settings),
        cwd=PROJECT_ROOT,
        env=app_environment(settings),  # noqa: S603
        preexec_fn=die_with_parent(private_files=True),
    )  # noqa: PLW1509


def wait_until_serving(settings: AppSettings, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Wait until the app answers its health check.

    Raises:
        RuntimeError: the app exited or did not answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the web app exited with status {process.returncode} before serving "
                f"(is port {settings.port} already in use?)"
            )
        try:
            with urllib.request.urlopen(f"{settings.local_url}/_stcore/health", timeout=2) as response:
                # Streamlit answers "ok"; another server on the port (say Triton's metrics) may answer 200.
                if response.status == 200 and response.read(16).strip() == b"ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the web app did not answer at {settings.local_url} within {timeout_s:.0f} s")


def stop_app(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop the app: SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build_parser() -> argparse.ArgumentParser:
    """The command line of `emphysema app`."""
    defaults = AppSettings()
    parser = argparse.ArgumentParser(prog="emphysema app", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=defaults.port, help=f"web port (default {defaults.port})")
    parser.add_argument(
        "--address",
        default=defaults.address,
        help=f"address to bind (default {defaults.address}: this machine only)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--url", default=defaults.triton_url, help=f"Triton gRPC address (default {defaults.triton_url})"
    )
    target.add_argument(
        "--serve",
        action="store_true",
        help="also start the embedded Triton on --repository (free loopback ports) and stop it with the app",
    )
    parser.add_argument(
        "--repository",
        type=Path,
        help=f"model repository the embedded Triton serves, with --serve (default {DEFAULT_REPOSITORY})",
    )
    return parser


def main(argv: Sequence[str] | None = None, script: Path = APP_SCRIPT) -> int:
    """Run `emphysema app` until interrupted; return the app's exit status (0 after a stop signal).

    Args:
        argv: the command line after `app`.
        script: the Streamlit script to serve (`web.launch` passes the whole web app).
    """
    parser = build_parser()
    arguments, unknown = parser.parse_known_args(argv)
    if arguments.serve and len(unknown) == 1 and not unknown[0].startswith("-"):  # the old `--serve DIR`
        parser.error(f"--serve takes no value; write --serve --repository {unknown[0]}")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if arguments.repository is not None and not arguments.serve:
        parser.error("--repository needs --serve (or --url for a Triton already running)")
    with stop_on_signals():
        try:
            return _serve_and_run(arguments, script)
        except KeyboardInterrupt:  # a stop signal while Triton was starting: it was stopped on the way out
            return 0


def _serve_and_run(arguments: argparse.Namespace, script: Path) -> int:
    if not arguments.serve:
        return run_app(arguments.port, arguments.address, arguments.url, script)
    repository = arguments.repository or Path(DEFAULT_REPOSITORY)
    # The embedded server lives in `deploy` (the `serve` extra), so it is imported only when asked for.
    from deploy.embedded import EmbeddedTriton
    from deploy.errors import ServeError
    from deploy.settings import ServeSettings

    settings = ServeSettings.on_free_ports()
    try:
        with EmbeddedTriton(repository, settings) as server:
            print(f"Triton is serving {repository} at {server.grpc_url}", flush=True)
            return run_app(arguments.port, arguments.address, server.grpc_url, script)
    except (ServeError, ValueError) as error:
        print(f"emphysema app: {error}", file=sys.stderr)
        return 2


def run_app(port: int, address: str, triton_url: str, script: Path = APP_SCRIPT) -> int:
    """Serve the app in the foreground until it exits or Ctrl-C; return its exit status."""
    try:
        settings = AppSettings(port=port, address=address, triton_url=triton_url, script=script)
        process = start_app(settings)
    except (ValueError, FileNotFoundError) as error:
        print(f"emphysema app: {error}", file=sys.stderr)
        return 2
    if not is_loopback(settings.address):
        print(
            f"warning: the app listens on {settings.address}, so anyone on the network can use it "
            "without a password; `emphysema publish` adds authentication.",
            file=sys.stderr,
        )
    try:
        wait_until_serving(settings, process)
        print(
            f"Web app: {settings.local_url}  (Triton at {settings.triton_url}; Ctrl-C stops it)", flush=True
        )
        return process.wait()
    except RuntimeError as error:
        print(f"emphysema app: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_app(process)
