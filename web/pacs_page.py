"""The PACS page: list the studies of a DICOMweb PACS (QIDO-RS, paged), analyse one, show the result.

The PACS address and credentials are set where the app runs, never on the page:
``EMPHYSEMA_PACS_URL`` (default Orthanc on this machine) and ``EMPHYSEMA_PACS_USER`` /
``EMPHYSEMA_PACS_PASSWORD`` (as `pacs.credentials` reads them). A visitor can therefore neither
read the password nor send it to another server. The list shows no patient name, id or birth
date (`pacs.study_list` says what it shows and why).
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from client.server_panel import ServerChoice
from imaging.errors import EmphysemaError
from pacs.credentials import PASSWORD_VARIABLE, USER_VARIABLE, Credentials, load_credentials
from pacs.dicomweb import connect, fetch_series, list_series
from pacs.errors import PacsError
from pacs.study_list import StudyListing, list_study_page
from web.analysis_panel import analyse_with_progress, can_analyse, run_into_slot, show_slot
from web.study_run import private_workspace

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


def fetch_and_analyse(url: str, credentials: Credentials, listing: StudyListing, server: ServerChoice):
    """Fetch the study's CT series (WADO-RS) into a private folder and analyse it."""
    client = connect(url, credentials)
    series = [uid for uid, modality in list_series(client, listing.study_uid) if modality == "CT"]
    if not series:
        raise PacsError("the study holds no CT series")
    if len(series) > 1:
        raise PacsError(f"the study holds {len(series)} CT series; the page analyses studies with one")
    with private_workspace() as workspace:
        folder = workspace / "pacs-series"
        with st.spinner("Fetching the series from the PACS..."):
            count = fetch_series(client, listing.study_uid, series[0], folder)
        result = analyse_with_progress(folder, workspace, study_name(listing), server)
    return result, [f"{count} images fetched from the PACS."]


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
        ready = can_analyse(server)
        if st.button("Analyse the study", type="primary", disabled=not ready):
            listing = listings[chosen]
            run_into_slot(SLOT, lambda: fetch_and_analyse(url, credentials, listing, server))
    _page_buttons(state, more)
    show_slot(SLOT)
