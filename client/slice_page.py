"""The single-slice page: upload HRCT slices, see the predicted emphysema pattern and why.

Privacy: uploads stay in memory. DICOM is de-identified (PS3.15 basic profile) the moment it is
decoded, and the uploader is then reset, so the original bytes are dropped; the session keeps
only the file name, the de-identified pixels and the predictions. Nothing is logged.
"""

from __future__ import annotations

import secrets

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from client import views
from client.errors import TritonError
from client.report import DISCLAIMER
from client.server_panel import ServerChoice, classifier_for
from client.uploads import MAXIMUM_UPLOAD_BYTES, UPLOAD_SUFFIXES, read_upload
from imaging.errors import ScanReadError
from imaging.lung_likeness import assess_lung_likeness
from imaging.scan import to_model_input

TITLE = "Emphysema pattern classifier for lung HRCT"
CAPTION = (
    f"**{DISCLAIMER}** Patterns: normal tissue (NT), centrilobular (CLE), paraseptal (PSE), "
    "panlobular (PLE) emphysema."
)


def forget_uploaded_bytes(uploads: list) -> None:
    """Drop the original bytes from Streamlit's in-memory upload store, as `st.chat_input` does."""
    context = get_script_run_ctx()
    remove_file = getattr(getattr(context, "uploaded_file_mgr", None), "remove_file", None)
    if remove_file is not None:
        for upload in uploads:
            remove_file(session_id=context.session_id, file_id=upload.file_id)


def session_uid_salt() -> bytes:
    """The session's secret for new DICOM UIDs, so they stay consistent within one browser session."""
    return st.session_state.setdefault("uid_salt", secrets.token_bytes(16))


def _receive_uploads(state) -> None:
    """Decode and de-identify new uploads at once, then drop the raw bytes."""
    uploads = st.file_uploader(
        f"CT slices: DICOM, PNG, JPEG or TIFF (at most {MAXIMUM_UPLOAD_BYTES // 2**20} MB each)",
        type=list(UPLOAD_SUFFIXES),
        accept_multiple_files=True,
        key=f"uploads_{state.uploader_round}",
    )
    if not uploads:
        return
    for upload in uploads:
        try:
            scan = read_upload(upload.getvalue(), upload.name, session_uid_salt())
        except ScanReadError as error:
            state.errors.append(str(error))
        else:
            state.entries.append(
                {
                    "name": upload.name,
                    "scan": scan,
                    "lung": assess_lung_likeness(scan),
                    "predictions": {},
                    "maps": {},
                }
            )
    forget_uploaded_bytes(uploads)
    state.uploader_round += 1  # a new, empty uploader widget: the session no longer holds the bytes
    state.shown_scan = len(state.entries) - 1
    st.rerun()


def _classify_pending(state, server: ServerChoice) -> None:
    """Classify whatever this model has not seen yet (also after the server comes back)."""
    classifier, info = classifier_for(server), server.info
    if classifier is None or info is None:
        return
    pending = [entry for entry in state.entries if info.name not in entry["predictions"]]
    if not pending:
        return
    try:
        with st.spinner(f"Classifying {len(pending)} scan(s) with {info.name}..."):
            images = np.stack([to_model_input(entry["scan"], info.image_size) for entry in pending])
            predictions = classifier.classify(images, info.name)
    except TritonError as error:
        views.unavailable_banner(server.url, str(error))
    else:
        for entry, prediction in zip(pending, predictions, strict=True):
            entry["predictions"][info.name] = prediction


def _show_results(state, server: ServerChoice) -> None:
    """A table for many scans, then one scan in detail."""
    info = server.info
    # While the server is down, keep showing the results of the model chosen last.
    model = info.name if info is not None else state.get("model")
    if len(state.entries) > 1 and model is not None:
        views.results_table(state.entries, model, info)
    if not state.entries:
        st.info("Upload one or more CT slices to classify them.")
        return
    names = [f"{number + 1}. {entry['name']}" for number, entry in enumerate(state.entries)]
    state.shown_scan = min(state.get("shown_scan", 0), len(names) - 1)
    chosen = (
        st.selectbox("Scan to show", range(len(names)), format_func=names.__getitem__, key="shown_scan")
        if len(names) > 1
        else 0
    )
    views.scan_detail(state.entries[chosen], model, classifier_for(server), info)
    if st.button("Remove all scans"):
        state.entries, state.shown_scan = [], 0
        st.rerun()


def show_slice_page(server: ServerChoice) -> None:
    """Draw the single-slice page for the server and model the sidebar chose."""
    state = st.session_state
    # Each entry: {"name", "scan" (de-identified), "lung" (LungLikeness), "predictions": {model:
    # Prediction}, "maps": {model: map}}.
    state.setdefault("entries", [])
    state.setdefault("errors", [])
    state.setdefault("uploader_round", 0)
    if server.unreachable:
        views.unavailable_banner(server.url)
    _receive_uploads(state)
    for message in state.errors:
        st.error(message)
    if state.errors and st.button("Clear the messages"):
        state.errors = []
        st.rerun()
    _classify_pending(state, server)
    _show_results(state, server)
