"""`emphysema pacs` run as a real subprocess: it serves, stops on every stop signal, leaves no
Orthanc behind (not even when killed outright), and never shows the password."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from deploy.ports import free_ports
from pacs.settings import DICOMWEB_PLUGIN, ORTHANC_BINARY

pytestmark = pytest.mark.pacs

USER, PASSWORD = "reader", "plum-harbour-42-zest"
CREDENTIALS = {"EMPHYSEMA_PACS_USER": USER, "EMPHYSEMA_PACS_PASSWORD": PASSWORD}


@pytest.fixture
def pacs_arguments(tmp_path):
    assert ORTHANC_BINARY.is_file(), "Orthanc is missing: run `make install` (Debian package orthanc)"
    assert DICOMWEB_PLUGIN.is_file(), "the DICOMweb plugin is missing: run `make install` (orthanc-dicomweb)"
    return ["pacs", "--storage", str(tmp_path / "storage"), "--http-port", str(free_ports(1)[0])]


def _assert_password_hidden(run, tmp_path) -> None:
    assert PASSWORD not in run.output()
    for path in (tmp_path / "storage").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), f"the password is in {path.name}"


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_a_stop_signal_stops_orthanc(launcher, pacs_arguments, tmp_path, signal_number):
    run = launcher(pacs_arguments, CREDENTIALS)
    run.wait_for("Press Ctrl-C", timeout_s=60)
    assert "DICOMweb URL: http://127.0.0.1:" in run.output()
    assert run.stop_and_check(signal_number) == 0, run.output()
    assert "Traceback" not in run.output()
    _assert_password_hidden(run, tmp_path)


def test_orthanc_does_not_outlive_a_killed_launcher(launcher, pacs_arguments, process_tools):
    descendants, process_gone = process_tools
    run = launcher(pacs_arguments, CREDENTIALS)
    run.wait_for("Press Ctrl-C", timeout_s=60)
    orthanc = descendants(run.process.pid)
    assert orthanc
    run.process.send_signal(signal.SIGKILL)
    run.process.wait()
    deadline = time.monotonic() + 20
    while not all(process_gone(pid) for pid in orthanc) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(process_gone(pid) for pid in orthanc), "Orthanc outlived its killed launcher"


def _run(arguments, environment):
    clean = {key: value for key, value in os.environ.items() if not key.startswith("EMPHYSEMA_PACS_")}
    return subprocess.run(
        [sys.executable, "-m", "emphysema", *arguments],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_credentials_are_a_clear_error(pacs_arguments, tmp_path):
    result = _run(pacs_arguments, {})
    assert result.returncode == 1
    assert "EMPHYSEMA_PACS_USER" in result.stderr and "--credentials" in result.stderr
    assert not (tmp_path / "storage").exists()


def test_a_credentials_file_others_can_read_is_refused(pacs_arguments, tmp_path):
    secrets = tmp_path / "pacs.credentials"
    secrets.write_text(f"{USER}:{PASSWORD}\n")
    secrets.chmod(0o644)
    result = _run([*pacs_arguments, "--credentials", str(secrets)], {})
    assert result.returncode == 1 and "chmod 600" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_an_orthanc_that_dies_ends_the_launcher_with_a_clear_error(launcher, pacs_arguments, process_tools):
    descendants, _ = process_tools
    run = launcher(pacs_arguments, CREDENTIALS)
    run.wait_for("Press Ctrl-C", timeout_s=60)
    for pid in descendants(run.process.pid):
        os.kill(pid, signal.SIGKILL)
    assert run.process.wait(timeout=30) == 1
    assert "Orthanc stopped by itself" in run.output()
    assert "Traceback" not in run.output()
