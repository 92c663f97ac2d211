"""The study page: upload a CT series (DICOM files or a .zip) or make a phantom study, analyse it.

An upload is de-identified file by file before anything reads it (`web.series_upload`); the
original bytes are then dropped from Streamlit's upload store and the uploader is reset. The
phantom study is generated on demand with the project's study phantom (small, 128 px, a few
seconds) and never stored. Either way the series lives in a private temporary folder only while
it is analysed (`web.study_run`).
"""

from __future__ import annotations

import streamlit as st

from client.server_panel import ServerChoice
from client.slice_page import forget_uploaded_bytes, session_uid_salt
from client.uploads import MAXIMUM_UPLOAD_BYTES
from imaging.classes import SEVERITIES
from study.phantom.command import write_study
from study.phantom.settings import STUDY_PATTERNS, settings_for_size
from web.analysis_panel import analyse_with_progress, can_analyse, run_into_slot, show_slot
from web.series_upload import import_series
from web.study_run import private_workspace

SLOT = "study"
UPLOAD = "Upload a series"
PHANTOM = "Phantom study (synthetic)"
PHANTOM_SIZE = "small"


def _upload_and_analyse(server: ServerChoice) -> None:
    state = st.session_state
    state.setdefault("series_round", 0)
    uploads = st.file_uploader(
        f"The series' DICOM files, or one .zip of them (at most {MAXIMUM_UPLOAD_BYTES // 2**20} MB a file)",
        accept_multiple_files=True,
        key=f"series_{state.series_round}",
    )
    ready = can_analyse(server)
    if not st.button("Analyse the series", type="primary", disabled=not (uploads and ready)):
        return
    received = [(upload.name, upload.getvalue()) for upload in uploads]
    forget_uploaded_bytes(uploads)
    state.series_round += 1  # a new, empty uploader: the session no longer holds the original bytes

    def work():
        with private_workspace() as workspace:
            series = workspace / "uploaded-series"
            series.mkdir()
            imported = import_series(received, series, session_uid_salt())
            received.clear()
            result = analyse_with_progress(series, workspace, "uploaded series", server)
        notes = [f"{imported.files} DICOM files read, de-identified on upload."]
        return result, notes + [f"Left out: {note}" for note in imported.skipped]

    run_into_slot(SLOT, work)


def _phantom_and_analyse(server: ServerChoice) -> None:
    columns = st.columns(3)
    pattern = columns[0].selectbox(
        "Pattern", STUDY_PATTERNS, index=STUDY_PATTERNS.index("CLE"), key="phantom_pattern"
    )
    severity = columns[1].selectbox(
        "Severity", SEVERITIES, index=len(SEVERITIES) - 1, key="phantom_severity", disabled=pattern == "NT"
    )
    seed = columns[2].number_input("Seed", min_value=0, max_value=99_999, value=1, key="phantom_seed")
    st.caption(
        "A synthetic chest CT (128 × 128 pixels a slice) drawn by the project's phantom "
        "(`emphysema synth-study`); it is generated now and discarded after the analysis."
    )
    ready = can_analyse(server)
    if not st.button("Generate and analyse", type="primary", disabled=not ready):
        return
    chosen_severity = None if pattern == "NT" else severity
    name = f"phantom {pattern}" + (f" {chosen_severity}" if chosen_severity else "") + f" (seed {seed})"

    def work():
        with private_workspace() as workspace:
            with st.spinner("Generating the phantom study..."):
                write_study(
                    workspace / "phantom",
                    pattern,
                    chosen_severity,
                    int(seed),
                    settings_for_size(PHANTOM_SIZE),
                    False,
                )
            series = (workspace / "phantom" / "dicom").rename(workspace / "phantom-series")
            return analyse_with_progress(series, workspace, name, server), []

    run_into_slot(SLOT, work)


def show_study_page(server: ServerChoice) -> None:
    """Draw the study page for the server and model the sidebar chose."""
    st.markdown(
        "Analyse a whole chest CT series: the lungs are found and measured, every lung region is "
        "classified through Triton, and the result shows the pattern map, the share of each pattern "
        "per lung third and the lung densitometry. Use a model trained on lung regions "
        "(`emphysema roi-dataset`); a slice-level model still runs, with a warning."
    )
    source = st.radio("Study", (UPLOAD, PHANTOM), horizontal=True, key="study_source")
    if source == UPLOAD:
        _upload_and_analyse(server)
    else:
        _phantom_and_analyse(server)
    show_slot(SLOT)
