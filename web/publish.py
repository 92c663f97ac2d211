"""`emphysema publish`: publish the whole web app (`web/app.py`) through the client's authenticated tunnel."""

from __future__ import annotations

from collections.abc import Sequence

from client import publish
from web.launch import WEB_APP


def build_parser():
    """The command line of `emphysema publish` (the client's)."""
    return publish.build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema publish` on the whole web app until interrupted."""
    return publish.main(argv, script=WEB_APP)
