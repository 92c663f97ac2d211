"""The PACS page of the web app (run by `web/app.py`'s navigation, after the sidebar)."""

from client.server_panel import current_server
from web.pacs_page import show_pacs_page

show_pacs_page(current_server())
