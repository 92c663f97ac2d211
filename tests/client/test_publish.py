"""`emphysema publish`'s rules, with pyngrok replaced by a recording double.

ngrok's service cannot be reached from here, so pyngrok is the one thing replaced.

Everything else is real: the Streamlit app is started and answers on localhost.
"""

from __future__ import annotations

import threading
import urllib.request
from types import SimpleNamespace

import pytest
from pyngrok.exception import PyngrokNgrokInstallError

from client import launch, publish
from deploy.ports import free_ports

PUBLIC_URL = "https://a1b2-c3d4.ngrok-free.app"
PASSWORD = "correct-horse-battery"


class RecordingNgrok:
    """Stands in for `pyngrok.ngrok`: records every call; `connect` returns a tunnel or raises `failure`."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.calls: list[tuple[str, tuple, dict]] = []

    def connect(self, *args, **kwargs):
        self.calls.append(("connect", args, kwargs))
        if self.failure is not None:
            raise self.failure
        return SimpleNamespace(public_url=PUBLIC_URL)

    def disconnect(self, *args, **kwargs):
        self.calls.append(("disconnect", args, kwargs))

    def kill(self, *args, **kwargs):
        self.calls.append(("kill", args, kwargs))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def ngrok_double(monkeypatch) -> RecordingNgrok:
    double = RecordingNgrok()
    monkeypatch.setattr(publish, "ngrok", double)
    monkeypatch.setenv(publish.TOKEN_VARIABLE, "test-token-123")
    monkeypatch.delenv(publish.AUTH_VARIABLE, raising=False)
    return double


def _publish_until_served(monkeypatch, argv: list[str]):
    """Run `publish.main` in a thread until the real app answers; return (thread, result, app process)."""
    started: list = []

    def recording_start_app(settings):
        process = launch.start_app(settings)
        started.append((settings, process))
        return process

    serving = threading.Event()

    def recording_wait_until_serving(settings, process):
        launch.wait_until_serving(settings, process)
        serving.set()  # publish.main has seen the app answer and now waits on it

    monkeypatch.setattr(publish, "start_app", recording_start_app)
    monkeypatch.setattr(publish, "wait_until_serving", recording_wait_until_serving)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", publish.main(argv)), daemon=True)
    thread.start()
    assert serving.wait(timeout=60)
    settings, process = started[0]
    with urllib.request.urlopen(f"{settings.local_url}/_stcore/health", timeout=5) as response:
        assert response.status == 200
    return thread, result, settings, process


def _stop(thread, process) -> None:
    launch.stop_app(process)
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_publishing_without_any_authentication_is_refused(ngrok_double, capsys):
    assert publish.main(["--port", str(free_ports(1)[0])]) == 2
    error = capsys.readouterr().err
    assert "publishing needs authentication" in error and publish.AUTH_VARIABLE in error
    assert ngrok_double.calls == []


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ("admin:short", "8 to 128 characters"),
        ("no-colon-at-all", "user:password"),
        (":password-without-user", "user:password"),
    ],
)
def test_malformed_credentials_are_refused_without_echoing_them(
    ngrok_double, monkeypatch, capsys, credentials, message
):
    monkeypatch.setenv(publish.AUTH_VARIABLE, credentials)
    assert publish.main([]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert credentials not in error and "short" not in error and "without-user" not in error
    assert ngrok_double.calls == []


@pytest.mark.parametrize(
    "argv", [["--port", "8001"], ["--port", "8000"], ["--port", "9123", "--url", "localhost:9123"]]
)
def test_triton_ports_are_never_tunnelled(ngrok_double, monkeypatch, capsys, argv):
    monkeypatch.setenv(publish.AUTH_VARIABLE, f"doctor:{PASSWORD}")
    assert publish.main(argv) == 2
    assert "refusing to publish port" in capsys.readouterr().err
    assert ngrok_double.calls == []


def test_no_auth_together_with_credentials_is_contradictory(ngrok_double, monkeypatch, capsys):
    monkeypatch.setenv(publish.AUTH_VARIABLE, f"doctor:{PASSWORD}")
    assert publish.main(["--no-auth"]) == 2
    assert "contradicts" in capsys.readouterr().err


def test_the_ngrok_token_is_required(ngrok_double, monkeypatch, capsys):
    monkeypatch.setenv(publish.AUTH_VARIABLE, f"doctor:{PASSWORD}")
    monkeypatch.delenv(publish.TOKEN_VARIABLE)
    assert publish.main([]) == 2
    assert publish.TOKEN_VARIABLE in capsys.readouterr().err
    assert ngrok_double.calls == []


def test_basic_auth_publish_tunnels_only_the_app_and_locks_its_hosts(ngrok_double, monkeypatch, capsys):
    monkeypatch.setenv(publish.AUTH_VARIABLE, f"doctor:{PASSWORD}")
    port = free_ports(1)[0]
    thread, result, settings, process = _publish_until_served(monkeypatch, ["--port", str(port)])
    _stop(thread, process)
    assert result["code"] == 0
    assert ngrok_double.names() == ["connect", "disconnect", "kill"]
    _, args, options = ngrok_double.calls[0]
    assert args == (str(port), "http")
    assert options["pyngrok_config"].auth_token == "test-token-123"
    action = options["traffic_policy"]["on_http_request"][0]["actions"][0]
    assert action == {"type": "basic-auth", "config": {"credentials": [f"doctor:{PASSWORD}"]}}
    assert settings.address == "127.0.0.1"
    assert settings.allowed_hosts == ("a1b2-c3d4.ngrok-free.app", "localhost", "127.0.0.1")
    output = capsys.readouterr()
    assert f"Public URL: {PUBLIC_URL}  (authentication required)" in output.out
    assert PASSWORD not in output.out + output.err


def test_no_auth_publishes_with_a_warning(ngrok_double, monkeypatch, capsys):
    argv = ["--port", str(free_ports(1)[0]), "--no-auth"]
    thread, result, _, process = _publish_until_served(monkeypatch, argv)
    _stop(thread, process)
    assert result["code"] == 0
    assert "traffic_policy" not in ngrok_double.calls[0][2]
    output = capsys.readouterr()
    assert "WARNING: publishing WITHOUT authentication" in output.err
    assert "(no authentication)" in output.out


def test_without_internet_the_app_keeps_running_locally(ngrok_double, monkeypatch, capsys, tmp_path):
    ngrok_double.failure = PyngrokNgrokInstallError(
        "An error occurred while downloading ngrok from https://bin.ngrok.com/x.zip: <urlopen error timeout>"
    )
    monkeypatch.setenv(publish.AUTH_VARIABLE, f"doctor:{PASSWORD}")
    ngrok_path = tmp_path / "ngrok"
    thread, result, settings, process = _publish_until_served(
        monkeypatch, ["--port", str(free_ports(1)[0]), "--ngrok-path", str(ngrok_path)]
    )
    error = capsys.readouterr().err
    assert "could not be downloaded" in error and "--ngrok-path /path/to/ngrok" in error
    assert f"keeps running locally at {settings.local_url}" in error
    assert ngrok_double.calls[0][2]["pyngrok_config"].ngrok_path == str(ngrok_path)
    _stop(thread, process)  # the app was serving until stopped here
    assert result["code"] == 1
    assert ngrok_double.names() == ["connect"]
    assert settings.allowed_hosts == ()


def test_traffic_policy_files_are_read_and_checked(tmp_path):
    oauth = tmp_path / "oauth.yaml"
    oauth.write_text(
        "on_http_request:\n  - actions:\n      - type: oauth\n        config:\n          provider: google\n"
    )
    assert publish.choose_traffic_policy(oauth, False, {}) == {
        "on_http_request": [{"actions": [{"type": "oauth", "config": {"provider": "google"}}]}]
    }
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(publish.PublishError, match="empty.json: a traffic policy needs on_http_request"):
        publish.choose_traffic_policy(empty, False, {})
    with pytest.raises(publish.PublishError, match="missing.yaml: cannot read"):
        publish.choose_traffic_policy(tmp_path / "missing.yaml", False, {})
    # A policy file wins over the environment's basic auth.
    assert (
        publish.choose_traffic_policy(oauth, False, {publish.AUTH_VARIABLE: f"a:{PASSWORD}"})[
            "on_http_request"
        ][0]["actions"][0]["type"]
        == "oauth"
    )
