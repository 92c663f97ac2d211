"""`emphysema app`: the safe Streamlit settings, and the app served together with the embedded Triton."""

from __future__ import annotations

import threading
import urllib.request

import pytest

from client import launch
from client.triton import TritonClassifier, TritonSettings
from deploy.ports import free_ports


def test_the_streamlit_config_has_the_safe_settings():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads(launch.CONFIG_FILE.read_text())
    assert config["server"]["maxUploadSize"] == 20
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["fileWatcherType"] == "none" and config["server"]["runOnSave"] is False
    assert config["client"]["showErrorDetails"] == "none" and config["client"]["toolbarMode"] == "viewer"
    assert config["browser"]["gatherUsageStats"] is False


def test_the_command_passes_port_address_and_allowed_hosts():
    settings = launch.AppSettings(port=8600, allowed_hosts=("x.ngrok-free.app", "localhost"))
    command = launch.streamlit_command(settings)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("client/app.py")
    assert command[5:] == [
        "--server.port",
        "8600",
        "--server.address",
        "127.0.0.1",
        "--server.allowedHosts",
        "x.ngrok-free.app",
        "--server.allowedHosts",
        "localhost",
    ]
    assert launch.is_loopback("127.0.0.1") and launch.is_loopback("localhost")
    assert not launch.is_loopback("0.0.0.0")
    with pytest.raises(ValueError, match="port"):
        launch.AppSettings(port=0)


@pytest.mark.triton
def test_app_with_serve_runs_triton_and_the_app_and_stops_both(monkeypatch, tiny_repository, capsys):
    started: list = []
    serving = threading.Event()
    start_app, wait_until_serving = launch.start_app, launch.wait_until_serving

    def recording_start_app(settings):
        started.append((settings, start_app(settings)))
        return started[-1][1]

    def recording_wait(settings, process):
        wait_until_serving(settings, process)
        serving.set()

    monkeypatch.setattr(launch, "start_app", recording_start_app)
    monkeypatch.setattr(launch, "wait_until_serving", recording_wait)
    port = free_ports(1)[0]
    result: dict = {}
    thread = threading.Thread(
        daemon=True,
        target=lambda: result.setdefault(
            "code", launch.main(["--serve", "--repository", str(tiny_repository.path), "--port", str(port)])
        ),
    )
    thread.start()
    assert serving.wait(timeout=120)
    settings, process = started[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
        assert response.status == 200
    with TritonClassifier(TritonSettings(url=settings.triton_url, timeout_seconds=5)) as classifier:
        assert classifier.is_model_ready(tiny_repository.model_name)
    launch.stop_app(process)
    thread.join(timeout=60)
    assert not thread.is_alive() and result["code"] == 0
    output = capsys.readouterr().out
    assert f"Triton is serving {tiny_repository.path} at {settings.triton_url}" in output
    assert f"Web app: http://127.0.0.1:{port}" in output
    with TritonClassifier(TritonSettings(url=settings.triton_url, timeout_seconds=2)) as classifier:
        assert not classifier.is_server_ready()  # stopped with the app


def test_the_repository_goes_with_serve(capsys):
    with pytest.raises(SystemExit) as refused:
        launch.main(["--serve", "model_repository"])  # the old spelling says what to write now
    assert refused.value.code == 2
    assert "write --serve --repository model_repository" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        launch.main(["--repository", "model_repository"])
    assert refused.value.code == 2 and "--repository needs --serve" in capsys.readouterr().err
