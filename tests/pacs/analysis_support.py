"""What the tests of `analyze --dicomweb` share: phantom studies with identifiers, runs, and checks."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time

import pydicom

from analysis.from_pacs import ArrivalSettings, analyse_pacs_study
from analysis.settings import AnalysisSettings
from client.settings import TritonSettings
from client.triton import TritonClassifier
from deploy.ports import free_ports
from emphysema.cli import main as cli_main
from pacs.dicomweb import connect, describe_series, store_folder
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size

BIRTH_DATE = "19510203"


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


def analyse_served(client, header, triton_server, tiny_repository, destination, arrival: ArrivalSettings):
    """`analyse_directly` through the session's Triton serving the tiny model."""
    settings = TritonSettings(url=triton_server.grpc_url, model=tiny_repository.model_name)
    with TritonClassifier(settings) as classifier:
        return analyse_directly(client, header, classifier, settings.model, destination, arrival)


def result_modalities(client, header) -> list[str]:
    """The modality of every series the PACS holds under the study, sorted (one CT series and the results)."""
    return sorted(one.modality for one in describe_series(client, header.StudyInstanceUID))


def stored_phantom(orthanc, tmp_path, seed: int):
    folder, header = phantom(tmp_path, seed)
    store_folder(connect(orthanc.url, orthanc.credentials), folder)
    return folder, header


def assert_one_clear_line(printed, header, orthanc, expected: str) -> None:
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], printed.err
    for secret in secrets_of(header, orthanc):
        assert secret not in printed.out + printed.err


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


def store_slowly(client, paths, pause_s: float) -> threading.Thread:
    """Store `paths` one instance at a time in the background: a study still arriving."""

    def run() -> None:
        for path in paths:
            client.store_instances([pydicom.dcmread(path)])
            time.sleep(pause_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class LateProxy:
    """A loopback TCP forwarder to `target_port` that starts listening only after `delay_s`.

    Until then a connection is refused, as by a PACS that is restarting; afterwards every byte is
    passed both ways unchanged.
    """

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.port = free_ports(1)[0]
        self.target_port = target_port
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.timer = threading.Timer(delay_s, self._listen)
        self.timer.start()

    def _listen(self) -> None:
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self.timer.cancel()
        self.server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
