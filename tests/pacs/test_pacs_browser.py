"""The web app's PACS page in a real browser (Debian Chromium, Playwright) against the real Orthanc."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from client.launch import AppSettings
from deploy.ports import free_ports
from pacs.dicomweb import connect, store_folder
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serving
from web.launch import WEB_APP

pytestmark = [pytest.mark.pacs, pytest.mark.browser, pytest.mark.triton]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@pytest.fixture(scope="module")
def pacs(module_pacs):
    """This module's own Orthanc: its tests store results into the study, which others expect bare."""
    return module_pacs


@pytest.fixture
def served_web_app(monkeypatch, pacs, triton_server):
    # The app reads the PACS address and credentials from its environment, as `emphysema app` does.
    monkeypatch.setenv("EMPHYSEMA_PACS_URL", pacs.settings.dicomweb_url)
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", pacs.credentials.user)
    monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", pacs.credentials.password)
    settings = AppSettings(port=free_ports(1)[0], triton_url=triton_server.grpc_url, script=WEB_APP)
    with serving(settings):
        yield settings


@needs_chromium
def test_the_pacs_page_lists_the_study_and_analyses_it_in_a_real_browser(
    served_web_app, pacs, synthetic_study
):
    from playwright.sync_api import expect, sync_playwright

    store_folder(connect(pacs.settings.dicomweb_url, pacs.credentials), synthetic_study)
    header = pydicom.dcmread(next(synthetic_study.glob("*.dcm")), stop_before_pixels=True)
    date = str(header.StudyDate)
    listed = f"{date[:4]}-{date[4:6]}-{date[6:]}, {header.StudyDescription}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(served_web_app.local_url, timeout=60_000)
            expect(page.get_by_text("● ready")).to_be_visible(timeout=60_000)
            page.get_by_role("link", name="PACS").click()
            chooser = page.get_by_role("combobox", name="Study to analyse")
            expect(chooser).to_have_value(listed, timeout=60_000)
            expect(page.get_by_role("button", name="Analyse the study")).to_be_enabled()
            page.wait_for_timeout(1500)  # the table draws itself after the rest
            page.screenshot(path=str(ARTIFACTS / "pacs_list.png"))
            body = page.locator("body").inner_text() + chooser.input_value()
            assert str(header.PatientName) not in body and header.PatientID not in body
            assert pacs.credentials.password not in body
            page.get_by_text("Analyse again even if its results are in the PACS").click()
            page.get_by_role("button", name="Analyse the study").click()
            expect(page.get_by_text(f"Study analysis: PACS study {listed}")).to_be_visible(timeout=180_000)
            expect(page.get_by_role("button", name="report.json")).to_be_visible()
            page.set_viewport_size({"width": 1400, "height": 3000})
            page.wait_for_timeout(2000)
            page.screenshot(path=str(ARTIFACTS / "pacs_study_view.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "pacs_study_view.png").stat().st_size > 50_000
