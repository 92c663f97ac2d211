"""The web app `emphysema app` serves: single slices, whole studies, and studies from a PACS.

The sidebar (which Triton, which model) is drawn here, once per run, so it is shared by every
page and survives a change of page; the pages are the scripts in `web/pages/`, each a thin call
into the module that draws it.
"""

from __future__ import annotations

import streamlit as st

from client.server_panel import server_panel
from client.slice_page import CAPTION, TITLE

st.set_page_config(page_title="Emphysema HRCT classifier", page_icon="🫁", layout="wide")
server_panel()  # the page scripts read its choice with client.server_panel.current_server()
pages = st.navigation(
    [
        st.Page("pages/slices.py", title="Single slices", icon=":material/image:", default=True),
        st.Page("pages/study.py", title="Study", icon=":material/view_in_ar:"),
        st.Page("pages/pacs.py", title="PACS", icon=":material/dns:"),
    ]
)
st.title(TITLE)
st.caption(CAPTION)
pages.run()
