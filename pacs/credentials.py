"""The PACS user name and password: from the environment or a private file, never shown.

`EMPHYSEMA_PACS_USER` and `EMPHYSEMA_PACS_PASSWORD` win; otherwise a file holding one line
`user:password` that only its owner may read (mode 0600, checked). The password never appears in
a repr, a message or a log.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from pacs.errors import PacsError

USER_VARIABLE = "EMPHYSEMA_PACS_USER"
PASSWORD_VARIABLE = "EMPHYSEMA_PACS_PASSWORD"
HOW_TO = (
    f"set {USER_VARIABLE} and {PASSWORD_VARIABLE}, or pass --credentials FILE "
    "(one line `user:password`, mode 0600)"
)


@dataclasses.dataclass(frozen=True)
class Credentials:
    """HTTP Basic credentials for Orthanc."""

    user: str
    password: str = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if not self.user or ":" in self.user or not self.password:
            raise PacsError(
                f"the PACS user must be non-empty without ':' and the password non-empty; {HOW_TO}"
            )


def add_credentials_option(parser) -> None:
    """Add ``--credentials FILE`` to an argparse parser (or argument group), the same in every command."""
    parser.add_argument(
        "--credentials",
        type=Path,
        help=f"file with one line `user:password`, mode 0600 (default: {USER_VARIABLE} and "
        f"{PASSWORD_VARIABLE} from the environment)",
    )


def read_credentials_file(path: Path) -> Credentials:
    """Read `user:password` from a file only its owner can read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise PacsError(f"cannot read the credentials file {path}: {error.strerror or error}") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PacsError(f"the credentials file {path} is readable by others; run `chmod 600 {path}`")
    user, separator, password = path.read_text(encoding="utf-8").strip().partition(":")
    if not separator:
        raise PacsError(f"the credentials file {path} must hold one line `user:password`")
    return Credentials(user, password)


def load_credentials(path: Path | None = None) -> Credentials:
    """Return the credentials from the environment, else from `path`; raise if neither is given."""
    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    if user or password:
        return Credentials(user or "", password or "")
    if path is not None:
        return read_credentials_file(path)
    raise PacsError(f"no PACS credentials: {HOW_TO}")
