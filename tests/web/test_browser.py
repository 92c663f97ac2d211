"""The study page in a real browser: Debian Chromium driven by Playwright, the web app served by
`streamlit run web/app.py` (as `emphysema app` serves it), the real embedded Triton behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.launch import AppSettings
from deploy.ports import free_ports
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serving
from web.launch import WEB_APP

pytestmark = [pytest.mark.browser, pytest.mark.triton]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@pytest.fixture
def served_web_app(triton_server):
    settings = AppSettings(port=free_ports(1)[0], triton_url=triton_server.grpc_url, script=WEB_APP)
    with serving(settings):
        yield settings


@needs_chromium
def test_an_uploaded_series_is_analysed_and_shown_in_a_real_browser(served_web_app, phantom_series, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    paths = []
    for name, data in phantom_series:
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(served_web_app.local_url, timeout=60_000)
            expect(page.get_by_text("● ready")).to_be_visible(timeout=60_000)
            page.get_by_role("link", name="Study").click()
            expect(page.get_by_text("Analyse a whole chest CT series")).to_be_visible(timeout=30_000)
            page.locator("input[type=file]").set_input_files(paths)
            analyse = page.get_by_role("button", name="Analyse the series")
            expect(analyse).to_be_enabled(timeout=60_000)
            analyse.click()
            expect(page.get_by_text("Study analysis: uploaded series")).to_be_visible(timeout=180_000)
            expect(
                page.get_by_text(f"{len(paths)} DICOM files read, de-identified on upload.")
            ).to_be_visible()
            expect(page.get_by_text("Pattern share per lung third")).to_be_visible()
            expect(page.get_by_role("button", name="report.json")).to_be_visible()
            expect(page.get_by_text("Slice (from the top)")).to_be_visible()
            page.set_viewport_size({"width": 1400, "height": 3000})  # the app scrolls inside its frame
            page.wait_for_timeout(2000)  # let the chart and images finish drawing for the screenshot
            page.screenshot(path=str(ARTIFACTS / "study_view.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "study_view.png").stat().st_size > 50_000
