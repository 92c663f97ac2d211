"""The study page of the web app (run by `web/app.py`'s navigation, after the sidebar)."""

from client.server_panel import current_server
from web.study_page import show_study_page

show_study_page(current_server())
