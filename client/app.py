"""The Streamlit web client for single slices: upload HRCT slices, see the predicted pattern and why.

`emphysema app` serves the whole web app (`web/app.py`: this page, the study page and the PACS
page); this script is the single-slice page on its own (`streamlit run client/app.py` from the
repository root). The Triton address comes from the sidebar, defaulting to $EMPHYSEMA_TRITON_URL.
"""

from __future__ import annotations

import streamlit as st

from client.server_panel import server_panel
from client.slice_page import CAPTION, TITLE, show_slice_page

st.set_page_config(page_title="Emphysema HRCT classifier", page_icon="🫁", layout="wide")
st.title(TITLE)
st.caption(CAPTION)
show_slice_page(server_panel())
