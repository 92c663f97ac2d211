"""The Streamlit web client: upload HRCT slices, see the predicted emphysema pattern and why.

Run it with `emphysema app` (or `streamlit run client/app.py` from the repository root). The
Triton address comes from the sidebar, defaulting to $EMPHYSEMA_TRITON_URL.

Privacy: uploads stay in memory. DICOM is de-identified (PS3.15 basic profile) the moment it is
decoded, and the uploader is then reset, so the original bytes are dropped; the session keeps
only the file name, the de-identified pixels and the predictions. Nothing is logged.
"""

from __future__ import annotations

import os
import secrets

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from client import views
from client.errors import TritonError
from client.report import DISCLAIMER
from client.triton import TritonClassifier, TritonSettings
from client.uploads import MAXIMUM_UPLOAD_BYTES, UPLOAD_SUFFIXES, read_upload
from imaging.errors import ScanReadError
from imaging.lung_likeness import assess_lung_likeness
from imaging.scan import to_model_input

URL_VARIABLE = "EMPHYSEMA_TRITON_URL"
# Short deadlines: a frozen server must turn into a banner quickly, not a hung page.
APP_TIMEOUT_SECONDS = 5.0
APP_RETRIES = 1


@st.cache_resource(show_spinner=False, max_entries=4)
def connect(url: str) -> TritonClassifier:
    """One gRPC client per server address, shared by sessions (cleared when the server is down)."""
    return TritonClassifier(TritonSettings(url=url, timeout_seconds=APP_TIMEOUT_SECONDS, retries=APP_RETRIES))


def forget_uploaded_bytes(uploads: list) -> None:
    """Drop the original bytes from Streamlit's in-memory upload store, as `st.chat_input` does."""
    context = get_script_run_ctx()
    remove_file = getattr(getattr(context, "uploaded_file_mgr", None), "remove_file", None)
    if remove_file is not None:
        for upload in uploads:
            remove_file(session_id=context.session_id, file_id=upload.file_id)


st.set_page_config(page_title="Emphysema HRCT classifier", page_icon="🫁", layout="wide")
st.title("Emphysema pattern classifier for lung HRCT")
st.caption(
    f"**{DISCLAIMER}** Patterns: normal tissue (NT), centrilobular (CLE), paraseptal (PSE), "
    "panlobular (PLE) emphysema."
)

state = st.session_state
# Each entry: {"name", "scan" (de-identified), "lung" (LungLikeness), "predictions": {model: Prediction},
# "maps": {model: map}}.
state.setdefault("entries", [])
state.setdefault("errors", [])
state.setdefault("uploader_round", 0)
state.setdefault("uid_salt", secrets.token_bytes(16))  # new DICOM UIDs stay consistent within a session

# --- Sidebar: which server and model; their status is checked on every run -----------------------
st.sidebar.header("Classification server")
default_url = os.environ.get(URL_VARIABLE, TritonSettings().url)
url = st.sidebar.text_input("Triton gRPC address (host:port)", default_url)
classifier: TritonClassifier | None = None
info = None
try:
    classifier = connect(url.strip())
except ValueError as error:
    st.sidebar.error(str(error))
if classifier is not None and views.server_status(classifier):
    info = views.model_picker(classifier, TritonSettings().model)
elif classifier is not None:
    connect.clear()  # never keep a client to a dead server: the next run starts a fresh channel
    views.unavailable_banner(url.strip())
    st.sidebar.button("Check the server again")
    classifier = None

# --- Upload: decode and de-identify at once, then drop the raw bytes --------------------------------
uploads = st.file_uploader(
    f"CT slices: DICOM, PNG, JPEG or TIFF (at most {MAXIMUM_UPLOAD_BYTES // 2**20} MB each)",
    type=list(UPLOAD_SUFFIXES),
    accept_multiple_files=True,
    key=f"uploads_{state.uploader_round}",
)
if uploads:
    for upload in uploads:
        try:
            scan = read_upload(upload.getvalue(), upload.name, state.uid_salt)
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

for message in state.errors:
    st.error(message)
if state.errors and st.button("Clear the messages"):
    state.errors = []
    st.rerun()

# --- Classify whatever this model has not seen yet (also after the server comes back) -----------
if classifier is not None and info is not None:
    pending = [entry for entry in state.entries if info.name not in entry["predictions"]]
    if pending:
        try:
            with st.spinner(f"Classifying {len(pending)} scan(s) with {info.name}..."):
                images = np.stack([to_model_input(entry["scan"], info.image_size) for entry in pending])
                predictions = classifier.classify(images, info.name)
        except TritonError as error:
            views.unavailable_banner(url.strip(), str(error))
        else:
            for entry, prediction in zip(pending, predictions, strict=True):
                entry["predictions"][info.name] = prediction

# --- Results: a table for many scans, then one scan in detail -----------------------------------
# While the server is down, keep showing the results of the model chosen last.
model = info.name if info is not None else state.get("model")
if len(state.entries) > 1 and model is not None:
    views.results_table(state.entries, model, info)
if state.entries:
    names = [f"{number + 1}. {entry['name']}" for number, entry in enumerate(state.entries)]
    state.shown_scan = min(state.get("shown_scan", 0), len(names) - 1)
    chosen = (
        st.selectbox("Scan to show", range(len(names)), format_func=names.__getitem__, key="shown_scan")
        if len(names) > 1
        else 0
    )
    views.scan_detail(state.entries[chosen], model, classifier, info)
    if st.button("Remove all scans"):
        state.entries, state.shown_scan = [], 0
        st.rerun()
else:
    st.info("Upload one or more CT slices to classify them.")
