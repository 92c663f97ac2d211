"""`emphysema app` serves the whole web app: its pages, the single-slice page first."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from client.launch import AppSettings, stop_app
from deploy.ports import free_ports
from emphysema.cli import SUBCOMMANDS
from web.launch import WEB_APP

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_emphysema_app_runs_streamlit_on_the_web_app():
    port = free_ports(1)[0]
    process = subprocess.Popen(  # the real command; no Triton is needed to serve the page
        [sys.executable, "-m", "emphysema", "app", "--port", str(port), "--url", "127.0.0.1:1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settings = AppSettings(port=port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{settings.local_url}/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("emphysema app did not serve within 60 s")
        commands = [
            Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0") for child in _children(process.pid)
        ]
        streamlit = [command for command in commands if b"streamlit" in command]
        assert streamlit and str(WEB_APP).encode() in streamlit[0]
    finally:
        stop_app(process)
    assert SUBCOMMANDS["app"][0] == "web.launch" and SUBCOMMANDS["publish"][0] == "web.publish"


def test_the_web_app_opens_on_the_single_slice_page_and_offers_the_others(monkeypatch):
    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", f"127.0.0.1:{free_ports(1)[0]}")
    app = AppTest.from_file(str(WEB_APP), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    assert app.get("file_uploader")[0].proto.label.startswith("CT slices: DICOM, PNG, JPEG or TIFF")
    assert any("The classification server is unavailable" in error.value for error in app.error)
    for page, first_words in (
        ("pages/study.py", "Analyse a whole chest CT series"),
        ("pages/pacs.py", "**PACS:**"),
    ):
        app.switch_page(page).run()
        assert not app.exception, app.exception
        assert any(str(text.value).startswith(first_words) for text in app.markdown), page
