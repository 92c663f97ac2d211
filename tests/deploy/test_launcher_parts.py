"""Unit tests of the launcher's parts that need no server: settings, ports, Triton's log, the binary."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from deploy.errors import ServeError
from deploy.ports import check_ports_free, free_ports
from deploy.processes import describe_exit, triton_errors
from deploy.settings import ServeSettings, available_cores
from deploy.triton_binary import locate_triton, prepare_backends, triton_environment


def test_settings_defaults_are_safe():
    settings = ServeSettings()
    assert settings.host == "127.0.0.1"
    assert (settings.grpc_port, settings.http_port, settings.metrics_port) == (8001, 8000, 8002)
    assert settings.resolved_threads == available_cores()
    assert settings.to_json_dict()["threads"] == available_cores()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"grpc_port": 0}, "grpc_port must be between"),
        ({"http_port": 70000}, "http_port must be between"),
        ({"metrics_port": 8001}, "ports must differ"),
        ({"threads": -1}, "threads must be"),
        ({"startup_timeout_s": 0}, "startup_timeout_s"),
    ],
)
def test_settings_refuse_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        ServeSettings(**overrides)


def test_wildcard_host_is_reached_over_loopback():
    assert ServeSettings(host="0.0.0.0").client_host == "127.0.0.1"
    assert ServeSettings(host="10.1.2.3").client_host == "10.1.2.3"


def test_busy_port_is_named():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(ServeError, match=rf"127\.0\.0\.1:{port} for the gRPC endpoint.*--grpc-port"):
            check_ports_free("127.0.0.1", {"gRPC": port})


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    check_ports_free("127.0.0.1", {"a": ports[0], "b": ports[1], "c": ports[2]})


def test_triton_errors_picks_error_lines_and_skips_cpu_noise(tmp_path):
    log = tmp_path / "triton.log"
    log.write_text(
        'I1129 01:51:04.131845 10016 model_lifecycle.cc:472] "loading: m:1"\n'
        'E1129 01:51:04.129896 10016 server.cc:241] "CudaDriverHelper has not been initialized."\n'
        "E1129 01:51:05.000001 10016 model_lifecycle.cc:641] \"failed to load 'm' version 1: bad graph\"\n"
        "error: creating server: Internal - failed to load all models\n"
    )
    text = triton_errors(log)
    assert "failed to load 'm' version 1: bad graph" in text
    assert "error: creating server" in text
    assert "CudaDriverHelper" not in text and "loading:" not in text


def test_triton_errors_falls_back_to_the_tail(tmp_path):
    log = tmp_path / "triton.log"
    log.write_text("\n".join(f"line {n}" for n in range(40)))
    text = triton_errors(log, tail_lines=3)
    assert text.split() == ["line", "37", "line", "38", "line", "39"]
    assert "no Triton log" in triton_errors(tmp_path / "missing.log")


def test_triton_binary_and_backends_are_assembled(tmp_path):
    distribution = locate_triton()
    assert os.access(distribution.binary, os.X_OK)
    backends = prepare_backends(distribution, tmp_path / "backends")
    python = backends / "python"
    assert sorted(p.name for p in python.iterdir()) == [
        "libtriton_python.so",
        "triton_python_backend_stub",
        "triton_python_backend_utils.py",
    ]
    assert (python / "triton_python_backend_stub").stat().st_mode & stat.S_IXUSR
    environment = triton_environment(distribution, {"PATH": "/usr/bin"})
    assert environment["PATH"].split(os.pathsep)[0].endswith("bin")
    assert environment["PATH"].split(os.pathsep)[-1] == "/usr/bin"
    assert str(distribution.libraries) in environment["LD_LIBRARY_PATH"]


def test_triton_errors_with_tail_after_a_crash(tmp_path):
    log = tmp_path / "triton.log"
    log.write_text(
        "UNKNOWN:No address added: Address already in use\n"
        "E1129 02:03:04.000001 77 ev_epoll1_linux.cc:1] epoll_wait error: Bad file descriptor\n"
    )
    assert "already in use" not in triton_errors(log)
    text = triton_errors(log, with_tail=True)
    assert "epoll_wait error" in text and "Address already in use" in text


def test_describe_exit():
    assert describe_exit(1) == "exited with status 1"
    assert describe_exit(-6) == "was killed by SIGABRT"
