"""The web app in a real browser: Debian Chromium driven by Playwright, the app served by `streamlit run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.launch import AppSettings
from client.report import DISCLAIMER
from client.uploads import read_upload
from client.views import CLASS_TITLES
from deploy.ports import free_ports
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serving

pytestmark = [pytest.mark.browser, pytest.mark.triton]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "client"


@pytest.fixture
def served_app(triton_server):
    settings = AppSettings(port=free_ports(1)[0], triton_url=triton_server.grpc_url)
    with serving(settings):
        yield settings


@needs_chromium
def test_upload_in_a_real_browser_shows_the_prediction(served_app, tiny_repository, scans, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    scan_path = tmp_path / "synthetic_cle.dcm"
    scan_path.write_bytes(scans.dicom_bytes(scans.phantom_hounsfield("CLE", 128, seed=4)))
    label, _ = scans.onnx_prediction(
        tiny_repository.onnx_path, read_upload(scan_path.read_bytes(), "x.dcm"), tiny_repository.image_size
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.goto(served_app.local_url, timeout=60_000)
            expect(page.get_by_text("● ready")).to_be_visible(timeout=60_000)
            page.locator("input[type=file]").set_input_files(str(scan_path))
            expect(page.get_by_text("Predicted pattern")).to_be_visible(timeout=60_000)
            expect(page.get_by_text(CLASS_TITLES[label]).first).to_be_visible()
            expect(page.get_by_text(DISCLAIMER).first).to_be_visible()
            page.get_by_role("button", name="Explain: occlusion sensitivity map").click()
            explained = page.get_by_text("Red: regions the predicted class depends on")
            expect(explained).to_be_visible(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "app_prediction.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "app_prediction.png").stat().st_size > 10_000
