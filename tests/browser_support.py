"""What the browser tests share: Debian's Chromium, its headless flags, and a served app."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.launch import AppSettings, start_app, stop_app, wait_until_serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (make install adds it)"
)


@contextlib.contextmanager
def serving(settings: AppSettings) -> Iterator[AppSettings]:
    """Start the app of ``settings`` (the real Streamlit process), yield once it serves, stop it."""
    process = start_app(settings)
    try:
        wait_until_serving(settings, process)
        yield settings
    finally:
        stop_app(process)
