"""The PACS page: list the studies of a DICOMweb PACS (QIDO-RS, paged), analyse one, show the result.

The PACS address and credentials are set where the app runs, never on the page:
``EMPHYSEMA_PACS_URL`` (default Orthanc on this machine) and ``EMPHYSEMA_PACS_USER`` /
``EMPHYSEMA_PACS_PASSWORD`` (as `pacs.credentials` reads them). A visitor can therefore neither
read the password nor send it to another server. The list shows no patient name, id or birth
date (`pacs.study_list` says what it shows and why).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.from_pacs import ALREADY_ANALYSED, analyse_pacs_study
from analysis.settings import AnalysisSettings
from analysis.study_analysis import analyse_study
from client.server_panel import ServerChoice, classifier_for
from imaging.errors import EmphysemaError
from pacs.credentials import PASSWORD_VARIABLE, USER_VARIABLE, Credentials, load_credentials
from pacs.dicomweb import connect
from pacs.errors import PacsError
from pacs.study_list import StudyListing, list_study_page
from web.analysis_panel import can_analyse, progress_bar, run_into_slot, show_slot
from web.study_run import RESULT_FOLDER, StudyResult, collect_result, private_workspace, read_result_files

SLOT = "pacs"
PACS_URL_VARIABLE = "EMPHYSEMA_PACS_URL"
DEFAULT_PACS_URL = "http://127.0.0.1:8042/dicom-web"
PAGE_SIZE = 20


def study_rows(listings: list[StudyListing]) -> pd.DataFrame:
    """The table the page shows: date, description, accession, modalities, series and images."""
    return pd.DataFrame(
        [
            {
                "date": listing.date,
                "description": listing.description,
                "accession": listing.accession,
                "modalities": ", ".join(listing.modalities),
                "series": listing.series,
                "images": listing.instances,
            }
            for listing in listings
        ],
        columns=["date", "description", "accession", "modalities", "series", "images"],
    )


def study_name(listing: StudyListing) -> str:
    """How the result view names a PACS study: its date, description and accession number."""
    parts = [listing.date, listing.description, f"accession {listing.accession}" if listing.accession else ""]
    return "PACS study " + ", ".join(part for part in parts if part)


def fetch_and_analyse(
    url: str, credentials: Credentials, listing: StudyListing, server: ServerChoice, force: bool
) -> tuple[StudyResult | None, list[str]]:
    """Analyse the study as `emphysema analyze --dicomweb` does, results stored back; keep them here too.

    `analysis.from_pacs` chooses the CT series, waits until it is complete, fetches it into a
    private folder, analyses it and stores the DICOM SEG, SR and PDF into the study; the analysis
    it runs here draws the progress and reads the analysed slices while the series exists.
    """
    assert server.info is not None  # can_analyse() came first
    classifier, model, settings = classifier_for(server), server.info.name, AnalysisSettings()
    kept: dict[str, StudyResult] = {}
    progress = progress_bar("Finding the CT series, waiting until it is complete, fetching it...")

    def analyse(series: Path, destination: Path) -> dict:
        report = analyse_study(series, destination, classifier, model, settings, True, progress)
        kept["result"] = collect_result(study_name(listing), report, series, destination)
        return report

    with private_workspace() as workspace:
        destination = workspace / RESULT_FOLDER
        outcome = analyse_pacs_study(
            connect(url, credentials),
            listing.study_uid,
            classifier,
            model,
            settings,
            destination,
            True,
            force=force,
            analyse=analyse,
        )
        if outcome.status == ALREADY_ANALYSED:
            return None, [
                f"The PACS already holds the results of {model} for this study (SEG, SR and PDF beside "
                'the CT). Tick "Analyse again" to see them here; the PACS keeps one copy.'
            ]
        result = dataclasses.replace(kept["result"], files=read_result_files(destination))
    return result, [
        f"Analysed the CT series ({outcome.instances} images); stored {outcome.stored} result "
        "instances (DICOM SEG, SR and PDF) in the PACS beside the study."
    ]


def _page_buttons(state, more: bool) -> None:
    previous, position, following = st.columns([1, 2, 1])
    if previous.button("Previous page", disabled=state.pacs_page == 0):
        state.pacs_page -= 1
        st.rerun()
    position.caption(f"Page {state.pacs_page + 1}, {PAGE_SIZE} studies a page")
    if following.button("Next page", disabled=not more):
        state.pacs_page += 1
        st.rerun()


def show_pacs_page(server: ServerChoice) -> None:
    """Draw the PACS page for the Triton server and model the sidebar chose."""
    state = st.session_state
    state.setdefault("pacs_page", 0)
    url = os.environ.get(PACS_URL_VARIABLE, DEFAULT_PACS_URL)
    st.markdown(f"**PACS:** `{url}` (DICOMweb; set with `{PACS_URL_VARIABLE}` where the app runs)")
    try:
        credentials = load_credentials()
    except PacsError:
        st.error(
            f"No PACS credentials: set {USER_VARIABLE} and {PASSWORD_VARIABLE} in the environment "
            "of `emphysema app` and start it again."
        )
        return
    st.caption(f"Signed in with the credentials from {USER_VARIABLE} / {PASSWORD_VARIABLE} (not shown).")
    try:
        listings, more = list_study_page(connect(url, credentials), state.pacs_page * PAGE_SIZE, PAGE_SIZE)
    except (EmphysemaError, ValueError) as error:
        st.error(str(error))
        return
    if not listings:
        st.info("The PACS holds no study." if state.pacs_page == 0 else "No more studies.")
    else:
        st.dataframe(study_rows(listings), hide_index=True)
        chosen = st.selectbox(
            "Study to analyse",
            range(len(listings)),
            format_func=lambda index: (
                study_name(listings[index]).removeprefix("PACS study ") or f"study {index + 1}"
            ),
            key=f"pacs_study_{state.pacs_page}",
        )
        force = st.checkbox("Analyse again even if its results are in the PACS", key="pacs_force")
        ready = can_analyse(server)
        if st.button("Analyse the study", type="primary", disabled=not ready):
            listing = listings[chosen]
            run_into_slot(SLOT, lambda: fetch_and_analyse(url, credentials, listing, server, force))
    _page_buttons(state, more)
    show_slot(SLOT)
