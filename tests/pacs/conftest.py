"""One real Orthanc per test session, on a free loopback port in a private temporary folder."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from deploy.ports import free_ports
from pacs import orthanc as orthanc_module
from pacs.credentials import Credentials
from pacs.orthanc import running_orthanc
from pacs.settings import DICOMWEB_PLUGIN, ORTHANC_BINARY, PacsSettings

USER = "radiologist"
PASSWORD = "tiger-lily-7-ocean"  # a test password: the tests check that it is never shown


def require_orthanc() -> None:
    """Fail (never skip) when Orthanc is missing: `make install` provides it."""
    assert ORTHANC_BINARY.is_file(), "Orthanc is missing: run `make install` (Debian package orthanc)"
    assert DICOMWEB_PLUGIN.is_file(), "the DICOMweb plugin is missing: run `make install` (orthanc-dicomweb)"


@dataclasses.dataclass(frozen=True)
class RunningPacs:
    settings: PacsSettings
    credentials: Credentials
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return self.settings.dicomweb_url

    @property
    def log(self) -> Path:
        return self.settings.storage / "orthanc.log"


@contextlib.contextmanager
def started_pacs(folder: Path, extra_configuration: dict | None = None) -> Iterator[RunningPacs]:
    """A real Orthanc storing into `folder`, with `extra_configuration` merged into its configuration."""
    require_orthanc()
    settings = PacsSettings(storage=folder / "storage", http_port=free_ports(1)[0])
    credentials = Credentials(USER, PASSWORD)
    configuration = orthanc_module.configuration
    with contextlib.ExitStack() as stack:
        with mock.patch.object(  # only while Orthanc starts: it reads its configuration once
            orthanc_module,
            "configuration",
            lambda *arguments: {**configuration(*arguments), **(extra_configuration or {})},
        ):
            process = stack.enter_context(running_orthanc(settings, credentials))
        yield RunningPacs(settings, credentials, process)


@pytest.fixture(scope="session")
def pacs(tmp_path_factory) -> RunningPacs:
    with started_pacs(tmp_path_factory.mktemp("pacs")) as running:
        yield running


@pytest.fixture(scope="session")
def synthetic_study(tmp_path_factory) -> Path:
    """One small `synth-study` study's DICOM series folder."""
    from study.phantom.command import main as synth_study

    out = tmp_path_factory.mktemp("synth") / "studies"
    assert synth_study(["--out", str(out), "--studies", "1", "--quiet"]) == 0
    return out / "study-000" / "dicom"


@pytest.fixture(scope="module")
def module_pacs(tmp_path_factory) -> RunningPacs:
    """An Orthanc of the test module's own: the analysis tests add studies and results to it."""
    with started_pacs(tmp_path_factory.mktemp("module_pacs")) as running:
        yield running


@pytest.fixture
def pacs_environment(module_pacs, monkeypatch) -> RunningPacs:
    """`module_pacs`, with its credentials in the environment as a user would set them."""
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", module_pacs.credentials.user)
    monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", module_pacs.credentials.password)
    return module_pacs
