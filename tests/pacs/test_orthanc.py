"""The real Orthanc the project starts: loopback, authentication on, private storage, clean stop."""

from __future__ import annotations

import os
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
