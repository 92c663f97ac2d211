"""`emphysema serve` refuses what it cannot serve, clearly, before Triton starts."""

from __future__ import annotations

import shutil
import socket

import pytest

from deploy.serve import main


def _run(capsys, *arguments: str) -> tuple[int, str]:
    status = main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.err


def test_missing_repository(capsys, tmp_path):
    status, error = _run(capsys, "--repository", str(tmp_path / "nowhere"))
    assert status == 1
    assert f"model repository {tmp_path / 'nowhere'} does not exist" in error


def test_empty_repository(capsys, tmp_path):
    status, error = _run(capsys, "--repository", str(tmp_path))
    assert status == 1 and "is empty" in error and "config.pbtxt" in error


def test_repository_without_onnx(capsys, tmp_path, tiny_repository):
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository.path, repository, ignore=shutil.ignore_patterns("*.onnx"))
    status, error = _run(capsys, "--repository", str(repository))
    assert status == 1 and "no model has an exported ONNX version" in error and "emphysema export" in error


def test_port_in_use(capsys, tiny_repository):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        status, error = _run(capsys, "--repository", str(tiny_repository.path), "--http-port", str(port))
    assert status == 1
    assert f"127.0.0.1:{port} for the HTTP endpoint" in error and "--http-port" in error


def test_same_port_twice(capsys, tiny_repository):
    status, error = _run(
        capsys, "--repository", str(tiny_repository.path), "--grpc-port", "9000", "--http-port", "9000"
    )
    assert status == 2 and "ports must differ" in error


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--repository", "--grpc-port", "--http-port", "--metrics-port", "--host", "--threads"):
        assert option in usage
