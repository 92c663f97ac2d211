"""The single-slice page of the web app (run by `web/app.py`'s navigation, after the sidebar)."""

from client.server_panel import current_server
from client.slice_page import show_slice_page

show_slice_page(current_server())
