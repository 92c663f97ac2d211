"""`emphysema analyze --dicomweb` when things go wrong, against a real Orthanc and the real Triton.

PACS down, slow or silent (the Orthanc process stopped with SIGSTOP), a wrong password, an unknown
study, Triton stopped mid-study, a study still arriving: each is one clear line (or one clear
error) naming no patient and no UID, retried where that can succeed, with nothing stored.
"""

from __future__ import annotations

import tempfile
import time

import pydicom
import pytest

from analysis.from_pacs import ArrivalSettings
from client.errors import TritonUnavailableError
from deploy.ports import free_ports
from emphysema.cli import main as cli_main
from pacs.dicomweb import connect, describe_series, store_folder
from pacs.errors import PacsError
from tests.pacs.analysis_support import (
    LateProxy,
    analyse_directly,
    analyse_served,
    analyze,
    assert_one_clear_line,
    paused,
    phantom,
    result_modalities,
    secrets_of,
    store_slowly,
    stored_phantom,
)
from tests.triton_support import classifier_stopping_after_first_batch

pytestmark = [pytest.mark.pacs, pytest.mark.triton]


def test_an_unknown_study_and_a_study_without_ct_are_clear_errors(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    folder, header = phantom(tmp_path, 303)
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID) == 1
    assert_one_clear_line(
        capsys.readouterr(), header, pacs_environment, "no study with this Study Instance UID"
    )
    for path in folder.glob("*.dcm"):
        dataset = pydicom.dcmread(path)
        dataset.Modality = "MR"
        dataset.save_as(path)
    store_folder(connect(pacs_environment.url, pacs_environment.credentials), folder)
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID) == 1
    assert_one_clear_line(
        capsys.readouterr(), header, pacs_environment, "no CT series to analyse (its series: MR)"
    )


def test_a_pacs_that_is_down_is_one_clear_line(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    _, header = phantom(tmp_path, 304)
    down = pacs_environment.settings.dicomweb_url.replace(
        str(pacs_environment.settings.http_port), str(free_ports(1)[0])
    )
    arguments = ["analyze", "--dicomweb", down, "--study", header.StudyInstanceUID, "--quiet"]
    assert cli_main([*arguments, "--url", triton_server.grpc_url, "--model", tiny_repository.model_name]) == 1
    assert_one_clear_line(capsys.readouterr(), header, pacs_environment, "cannot reach the PACS")


def test_a_pacs_coming_back_within_the_retries_is_used(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    """Connections are refused for 0.4 s (a PACS restarting), then reach Orthanc: the retries get through."""
    _, header = stored_phantom(pacs_environment, tmp_path, 313)
    proxy = LateProxy(pacs_environment.settings.http_port, delay_s=0.4)
    try:
        url = f"http://127.0.0.1:{proxy.port}/dicom-web"
        arguments = ["analyze", "--dicomweb", url, "--study", header.StudyInstanceUID, "--quiet"]
        code = cli_main([*arguments, "--url", triton_server.grpc_url, "--model", tiny_repository.model_name])
    finally:
        proxy.close()
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "stored 3 result instances" in printed.out


def test_a_wrong_password_is_one_clear_line(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys, monkeypatch
):
    _, header = stored_phantom(pacs_environment, tmp_path, 305)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"{pacs_environment.credentials.user}:not-the-password\n")
    credentials.chmod(0o600)
    monkeypatch.delenv("EMPHYSEMA_PACS_USER")
    monkeypatch.delenv("EMPHYSEMA_PACS_PASSWORD")
    code = analyze(
        pacs_environment,
        triton_server,
        tiny_repository,
        header.StudyInstanceUID,
        "--credentials",
        str(credentials),
    )
    assert code == 1
    printed = capsys.readouterr()
    assert_one_clear_line(printed, header, pacs_environment, "refused the user name or password")
    assert "not-the-password" not in printed.err


def test_a_pacs_answering_late_is_retried_and_the_study_analysed(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    _, header = stored_phantom(pacs_environment, tmp_path, 306)
    with paused(pacs_environment.process, 1.5):
        started = time.monotonic()
        code = analyze(
            pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--pacs-timeout", "1"
        )
    assert code == 0, capsys.readouterr().err
    assert time.monotonic() - started > 1.5  # it did wait for the paused PACS
    assert "Analysed the CT series" in capsys.readouterr().out


def test_a_pacs_that_stays_silent_is_one_clear_line(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    _, header = stored_phantom(pacs_environment, tmp_path, 307)
    with paused(pacs_environment.process, 8):
        code = analyze(
            pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--pacs-timeout", "1"
        )
    assert code == 1
    assert_one_clear_line(capsys.readouterr(), header, pacs_environment, "did not answer in time")


def test_triton_going_down_mid_study_stores_nothing_and_leaves_nothing(
    pacs_environment, tiny_repository, tmp_path, monkeypatch
):
    _, header = stored_phantom(pacs_environment, tmp_path, 308)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the fetched series goes
    model = tiny_repository.model_name
    with classifier_stopping_after_first_batch(tiny_repository.path, model) as classifier:
        with pytest.raises(TritonUnavailableError):
            analyse_directly(
                client, header, classifier, model, tmp_path / "local", ArrivalSettings(settle_s=0.1)
            )
    assert not (tmp_path / "local").exists()
    assert list(scratch.iterdir()) == []  # the fetched series (patient data) is gone
    assert [one.modality for one in describe_series(client, header.StudyInstanceUID)] == ["CT"]


def test_a_study_still_arriving_is_analysed_once_complete(
    pacs_environment, triton_server, tiny_repository, tmp_path
):
    folder, header = phantom(tmp_path, 309)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    paths = sorted(folder.glob("*.dcm"))
    client.store_instances([pydicom.dcmread(path) for path in paths[:20]])
    arriving = store_slowly(client, paths[20:], 0.05)
    result = analyse_served(
        client, header, triton_server, tiny_repository, tmp_path / "local", ArrivalSettings(settle_s=1.0)
    )
    arriving.join()
    assert result.instances == len(paths)
    assert result_modalities(client, header) == ["CT", "DOC", "SEG", "SR"]


def test_a_study_that_keeps_arriving_is_refused_with_nothing_stored(
    pacs_environment, triton_server, tiny_repository, tmp_path
):
    folder, header = phantom(tmp_path, 310)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    paths = sorted(folder.glob("*.dcm"))
    client.store_instances([pydicom.dcmread(paths[0])])
    arriving = store_slowly(client, paths[1:], 0.1)
    arrival = ArrivalSettings(settle_s=0.5, max_wait_s=1.0)
    with pytest.raises(PacsError, match="still arriving") as caught:
        analyse_served(client, header, triton_server, tiny_repository, tmp_path / "local", arrival)
    arriving.join()
    assert not (tmp_path / "local").exists()
    assert [one.modality for one in describe_series(client, header.StudyInstanceUID)] == ["CT"]
    for secret in secrets_of(header, pacs_environment):
        assert secret not in str(caught.value)
