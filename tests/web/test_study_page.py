"""The study page, headless (AppTest), against the real embedded Triton and the tiny model.

The tiny model's answers mean nothing; these tests check what a user relies on: the page shows
the analysis `analyze` makes of the same study, an upload is de-identified before anything reads
it, nothing stays on disk, and failures are one clear message.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile

import pytest
from streamlit.testing.v1 import AppTest

from analysis.output_files import DICOM_OUTPUTS, OVERLAY_PNG, PATTERN_MAP_NPZ, REPORT_JSON, REPORT_PDF
from analysis.settings import AnalysisSettings
from analysis.study_analysis import analyse_study
from client.settings import TritonSettings
from client.triton import TritonClassifier
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from web.study_page import PHANTOM, UPLOAD

pytestmark = pytest.mark.triton


@pytest.fixture
def private_temp(monkeypatch, tmp_path):
    """The app's temporary folder, watched: every test checks that nothing is left in it."""
    folder = tmp_path / "app_temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _study_page(monkeypatch, url: str, script: str) -> AppTest:
    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", url)
    app = AppTest.from_file(script, default_timeout=180)
    app.run()
    app.switch_page("pages/study.py").run()
    assert not app.exception, app.exception
    return app


def _button(app: AppTest, label: str):
    return next(button for button in app.button if button.label == label)


def _reference_report(
    tmp_path, classifier_url: str, model: str, pattern: str, severity: str, seed: int
) -> dict:
    """What `analyze` reports for the same phantom study, outside the app."""
    write_study(tmp_path / "reference", pattern, severity, seed, settings_for_size("small"), nifti=False)
    with TritonClassifier(TritonSettings(url=classifier_url, model=model)) as classifier:
        return analyse_study(
            tmp_path / "reference" / "dicom", tmp_path / "out", classifier, model, AnalysisSettings(), True
        )


def test_a_phantom_study_is_analysed_and_the_page_shows_what_analyze_reports(
    monkeypatch, triton_server, tiny_repository, web_app_script, private_temp, tmp_path
):
    app = _study_page(monkeypatch, triton_server.grpc_url, web_app_script)
    app.radio(key="study_source").set_value(PHANTOM).run()
    app.selectbox(key="phantom_pattern").set_value("PLE").run()
    app.number_input(key="phantom_seed").set_value(3).run()
    _button(app, "Generate and analyse").click().run()
    assert not app.exception, app.exception
    assert [error.value for error in app.error] == []

    result = app.session_state["study_result"]
    reference = _reference_report(
        tmp_path, triton_server.grpc_url, tiny_repository.model_name, "PLE", "severe", 3
    )
    assert result.report["patterns"] == reference["patterns"]
    assert result.report["quantification"]["regions"] == reference["quantification"]["regions"]
    assert json.loads(result.files["report.json"])["patterns"] == reference["patterns"]
    # Every file `analyze` writes for a DICOM study, whatever it writes: the page lists the folder.
    assert set(result.files) == {path.name for path in (tmp_path / "out").iterdir()}
    assert {REPORT_JSON, REPORT_PDF, OVERLAY_PNG, PATTERN_MAP_NPZ, *DICOM_OUTPUTS} <= set(result.files)
    assert app.subheader[0].value == "Study analysis: phantom PLE severe (seed 3)"
    # The quantification table shows the report's own figures, region by region.
    table = app.dataframe[0].value.set_index("region")
    whole = reference["quantification"]["regions"]["WholeLung"]
    assert table.loc["Whole lung", "volume (mL)"] == whole["volume_ml"]
    assert table.loc["Whole lung", "LAA-950 (%)"] == whole["laa950_percent"]
    shares = reference["patterns"]["regions"]["RightUpperThird"]["pattern_percent"]
    assert table.loc["Right upper third", "CLE (%)"] == shares["CLE"]
    # Every file the analysis wrote can be downloaded.
    labels = [element.proto.label for element in app.get("download_button")]
    assert all(any(label.startswith(name) for label in labels) for name in result.files)
    # The scroller runs over the analysed slices; nothing of the study is left on disk.
    assert (
        app.slider(key="study_slice").max
        == len(result.slice_numbers)
        == reference["tiles"]["analysed_slices"]
    )
    assert list(private_temp.iterdir()) == []


def test_an_uploaded_series_is_de_identified_and_analysed(
    monkeypatch, triton_server, web_app_script, phantom_series, web_helpers, private_temp, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    assert all(
        web_helpers.identifiers_in(data) == list(web_helpers.identifiers) for _, data in phantom_series
    )
    app = _study_page(monkeypatch, triton_server.grpc_url, web_app_script)
    assert app.radio(key="study_source").value == UPLOAD
    files = [(name, data, "application/dicom") for name, data in phantom_series]
    files.append(("notes.txt", b"not an image\n" * 8, "text/plain"))
    app.file_uploader(key="series_0").set_value(files).run()
    _button(app, "Analyse the series").click().run()
    assert not app.exception, app.exception
    assert [error.value for error in app.error] == []

    result = app.session_state["study_result"]
    assert result.report["tiles"]["count"] > 0
    notes = [info.value for info in app.info]
    assert f"{len(phantom_series)} DICOM files read, de-identified on upload." in notes
    assert any(note.startswith("Left out: notes.txt:") for note in notes)
    # Nothing the session holds, no result file and no log carries the identity; the upload is gone.
    kept = pickle.dumps(app.session_state.to_dict())
    output = capfd.readouterr()
    assert web_helpers.identifiers_in(kept) == []
    assert all(web_helpers.identifiers_in(data) == [] for data in result.files.values())
    assert web_helpers.identifiers_in((caplog.text + output.out + output.err).encode()) == []
    state = app.session_state.to_dict()
    assert not state.get("series_0") and state["series_round"] == 1  # a new, empty uploader
    assert list(private_temp.iterdir()) == []


def test_a_zip_gives_the_same_analysis_as_its_files(
    monkeypatch, triton_server, web_app_script, phantom_series, web_helpers, private_temp
):
    app = _study_page(monkeypatch, triton_server.grpc_url, web_app_script)
    app.file_uploader(key="series_0").set_value(
        [("series.zip", web_helpers.zipped(phantom_series), "application/zip")]
    )
    app.run()
    _button(app, "Analyse the series").click().run()
    assert [error.value for error in app.error] == []
    from_zip = app.session_state["study_result"]
    app.file_uploader(key="series_1").set_value(
        [(name, data, "application/dicom") for name, data in phantom_series]
    )
    app.run()
    _button(app, "Analyse the series").click().run()
    from_files = app.session_state["study_result"]
    assert from_zip is not from_files
    assert from_zip.report["patterns"] == from_files.report["patterns"]
    assert web_helpers.identifiers_in(pickle.dumps(app.session_state.to_dict())) == []
    assert list(private_temp.iterdir()) == []


def test_an_upload_without_dicom_is_one_message_and_keeps_nothing(
    monkeypatch, triton_server, web_app_script, private_temp
):
    app = _study_page(monkeypatch, triton_server.grpc_url, web_app_script)
    app.file_uploader(key="series_0").set_value([("notes.dcm", b"patient notes\n" * 10, "application/dicom")])
    app.run()
    _button(app, "Analyse the series").click().run()
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and errors[0].startswith("the upload holds no DICOM image to analyse (notes.dcm:")
    assert app.session_state.to_dict().get("study_result") is None
    assert list(private_temp.iterdir()) == []


def test_without_triton_the_study_page_says_so_and_cannot_start(monkeypatch, web_app_script):
    from deploy.ports import free_ports

    app = _study_page(monkeypatch, f"127.0.0.1:{free_ports(1)[0]}", web_app_script)
    assert any("The classification server is unavailable" in error.value for error in app.error)
    assert _button(app, "Analyse the series").disabled
    app.radio(key="study_source").set_value(PHANTOM).run()
    assert _button(app, "Generate and analyse").disabled
