"""`emphysema analyze --dicomweb`: a real Orthanc, the real embedded Triton and the tiny model.

Each test stores its own phantom study (its own seed, so its own UIDs) into one Orthanc started
for this module, analyses it from the PACS, and checks what a user relies on: the right series
analysed, the results stored once beside the study, and every failure one clear line that names
no patient and no UID, with nothing stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import tempfile
import threading
import time

import pydicom
import pytest
import tritonclient.grpc as grpcclient

from analysis.from_pacs import ANALYSED, ArrivalSettings, analyse_pacs_study
from analysis.output_files import DICOM_OUTPUTS
from analysis.settings import AnalysisSettings
from client.errors import TritonUnavailableError
from client.settings import TritonSettings
from client.triton import TritonClassifier
from deploy.ports import free_ports
from emphysema.cli import main as cli_main
from pacs.dicomweb import connect, describe_series, store_folder
from pacs.errors import PacsError
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from tests.pacs.conftest import started_pacs

pytestmark = [pytest.mark.pacs, pytest.mark.triton]
BIRTH_DATE = "19510203"


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
    """A small severe CLE+PSE phantom study's DICOM folder and its identifying header.

    The phantom has no birth date; one is added so that the checks for patient data cover it.
    """
    write_study(
        tmp_path / f"study-{seed}", "CLE+PSE", "severe", seed, settings_for_size("small"), nifti=False
    )
    folder = tmp_path / f"study-{seed}" / "dicom"
    for path in folder.glob("*.dcm"):
        dataset = pydicom.dcmread(path)
        dataset.PatientBirthDate = BIRTH_DATE
        dataset.save_as(path)
    return folder, pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)


def secrets_of(header, orthanc) -> list[str]:
    """What must never reach a log: the patient's name, ID and birth date, the study's UIDs, the password."""
    return [
        str(header.PatientName),
        str(header.PatientID),
        header.PatientBirthDate,
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


def analyse_directly(client, header, classifier, model: str, destination, arrival: ArrivalSettings):
    """`analyse_pacs_study` as a web page or `watch` calls it (the CLI's settings, every 4th slice)."""
    settings = AnalysisSettings(slice_step=4)
    return analyse_pacs_study(
        client, header.StudyInstanceUID, classifier, model, settings, destination, True, False, arrival
    )


def test_a_study_is_fetched_analysed_and_its_results_stored_beside_it(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys, caplog
):
    caplog.set_level(logging.DEBUG)  # whatever level an application logs at, no identifier shows
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
    orthanc_log = pacs_environment.log.read_text(encoding="utf-8", errors="replace")
    for secret in secrets_of(header, pacs_environment):
        assert secret not in printed.out + printed.err + caplog.text + orthanc_log
    assert result_modalities(client, header) == ["CT", "DOC", "SEG", "SR"]
    # What Orthanc holds under the study is what the analysis wrote, in the source study.
    for name in DICOM_OUTPUTS:
        written = pydicom.dcmread(out / "study" / name, stop_before_pixels=True)
        assert written.StudyInstanceUID == header.StudyInstanceUID
        fetched = client.retrieve_instance_metadata(
            header.StudyInstanceUID, written.SeriesInstanceUID, written.SOPInstanceUID
        )
        assert fetched["00080018"]["Value"] == [written.SOPInstanceUID]


def result_modalities(client, header) -> list[str]:
    """The modality of every series the PACS holds under the study, sorted (one CT series and the results)."""
    return sorted(one.modality for one in describe_series(client, header.StudyInstanceUID))


def test_a_study_delivered_and_analysed_twice_has_one_set_of_results(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    folder, header = stored_phantom(pacs_environment, tmp_path, 311)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID) == 0
    first = {one.series_uid: one.instances for one in describe_series(client, header.StudyInstanceUID)}
    store_folder(client, folder)  # the same study delivered again
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID) == 0
    assert "Already analysed" in capsys.readouterr().out
    assert inference_count(triton_server.grpc_url, tiny_repository.model_name) == before  # nothing classified
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--force") == 0
    assert "stored 3 result instances" in capsys.readouterr().out
    assert {
        one.series_uid: one.instances for one in describe_series(client, header.StudyInstanceUID)
    } == first
    assert result_modalities(client, header) == ["CT", "DOC", "SEG", "SR"]
    assert sorted(first.values()) == [1, 1, 1, len(list(folder.glob("*.dcm")))]
    # Other settings are another analysis: stored beside the first, not over it.
    assert (
        analyze(
            pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--stride-mm", "20"
        )
        == 0
    )
    assert result_modalities(client, header) == ["CT", "DOC", "DOC", "SEG", "SEG", "SR", "SR"]


def stored_phantom(orthanc, tmp_path, seed: int):
    folder, header = phantom(tmp_path, seed)
    store_folder(connect(orthanc.url, orthanc.credentials), folder)
    return folder, header


def assert_one_clear_line(printed, header, orthanc, expected: str) -> None:
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], printed.err
    for secret in secrets_of(header, orthanc):
        assert secret not in printed.out + printed.err


def test_the_largest_ct_series_is_analysed_not_a_scout_or_another_modality(
    pacs_environment, triton_server, tiny_repository, tmp_path
):
    folder, header = stored_phantom(pacs_environment, tmp_path, 302)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    extra = tmp_path / "extra"
    extra.mkdir()
    for index, path in enumerate(sorted(folder.glob("*.dcm"))[::8]):  # a thin "scout" CT series
        dataset = pydicom.dcmread(path)
        dataset.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[header.SeriesInstanceUID, "scout"])
        dataset.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[dataset.SOPInstanceUID, "scout"])
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.save_as(extra / f"scout-{index}.dcm")
    store_folder(client, extra)
    with TritonClassifier(
        TritonSettings(url=triton_server.grpc_url, model=tiny_repository.model_name)
    ) as triton:
        result = analyse_directly(
            client,
            header,
            triton,
            tiny_repository.model_name,
            tmp_path / "local",
            ArrivalSettings(settle_s=0.1),
        )
    assert result.status == ANALYSED
    assert result.series_uid == header.SeriesInstanceUID
    assert result.instances == len(list(folder.glob("*.dcm")))
    assert (tmp_path / "local" / "report.json").is_file()


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


@contextlib.contextmanager
def paused(process, seconds: float):
    """Stop the real Orthanc process (SIGSTOP) for `seconds` in the background: a PACS that answers late."""
    process.send_signal(signal.SIGSTOP)
    timer = threading.Timer(seconds, process.send_signal, [signal.SIGCONT])
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        process.send_signal(signal.SIGCONT)


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
    from deploy.embedded import EmbeddedTriton
    from deploy.settings import ServeSettings

    _, header = stored_phantom(pacs_environment, tmp_path, 308)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the fetched series goes
    grpc_port, http_port, metrics_port = free_ports(3)
    serve = ServeSettings(
        grpc_port=grpc_port, http_port=http_port, metrics_port=metrics_port, threads=1, exit_timeout_s=5
    )
    server = EmbeddedTriton(tiny_repository.path, serve)

    class StoppedAfterFirstBatch(TritonClassifier):
        def classify(self, images, model=None):
            predictions = super().classify(images, model)
            server.stop()
            return predictions

    settings = TritonSettings(url=f"127.0.0.1:{grpc_port}", model=tiny_repository.model_name, retries=1)
    with server, StoppedAfterFirstBatch(settings) as classifier:
        with pytest.raises(TritonUnavailableError):
            analyse_directly(
                client, header, classifier, settings.model, tmp_path / "local", ArrivalSettings(settle_s=0.1)
            )
    assert not (tmp_path / "local").exists()
    assert list(scratch.iterdir()) == []  # the fetched series (patient data) is gone
    assert [one.modality for one in describe_series(client, header.StudyInstanceUID)] == ["CT"]


def store_slowly(client, paths, pause_s: float) -> threading.Thread:
    """Store `paths` one instance at a time in the background: a study still arriving."""

    def run() -> None:
        for path in paths:
            client.store_instances([pydicom.dcmread(path)])
            time.sleep(pause_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_study_still_arriving_is_analysed_once_complete(
    pacs_environment, triton_server, tiny_repository, tmp_path
):
    folder, header = phantom(tmp_path, 309)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    paths = sorted(folder.glob("*.dcm"))
    client.store_instances([pydicom.dcmread(path) for path in paths[:20]])
    arriving = store_slowly(client, paths[20:], 0.05)
    with TritonClassifier(
        TritonSettings(url=triton_server.grpc_url, model=tiny_repository.model_name)
    ) as triton:
        result = analyse_directly(
            client,
            header,
            triton,
            tiny_repository.model_name,
            tmp_path / "local",
            ArrivalSettings(settle_s=1.0),
        )
    arriving.join()
    assert result.instances == len(paths)
    assert json.loads((tmp_path / "local" / "report.json").read_text())["quantification"]


def test_a_study_that_keeps_arriving_is_refused_with_nothing_stored(
    pacs_environment, triton_server, tiny_repository, tmp_path
):
    folder, header = phantom(tmp_path, 310)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    paths = sorted(folder.glob("*.dcm"))
    client.store_instances([pydicom.dcmread(paths[0])])
    arriving = store_slowly(client, paths[1:], 0.1)
    with TritonClassifier(
        TritonSettings(url=triton_server.grpc_url, model=tiny_repository.model_name)
    ) as triton:
        with pytest.raises(PacsError, match="still arriving") as caught:
            analyse_directly(
                client,
                header,
                triton,
                tiny_repository.model_name,
                tmp_path / "local",
                ArrivalSettings(settle_s=0.5, max_wait_s=1.0),
            )
    arriving.join()
    assert not (tmp_path / "local").exists()
    assert [one.modality for one in describe_series(client, header.StudyInstanceUID)] == ["CT"]
    for secret in secrets_of(header, pacs_environment):
        assert secret not in str(caught.value)


REFUSE_SEGMENTATIONS = """
function ReceivedInstanceFilter(dicom, origin, info)
  return dicom.Modality ~= 'SEG'
end
"""


def test_a_refused_result_is_one_clear_line_and_a_rerun_completes_the_set(
    triton_server, tiny_repository, tmp_path, tmp_path_factory, capsys, monkeypatch
):
    """An Orthanc whose policy drops segmentations (a Lua filter): it answers the store with success
    and keeps the SR and PDF only. The command checks what the PACS lists, so it says so."""
    script = tmp_path / "refuse.lua"
    script.write_text(REFUSE_SEGMENTATIONS)
    with started_pacs(tmp_path_factory.mktemp("refusing"), {"LuaScripts": [str(script)]}) as refusing:
        monkeypatch.setenv("EMPHYSEMA_PACS_USER", refusing.credentials.user)
        monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", refusing.credentials.password)
        _, header = stored_phantom(refusing, tmp_path, 312)
        client = connect(refusing.url, refusing.credentials)
        out = tmp_path / "local"
        code = analyze(refusing, triton_server, tiny_repository, header.StudyInstanceUID, "--out", str(out))
        assert code == 1
        assert_one_clear_line(capsys.readouterr(), header, refusing, "does not list 1 of 3 (SEG)")
        assert not out.exists()
        assert result_modalities(client, header) == ["CT", "DOC", "SR"]
        # Still incomplete, so not "already analysed": a rerun tries again and stores nothing twice.
        assert analyze(refusing, triton_server, tiny_repository, header.StudyInstanceUID) == 1
        assert_one_clear_line(capsys.readouterr(), header, refusing, "does not list 1 of 3 (SEG)")
        assert result_modalities(client, header) == ["CT", "DOC", "SR"]
        orthanc_log = refusing.log.read_text(encoding="utf-8", errors="replace")
        assert not [secret for secret in secrets_of(header, refusing) if secret in orthanc_log]
