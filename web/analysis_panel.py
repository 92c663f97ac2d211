"""Run a study analysis from a page with a progress bar, and keep its result (or error) per page.

Each page keeps one result in the session under its own slot ("study" or "pacs"): the newest
analysis replaces the previous one, so a session never holds more than one study per page.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from client.server_panel import ServerChoice, classifier_for
from imaging.errors import EmphysemaError
from web.study_run import StudyResult, run_study_analysis
from web.study_view import show_study_result


def can_analyse(server: ServerChoice) -> bool:
    """Whether a study can be sent now; says why not on the page."""
    if not server.ready:
        st.error(
            f"**The classification server is unavailable.** Triton at {server.url} does not answer; "
            "start it with `emphysema serve`, or correct the address in the sidebar.",
            icon=":material/cloud_off:",
        )
        return False
    if server.info is None:
        st.warning("Choose a model Triton serves in the sidebar to analyse a study.")
        return False
    return True


def progress_bar(text: str) -> Callable[[int, int], None]:
    """Draw a progress bar; return the callback that moves it as lung regions are classified."""
    bar = st.progress(0.0, text=text)

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Classifying lung regions through Triton: {done} of {total}")

    return progress


def analyse_with_progress(series: Path, workspace: Path, name: str, server: ServerChoice) -> StudyResult:
    """Analyse ``series`` through the chosen model, drawing the progress as it goes."""
    progress = progress_bar("Reading the series, finding the lungs and measuring them...")
    assert server.info is not None  # can_analyse() came first
    return run_study_analysis(series, workspace, name, classifier_for(server), server.info.name, progress)


def run_into_slot(slot: str, work: Callable[[], tuple[StudyResult | None, list[str]]]) -> None:
    """Run ``work`` (returning the result, or None, and notes); keep them or the error, then redraw."""
    state = st.session_state
    try:
        result, notes = work()
    except (EmphysemaError, OSError) as error:
        state[f"{slot}_error"], state[f"{slot}_notes"] = str(error), []
    else:
        state[f"{slot}_result"], state[f"{slot}_error"], state[f"{slot}_notes"] = result, None, notes
    st.rerun()


def show_slot(slot: str) -> None:
    """Show the slot's error, notes and result view."""
    state = st.session_state
    if state.get(f"{slot}_error"):
        st.error(state[f"{slot}_error"])
    for note in state.get(f"{slot}_notes") or []:
        st.info(note)
    result = state.get(f"{slot}_result")
    if result is not None:
        show_study_result(result)
