"""Lifecycle of short-lived real Triton servers: graceful stop, load failures, busy ports, orphans."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from deploy import embedded
from deploy.embedded import EmbeddedTriton
from deploy.errors import ServeError
from deploy.ports import free_ports
from deploy.serve import main as serve_main
from deploy.settings import ServeSettings

pytestmark = pytest.mark.triton
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# Requests wait this long in the dynamic batcher's queue (the batch never fills), so they are
# provably still in flight when the stop signal arrives.
SLOW_QUEUE_DELAY_US = 3_000_000


def _settings(**overrides) -> ServeSettings:
    values = dict(threads=1, exit_timeout_s=15, startup_timeout_s=120)
    return ServeSettings.on_free_ports(**{**values, **overrides})


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in {"Z", "X"}  # a zombie has exited; only its parent's reaping is left


@pytest.fixture
def slow_repository(tiny_repository, tmp_path):
    repository = tmp_path / "slow_repository"
    shutil.copytree(tiny_repository.path, repository)
    config = repository / tiny_repository.model_name / "config.pbtxt"
    text = config.read_text()
    assert "max_queue_delay_microseconds" in text
    config.write_text(
        text.replace(
            "max_queue_delay_microseconds: 10000", f"max_queue_delay_microseconds: {SLOW_QUEUE_DELAY_US}"
        )
    )
    return repository


def test_sigterm_to_serve_lets_in_flight_requests_finish(slow_repository, tiny_repository):
    settings = _settings()
    command = [
        sys.executable,
        "-m",
        "emphysema",
        "serve",
        "--repository",
        str(slow_repository),
        "--grpc-port",
        str(settings.grpc_port),
        "--http-port",
        str(settings.http_port),
        "--metrics-port",
        str(settings.metrics_port),
        "--supervisor-port",
        str(free_ports(1)[0]),
        "--threads",
        "1",
        "--exit-timeout",
        "15",
    ]
    serve = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPOSITORY_ROOT
    )
    try:
        output = []
        for line in serve.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        assert any(line.startswith("Triton is ready") for line in output), "".join(output)
        grpc_url = f"{settings.client_host}:{settings.grpc_port}"
        assert any(grpc_url in line for line in output)

        finished: dict[int, float] = {}
        failures: list[BaseException] = []

        def one_request(index: int) -> None:
            try:
                with grpcclient.InferenceServerClient(grpc_url) as client:
                    image = np.full(
                        (1, tiny_repository.image_size, tiny_repository.image_size, 1), index, np.uint8
                    )
                    tensor = grpcclient.InferInput("image", list(image.shape), "UINT8")
                    tensor.set_data_from_numpy(image)
                    result = client.infer(tiny_repository.model_name, [tensor], client_timeout=60)
                    assert result.as_numpy("probabilities").shape == (1, 4)
                    finished[index] = time.monotonic()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=one_request, args=(index,)) for index in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # well inside the 3 s queue delay: the requests are queued, not answered
        assert not finished
        signalled = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        remaining, _ = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert not failures, failures
    assert len(finished) == 3 and min(finished.values()) > signalled
    assert serve.returncode == 0, remaining
    assert "stopping Triton; in-flight requests finish first" in remaining
    assert "Triton stopped (status 0)" in remaining


def test_model_that_fails_to_load_exits_with_tritons_error(tiny_repository, tmp_path, capsys):
    import onnx

    repository = tmp_path / "broken_repository"
    shutil.copytree(tiny_repository.path, repository)
    onnx_path = repository / tiny_repository.model_name / "1" / "model.onnx"
    graph_model = onnx.load(onnx_path)
    graph_model.graph.input[0].name = "pixels"  # no longer the contract's "image"
    for node in graph_model.graph.node:
        node.input[:] = ["pixels" if name == "image" else name for name in node.input]
    onnx.save(graph_model, onnx_path)
    settings = _settings()
    status = serve_main(
        [
            "--repository",
            str(repository),
            "--grpc-port",
            str(settings.grpc_port),
            "--http-port",
            str(settings.http_port),
            "--metrics-port",
            str(settings.metrics_port),
        ]
    )
    error = capsys.readouterr().err
    assert status == 1
    assert "Triton exited with status 1 while starting" in error
    assert "the ONNX graph has no input(s) ['image']" in error and "failed to load" in error


def test_second_server_on_a_busy_port_fails_clearly(triton_server, tiny_repository):
    busy = ServeSettings(
        grpc_port=triton_server.settings.grpc_port, http_port=free_ports(1)[0], metrics_port=free_ports(1)[0]
    )
    server = EmbeddedTriton(tiny_repository.path, busy)
    with pytest.raises(ServeError, match=rf"127\.0\.0\.1:{busy.grpc_port} for the gRPC endpoint"):
        server.start()
    assert server.process is None  # refused before any Triton was started


def test_tritons_own_port_error_is_surfaced(tiny_repository, monkeypatch, tmp_path):
    # A port taken between our check and Triton's bind: Triton's own words must reach the user.
    monkeypatch.setattr(embedded, "check_ports_free", lambda *arguments: None)
    work_directory = tmp_path / "work"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = _settings(grpc_port=listener.getsockname()[1])
        # Twice in one work folder: a reused --work-dir is rewritten, and its log holds one run only.
        for _ in range(2):
            server = EmbeddedTriton(tiny_repository.path, settings, work_directory=work_directory)
            with pytest.raises(ServeError, match=r"(?s)while starting:.*already in use") as caught:
                with server:
                    pass
            # Under load 2.51 sometimes aborts (SIGABRT, an epoll error in gRPC's teardown) after
            # the failed bind instead of exiting with 1; the bind error must be shown either way.
            assert server.process.returncode in {1, -signal.SIGABRT}, caught.value
            assert str(caught.value).count("failed to start GRPC service") <= 1
    assert (work_directory / "triton.log").is_file() and (work_directory / "serve_settings.json").is_file()


def test_crashed_parent_does_not_leak_the_server(tiny_repository):
    settings = _settings()
    names = ("grpc_port", "http_port", "metrics_port")
    ports = ", ".join(f"{name}={getattr(settings, name)}" for name in names)
    script = (
        "import sys, time\n"
        "from deploy.embedded import EmbeddedTriton\n"
        "from deploy.settings import ServeSettings\n"
        f"settings = ServeSettings({ports}, threads=1, exit_timeout_s=5)\n"
        f"server = EmbeddedTriton({str(tiny_repository.path)!r}, settings)\n"
        "server.start(); server.wait_ready(); print(server.process.pid, flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPOSITORY_ROOT
    )
    triton_pid = int(parent.stdout.readline())
    assert not _process_gone(triton_pid)
    parent.kill()  # SIGKILL: the parent gets no chance to stop its server
    parent.wait()
    deadline = time.monotonic() + 30
    while not _process_gone(triton_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    gone = _process_gone(triton_pid)
    if not gone:
        os.killpg(triton_pid, signal.SIGKILL)
    assert gone, "tritonserver outlived its parent"
