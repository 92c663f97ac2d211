"""The Streamlit app, headless (AppTest), against the real embedded Triton and the tiny model."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import client
from client.report import DISCLAIMER
from client.uploads import read_upload
from client.views import CLASS_TITLES
from imaging.lung_likeness import NOT_LUNG_WARNING

pytestmark = pytest.mark.triton
APP = str(Path(client.__file__).parent / "app.py")


def _app(monkeypatch, url: str) -> AppTest:
    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", url)
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    return app


def _upload(app: AppTest, files: list[tuple[str, bytes, str]]) -> None:
    app.file_uploader[0].set_value(files)
    app.run()
    assert not app.exception, app.exception


def _shown_text(app: AppTest) -> str:
    parts = [
        element.value
        for kind in ("markdown", "caption", "warning", "error", "info")
        for element in getattr(app, kind)
    ]
    return "\n".join(str(part) for part in parts)


def test_dicom_and_png_get_the_models_class_and_the_disclaimer(
    monkeypatch, triton_server, tiny_repository, scans
):
    dicom = scans.dicom_bytes(scans.phantom_hounsfield("CLE", 64, seed=1))
    png = scans.png16_bytes(scans.phantom_hounsfield("PLE", 64, seed=2))
    # The tiny model is untrained: the expected class is whatever onnxruntime says on the same input.
    expected = {
        name: scans.onnx_prediction(
            tiny_repository.onnx_path, read_upload(data, name), tiny_repository.image_size
        )
        for name, data in (("synthetic.dcm", dicom), ("synthetic.png", png))
    }
    app = _app(monkeypatch, triton_server.grpc_url)
    assert "● ready" in _shown_text(app)
    _upload(app, [("synthetic.dcm", dicom, "application/dicom"), ("synthetic.png", png, "image/png")])

    table = app.dataframe[0].value
    assert list(table["file"]) == ["synthetic.dcm", "synthetic.png"]
    for _, row in table.iterrows():
        label, probabilities = expected[row["file"]]
        assert row["prediction"] == label
        np.testing.assert_allclose(row[["NT", "CLE", "PSE", "PLE"]].to_numpy(float), probabilities, atol=1e-3)
    # The newest upload is shown in detail, with its class, description and the disclaimer.
    assert app.subheader[0].value == CLASS_TITLES[expected["synthetic.png"][0]]
    assert DISCLAIMER in [warning.value for warning in app.warning]
    assert DISCLAIMER in _shown_text(app)

    app.selectbox(key="shown_scan").select(0).run()
    assert app.subheader[0].value == CLASS_TITLES[expected["synthetic.dcm"][0]]


def test_ct_small_identity_is_gone_from_session_state_and_logs(
    monkeypatch, triton_server, ct_small_bytes, scans, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    synthetic = scans.dicom_bytes(scans.phantom_hounsfield("NT", 64))
    app = _app(monkeypatch, triton_server.grpc_url)
    _upload(
        app,
        [
            ("CT_small.dcm", ct_small_bytes, "application/dicom"),
            ("second.dcm", synthetic, "application/dicom"),
        ],
    )
    assert len(app.session_state["entries"]) == 2
    assert all(entry["predictions"] for entry in app.session_state["entries"])
    kept = pickle.dumps(app.session_state.to_dict())  # everything the session holds, widgets included
    output = capfd.readouterr()
    logged = caplog.text + output.out + output.err
    identifiers = (*scans.ct_small_identifiers, *scans.synthetic_identifiers)
    # The check can fail: the uploaded bytes themselves do carry these identifiers.
    assert all(identifier.encode() in ct_small_bytes + synthetic for identifier in identifiers)
    for identifier in identifiers:
        assert identifier.encode() not in kept, identifier
        assert identifier not in logged, identifier
    assert all(not value for key, value in app.session_state.to_dict().items() if key.startswith("uploads_"))


def test_bad_files_get_one_message_each_and_the_others_are_classified(monkeypatch, triton_server, scans):
    app = _app(monkeypatch, triton_server.grpc_url)
    good = scans.png16_bytes(scans.phantom_hounsfield("PSE", 64))
    _upload(
        app,
        [
            ("notes.dcm", b"patient notes, not an image\n" * 4, "application/dicom"),
            ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(21 * 2**20), "image/png"),
            ("good.png", good, "image/png"),
        ],
    )
    errors = [error.value for error in app.error]
    assert any(message.startswith("notes.dcm:") and "text file" in message for message in errors)
    assert any(message.startswith("huge.png:") and "limit is 20 MiB" in message for message in errors)
    assert [entry["name"] for entry in app.session_state["entries"]] == ["good.png"]
    assert app.subheader[0].value in CLASS_TITLES.values()


def test_occlusion_map_is_computed_through_triton_on_request(
    monkeypatch, triton_server, tiny_repository, scans
):
    app = _app(monkeypatch, triton_server.grpc_url)
    _upload(app, [("one.png", scans.png16_bytes(scans.phantom_hounsfield("CLE", 64)), "image/png")])
    assert not app.session_state["entries"][0]["maps"]
    button = next(button for button in app.button if button.label.startswith("Explain"))
    button.click().run()
    assert not app.exception, app.exception
    sensitivity = app.session_state["entries"][0]["maps"][tiny_repository.model_name]
    assert sensitivity.shape == (tiny_repository.image_size, tiny_repository.image_size)
    assert np.isfinite(sensitivity).all() and np.abs(sensitivity).max() > 0


def test_triton_down_shows_the_banner_and_recovers_when_it_is_back(monkeypatch, tiny_repository, scans):
    from deploy.embedded import EmbeddedTriton
    from deploy.ports import free_ports
    from deploy.settings import ServeSettings

    grpc_port, http_port, metrics_port = free_ports(3)
    app = _app(monkeypatch, f"127.0.0.1:{grpc_port}")
    assert not app.exception
    banner = " ".join(error.value for error in app.error)
    assert "The classification server is unavailable" in banner
    assert f"Triton at 127.0.0.1:{grpc_port} is not reachable" in banner and "emphysema serve" in banner
    # An upload while the server is down is kept (de-identified) and waits.
    waiting = scans.dicom_bytes(scans.phantom_hounsfield("PSE", 64))
    _upload(app, [("waiting.dcm", waiting, "application/dicom")])
    assert "Not classified yet" in _shown_text(app)
    assert not app.subheader

    settings = ServeSettings(
        grpc_port=grpc_port,
        http_port=http_port,
        metrics_port=metrics_port,
        threads=1,
        exit_timeout_s=5,
        startup_timeout_s=120,
    )
    with EmbeddedTriton(tiny_repository.path, settings):
        app.run()  # the same app session, no restart
        assert not app.exception
        assert "The classification server is unavailable" not in " ".join(error.value for error in app.error)
        assert "● ready" in _shown_text(app)
        shown = app.subheader[0].value
        assert shown in CLASS_TITLES.values()
        assert tiny_repository.model_name in app.session_state["entries"][0]["predictions"]
    app.run()  # and down again: the banner is back, the result is still shown
    assert not app.exception
    assert "The classification server is unavailable" in " ".join(error.value for error in app.error)
    assert app.subheader[0].value == shown


def test_an_upload_that_is_not_lung_is_flagged_on_the_page(monkeypatch, triton_server, ct_small_bytes, scans):
    app = _app(monkeypatch, triton_server.grpc_url)
    lung = scans.png16_bytes(scans.phantom_hounsfield("CLE", 64))
    _upload(app, [("CT_small.dcm", ct_small_bytes, "application/dicom"), ("lung.png", lung, "image/png")])
    table = app.dataframe[0].value.set_index("file")
    assert not table.loc["CT_small.dcm", "looks_like_lung"] and table.loc["lung.png", "looks_like_lung"]
    assert table.loc["CT_small.dcm", "warning"].startswith(NOT_LUNG_WARNING)
    # The newest upload (lung.png) is shown first: no warning; then CT_small.dcm gets one.
    assert not any("does not look like lung" in error.value for error in app.error)
    app.selectbox(key="shown_scan").select(0).run()
    assert any("does not look like lung HRCT" in error.value for error in app.error)
