"""The web app's PACS page, headless (AppTest), against the real Orthanc and the real embedded Triton."""

from __future__ import annotations

import pickle

import pydicom
import pytest
from streamlit.testing.v1 import AppTest

from pacs.dicomweb import connect, list_series, store_folder
from pacs.study_list import list_study_page

pytestmark = [pytest.mark.pacs, pytest.mark.triton]


@pytest.fixture(scope="module")
def pacs(module_pacs):
    """This module's own Orthanc: its tests store results into the study, which others expect bare."""
    return module_pacs


@pytest.fixture(scope="module")
def stored_study(pacs, synthetic_study) -> pydicom.Dataset:
    """The synthetic study in the PACS; returns one of its headers (what the PACS knows of the patient)."""
    store_folder(connect(pacs.settings.dicomweb_url, pacs.credentials), synthetic_study)
    return pydicom.dcmread(next(synthetic_study.glob("*.dcm")), stop_before_pixels=True)


def _pacs_page(monkeypatch, pacs, triton_url: str, password: str | None = None) -> AppTest:
    from web.launch import WEB_APP

    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", triton_url)
    monkeypatch.setenv("EMPHYSEMA_PACS_URL", pacs.settings.dicomweb_url)
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", pacs.credentials.user)
    monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", password or pacs.credentials.password)
    app = AppTest.from_file(str(WEB_APP), default_timeout=180)
    app.run()
    app.switch_page("pages/pacs.py").run()
    assert not app.exception, app.exception
    return app


def _page_text(app: AppTest) -> str:
    kinds = ("markdown", "caption", "error", "info", "warning", "subheader")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(app, kind))


def test_the_list_shows_the_study_without_patient_data_and_pages(pacs, stored_study):
    client = connect(pacs.settings.dicomweb_url, pacs.credentials)
    listings, more = list_study_page(client, 0, 20)
    listing = next(item for item in listings if item.study_uid == stored_study.StudyInstanceUID)
    date = str(stored_study.StudyDate)
    assert listing.date == f"{date[:4]}-{date[4:6]}-{date[6:]}"
    assert listing.description == stored_study.StudyDescription and listing.modalities == ("CT",)
    assert listing.series == 1 and listing.instances > 3
    assert not more
    # Pages of one study: the first holds it and says more follow when there are more studies.
    first, _ = list_study_page(client, 0, 1)
    assert len(first) == 1 and list_study_page(client, len(listings), 5) == ([], False)
    assert str(stored_study.PatientName) not in repr(listings) and stored_study.PatientID not in repr(
        listings
    )


def test_the_pacs_page_lists_analyses_and_shows_the_result(monkeypatch, pacs, stored_study, triton_server):
    app = _pacs_page(monkeypatch, pacs, triton_server.grpc_url)
    table = app.dataframe[0].value
    assert list(table.columns) == ["date", "description", "accession", "modalities", "series", "images"]
    assert stored_study.StudyDescription in list(table["description"])
    text = _page_text(app)
    assert pacs.credentials.password not in text and pacs.credentials.user not in text
    assert str(stored_study.PatientName) not in text + table.to_string()
    assert stored_study.PatientID not in text + table.to_string()

    row = list(table["description"]).index(stored_study.StudyDescription)
    app.selectbox(key="pacs_study_0").set_value(row).run()
    app.checkbox(key="pacs_force").check().run()  # another test may have analysed it already
    _analyse(app)
    assert [error.value for error in app.error] == []
    result = app.session_state["pacs_result"]
    assert result.report["tiles"]["count"] > 0 and "report.json" in result.files
    assert app.subheader[0].value.startswith("Study analysis: PACS study ")
    assert any(note.value.startswith("Analysed the CT series (") for note in app.info)
    # The results are stored back beside the CT, and their files offered for download here.
    client = connect(pacs.settings.dicomweb_url, pacs.credentials)
    modalities = sorted(modality for _, modality in list_series(client, stored_study.StudyInstanceUID))
    assert {"SEG", "SR"} <= set(modalities) and modalities.count("CT") == 1
    assert any(name.endswith(".dcm") for name in result.files)
    assert pacs.credentials.password.encode() not in pickle.dumps(app.session_state.to_dict())
    # Analysed again without "again": the PACS holds the results, nothing is redone or duplicated.
    app.checkbox(key="pacs_force").uncheck().run()
    _analyse(app)
    assert any("already holds the results" in note.value for note in app.info)
    assert app.session_state["pacs_result"] is None
    assert (
        sorted(modality for _, modality in list_series(client, stored_study.StudyInstanceUID)) == modalities
    )


def _analyse(app: AppTest) -> None:
    next(button for button in app.button if button.label == "Analyse the study").click().run()
    assert not app.exception, app.exception


def test_a_wrong_password_is_one_clear_message(monkeypatch, pacs, stored_study, triton_server):
    app = _pacs_page(monkeypatch, pacs, triton_server.grpc_url, password="not-the-password")
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and "refused the user name or password (HTTP 401)" in errors[0]
    assert "not-the-password" not in _page_text(app)
    assert not app.dataframe


def test_without_credentials_the_page_says_how_to_set_them(monkeypatch, pacs, triton_server):
    app = _pacs_page(monkeypatch, pacs, triton_server.grpc_url)
    monkeypatch.delenv("EMPHYSEMA_PACS_USER")
    monkeypatch.delenv("EMPHYSEMA_PACS_PASSWORD")
    app.run()
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and "set EMPHYSEMA_PACS_USER and EMPHYSEMA_PACS_PASSWORD" in errors[0]
