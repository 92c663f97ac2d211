"""Start one Orthanc (Debian packages) on loopback with DICOMweb and a password; stop it cleanly.

The configuration (it holds the password) is written 0600 into the private storage folder and
deleted once Orthanc has read it and answers. Orthanc runs in its own session (a terminal's
Ctrl-C reaches the launcher only, which stops it with SIGTERM) and is tied to the launcher's life
(parent-death signal), so it never outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from emphysema.lifetime import die_with_parent
from pacs.credentials import Credentials
from pacs.errors import PacsError
from pacs.settings import PacsSettings

INSTALL_HINT = "run `make install` (it installs the Debian packages orthanc and orthanc-dicomweb)"
LOG_NAME = "orthanc.log"
CONFIG_NAME = "orthanc.json"


def check_installed(settings: PacsSettings) -> None:
    """Raise a clear error naming the missing package when Orthanc or its plugin is absent."""
    if not os.access(settings.binary, os.X_OK):
        raise PacsError(f"Orthanc is not installed ({settings.binary} is missing): {INSTALL_HINT}")
    if not settings.dicomweb_plugin.is_file():
        raise PacsError(f"the DICOMweb plugin {settings.dicomweb_plugin} is missing: {INSTALL_HINT}")


def check_port_free(port: int) -> None:
    """Raise if something already listens on `port` (Orthanc binds every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as error:
            raise PacsError(
                f"cannot use port {port} for Orthanc: {error.strerror or error}. Another server is "
                "using it; stop it or pick another port with --http-port."
            ) from error


def configuration(settings: PacsSettings, credentials: Credentials) -> dict:
    """Orthanc's configuration: loopback only, authentication on, DICOMweb on, no DIMSE server."""
    database = settings.storage / "db"
    return {
        "Name": "emphysema-pacs",
        "StorageDirectory": str(database),
        "IndexDirectory": str(database),
        "HttpPort": settings.http_port,
        "StableAge": settings.stable_age_s,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {credentials.user: credentials.password},
        "DicomServerEnabled": False,  # cannot be bound to loopback in 1.10, and has no password
        "HttpVerbose": False,
        "LogExportedResources": False,
        "Plugins": [str(settings.dicomweb_plugin)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": ""},
    }


def prepare_storage(folder: Path) -> None:
    """Create the storage folder private to this user (0700), or narrow an existing one."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)


def write_configuration(settings: PacsSettings, credentials: Credentials) -> Path:
    """Write the configuration 0600 (it holds the password) and return its path."""
    path = settings.storage / CONFIG_NAME
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(configuration(settings, credentials), stream)
    return path


def answers(settings: PacsSettings) -> bool:
    """True once Orthanc's HTTP server answers (401 without a password counts: it is up)."""
    try:
        with urllib.request.urlopen(f"{settings.url}/system", timeout=2):  # noqa: S310 - loopback URL
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def log_tail(settings: PacsSettings, lines: int = 8) -> str:
    """Orthanc's last log lines (they name a failed plugin or a bad option; never the password)."""
    path = settings.storage / LOG_NAME
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return "\n".join(f"  {line}" for line in text.splitlines()[-lines:]) or "  (Orthanc's log is empty)"


def wait_until_ready(process: subprocess.Popen, settings: PacsSettings) -> None:
    """Poll until Orthanc answers; raise with its log if it exits or overstays the timeout."""
    deadline = time.monotonic() + settings.ready_timeout_s
    while not answers(settings):
        if process.poll() is not None:
            raise PacsError(
                f"Orthanc exited with status {process.returncode} while starting:\n{log_tail(settings)}"
            )
        if time.monotonic() > deadline:
            raise PacsError(
                f"Orthanc did not answer on {settings.url} within {settings.ready_timeout_s:g} s:\n"
                f"{log_tail(settings)}"
            )
        time.sleep(0.1)


def stop(process: subprocess.Popen, settings: PacsSettings) -> int:
    """Stop Orthanc with SIGTERM (it closes its database cleanly); kill it if it overstays."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=settings.stop_timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextlib.contextmanager
def running_orthanc(settings: PacsSettings, credentials: Credentials) -> Iterator[subprocess.Popen]:
    """Start Orthanc, wait until it answers, yield its process, and stop it whatever happens."""
    check_installed(settings)
    check_port_free(settings.http_port)
    prepare_storage(settings.storage)
    config_path = write_configuration(settings, credentials)
    try:
        log_descriptor = os.open(settings.storage / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(log_descriptor, "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed binary, configuration we wrote
                [str(settings.binary), str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=settings.storage,
                start_new_session=True,
                preexec_fn=die_with_parent(private_files=True),  # noqa: PLW1509 - main thread
            )
        try:
            wait_until_ready(process, settings)
            config_path.unlink(missing_ok=True)  # read at start only: keep the password off disk
            yield process
        finally:
            stop(process, settings)
    finally:
        config_path.unlink(missing_ok=True)
