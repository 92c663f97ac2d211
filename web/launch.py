"""`emphysema app`: serve the whole web app (`web/app.py`) with the client's launcher and safe settings.

The launcher (options, the embedded Triton with --serve, Streamlit's settings) is
`client.launch`; this layer only says which script to serve, so the client never refers upward.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from client import launch

WEB_APP = Path(__file__).resolve().with_name("app.py")


def build_parser():
    """The command line of `emphysema app` (the client launcher's)."""
    return launch.build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema app` on the whole web app until interrupted."""
    return launch.main(argv, script=WEB_APP)
