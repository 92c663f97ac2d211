"""The sidebar every page of the web app shares: which Triton, which model, and whether both are ready.

It is drawn once per run (by the page script, or by the multipage app's entry script so that the
address and the model survive a change of page) and returns a :class:`ServerChoice` holding plain
values only; a page gets its gRPC client from :func:`connect`, which keeps one per address.
"""

from __future__ import annotations

import dataclasses
import os

import streamlit as st

from client import views
from client.contract import ModelInfo
from client.triton import TritonClassifier, TritonSettings

URL_VARIABLE = "EMPHYSEMA_TRITON_URL"
URL_KEY = "triton_url"
CHOICE_KEY = "server"  # this run's choice, for page scripts run after the panel (multipage app)
# Short deadlines: a frozen server must turn into a banner quickly, not a hung page.
APP_TIMEOUT_SECONDS = 5.0
APP_RETRIES = 1


@dataclasses.dataclass(frozen=True)
class ServerChoice:
    """What the sidebar decided on this run.

    Attributes:
        url: the Triton gRPC address typed in the sidebar.
        url_valid: whether that address is a usable ``host:port``.
        ready: whether Triton answered ready on this run.
        info: the chosen model, checked against the contract; None while none is usable.
    """

    url: str
    url_valid: bool
    ready: bool
    info: ModelInfo | None

    @property
    def unreachable(self) -> bool:
        """A valid address whose server does not answer: the pages show their banner."""
        return self.url_valid and not self.ready


@st.cache_resource(show_spinner=False, max_entries=4)
def connect(url: str) -> TritonClassifier:
    """One gRPC client per server address, shared by sessions (cleared when the server is down)."""
    return TritonClassifier(TritonSettings(url=url, timeout_seconds=APP_TIMEOUT_SECONDS, retries=APP_RETRIES))


def classifier_for(choice: ServerChoice) -> TritonClassifier | None:
    """The client of a ready server, else None (never a client to a server that is down)."""
    return connect(choice.url) if choice.ready else None


def current_server() -> ServerChoice:
    """The choice :func:`server_panel` made on this run (a page script of the multipage app asks)."""
    return st.session_state[CHOICE_KEY]


def server_panel() -> ServerChoice:
    """Draw the sidebar (address, server status, model); remember and return what it chose."""
    choice = _draw_panel()
    st.session_state[CHOICE_KEY] = choice
    return choice


def _draw_panel() -> ServerChoice:
    st.sidebar.header("Classification server")
    # The address is kept under its own key and passed as the widget's value (the widget has no
    # key): a keyed widget initialised from the session state comes back empty after a change of
    # page in the browser.
    state = st.session_state
    state.setdefault(URL_KEY, os.environ.get(URL_VARIABLE, TritonSettings().url))
    url = st.sidebar.text_input("Triton gRPC address (host:port)", state[URL_KEY]).strip()
    state[URL_KEY] = url
    try:
        classifier = connect(url)
    except ValueError as error:
        st.sidebar.error(str(error))
        return ServerChoice(url, url_valid=False, ready=False, info=None)
    if views.server_status(classifier):
        return ServerChoice(url, True, True, views.model_picker(classifier, TritonSettings().model))
    connect.clear()  # never keep a client to a dead server: the next run starts a fresh channel
    st.sidebar.button("Check the server again")
    return ServerChoice(url, url_valid=True, ready=False, info=None)
