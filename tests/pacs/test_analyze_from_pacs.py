"""`emphysema analyze --dicomweb`: a real Orthanc, the real embedded Triton and the tiny model.

Each test stores its own phantom study (its own seed, so its own UIDs) into one Orthanc started
for this module, analyses it from the PACS, and checks what a user relies on: the right series
analysed, the results stored once beside the study, and every failure one clear line that names
no patient and no UID, with nothing stored.
"""

from __future__ import annotations

import json

import pydicom
import pytest
import tritonclient.grpc as grpcclient

from emphysema.cli import main as cli_main
from pacs.dicomweb import connect, describe_series, store_folder
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from tests.pacs.conftest import started_pacs

pytestmark = [pytest.mark.pacs, pytest.mark.triton]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with started_pacs(tmp_path_factory.mktemp("pacs_analyze")) as running:
        yield running


@pytest.fixture
def pacs_environment(orthanc, monkeypatch):
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", orthanc.credentials.user)
    monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", orthanc.credentials.password)
    return orthanc


def phantom(tmp_path, seed: int):
    """A small severe CLE+PSE phantom study's DICOM folder and its identifying header."""
    write_study(
        tmp_path / f"study-{seed}", "CLE+PSE", "severe", seed, settings_for_size("small"), nifti=False
    )
    folder = tmp_path / f"study-{seed}" / "dicom"
    return folder, pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)


def secrets_of(header, orthanc) -> list[str]:
    """What must never reach a log: the patient's name and ID, the study's UIDs, the password."""
    return [
        str(header.PatientName),
        str(header.PatientID),
        header.StudyInstanceUID,
        header.SeriesInstanceUID,
        orthanc.credentials.password,
    ]


def inference_count(url: str, model: str) -> int:
    with grpcclient.InferenceServerClient(url) as client:
        return client.get_inference_statistics(model).model_stats[0].inference_count


def analyze(orthanc, triton_server, tiny_repository, study_uid: str, *arguments: str) -> int:
    return cli_main(
        [
            "analyze",
            "--dicomweb",
            orthanc.url,
            "--study",
            study_uid,
            "--url",
            triton_server.grpc_url,
            "--model",
            tiny_repository.model_name,
            "--slice-step",
            "4",
            "--settle",
            "0.2",
            "--quiet",
            *arguments,
        ]
    )


def test_a_study_is_fetched_analysed_and_its_results_stored_beside_it(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    folder, header = phantom(tmp_path, 301)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    store_folder(client, folder)
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    out = tmp_path / "local"
    assert (
        analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--out", str(out))
        == 0
    )
    served = inference_count(triton_server.grpc_url, tiny_repository.model_name) - before
    report = json.loads((out / "study" / "report.json").read_text(encoding="utf-8"))
    assert report["tiles"]["count"] == served > 0
    instances = len(list(folder.glob("*.dcm")))
    printed = capsys.readouterr()
    assert f"({instances} instances" in printed.out
    for secret in secrets_of(header, pacs_environment):
        assert secret not in printed.out + printed.err
    assert [one.modality for one in describe_series(client, header.StudyInstanceUID)].count("CT") == 1
