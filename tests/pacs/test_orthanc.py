"""The real Orthanc the project starts: loopback, authentication on, private storage, clean stop."""

from __future__ import annotations

import base64
import os
import socket
import stat
import urllib.error
import urllib.request

import pytest

from deploy.ports import free_ports
from pacs.credentials import Credentials
from pacs.errors import PacsError
from pacs.orthanc import running_orthanc
from pacs.settings import PacsSettings

pytestmark = pytest.mark.pacs


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback test URL
            return 200
    except urllib.error.HTTPError as error:
        return error.code


def test_an_unauthenticated_request_is_refused(pacs):
    assert _status(f"{pacs.settings.dicomweb_url}/studies") == 401
    assert _status(f"{pacs.settings.url}/system") == 401


def _own_external_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_a_request_from_outside_loopback_is_refused_even_with_the_password(pacs):
    address = _own_external_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to send a request from")
    request = urllib.request.Request(f"http://{address}:{pacs.settings.http_port}/system")
    token = base64.b64encode(f"{pacs.credentials.user}:{pacs.credentials.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - this machine
    assert refused.value.code in {401, 403}
    local = urllib.request.Request(f"{pacs.settings.url}/system", headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(local, timeout=5) as answer:  # noqa: S310 - loopback
        assert answer.status == 200


def test_storage_is_private_and_holds_no_password(pacs):
    storage = pacs.settings.storage
    assert stat.S_IMODE(storage.stat().st_mode) == 0o700
    assert not (storage / "orthanc.json").exists(), "the configuration with the password stays on disk"
    assert pacs.credentials.password not in pacs.log.read_text(encoding="utf-8", errors="replace")


def test_a_busy_port_is_a_clear_error(pacs, tmp_path):
    settings = PacsSettings(storage=tmp_path / "second", http_port=pacs.settings.http_port)
    with pytest.raises(PacsError, match=f"port {pacs.settings.http_port}.*--http-port"):
        with running_orthanc(settings, Credentials("a", "b")):
            pass
    assert not (tmp_path / "second").exists() or not any((tmp_path / "second").iterdir())


def test_a_missing_binary_says_to_run_make_install(tmp_path):
    settings = PacsSettings(storage=tmp_path / "s", http_port=free_ports(1)[0], binary=tmp_path / "Orthanc")
    with pytest.raises(PacsError, match="make install.*orthanc"):
        with running_orthanc(settings, Credentials("a", "b")):
            pass


def test_the_database_survives_a_restart_in_the_same_folder(tmp_path, synthetic_study):
    from pacs.dicomweb import connect, list_studies, store_folder

    settings = PacsSettings(storage=tmp_path / "storage", http_port=free_ports(1)[0])
    credentials = Credentials("u", "p-restart")
    with running_orthanc(settings, credentials):
        store_folder(connect(settings.dicomweb_url, credentials), synthetic_study)
    assert os.listdir(settings.storage / "db")
    with running_orthanc(settings, credentials):
        assert len(list_studies(connect(settings.dicomweb_url, credentials))) == 1


def test_an_orthanc_that_fails_to_start_is_a_clear_error_with_its_log(tmp_path):
    broken_plugin = tmp_path / "libBroken.so"
    broken_plugin.write_text("not a shared library")
    settings = PacsSettings(
        storage=tmp_path / "storage", http_port=free_ports(1)[0], dicomweb_plugin=broken_plugin
    )
    with pytest.raises(
        PacsError, match=r"(?s)Orthanc exited with status \d+ while starting:\n.*libBroken.*failed"
    ) as caught:
        with running_orthanc(settings, Credentials("reader", "p-broken-start")):
            pass
    assert "p-broken-start" not in str(caught.value)
    assert not (settings.storage / "orthanc.json").exists()
