"""Where the PACS credentials come from, and that the password never shows."""

from __future__ import annotations

import pytest

from pacs.credentials import Credentials, load_credentials
from pacs.errors import PacsError

SECRET = "velvet-anchor-93"


@pytest.fixture(autouse=True)
def no_credentials_in_environment(monkeypatch):
    monkeypatch.delenv("EMPHYSEMA_PACS_USER", raising=False)
    monkeypatch.delenv("EMPHYSEMA_PACS_PASSWORD", raising=False)


def _private_file(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "pacs.credentials"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_environment_wins_over_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", "from-env")
    monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", SECRET)
    credentials = load_credentials(_private_file(tmp_path, "from-file:other"))
    assert (credentials.user, credentials.password) == ("from-env", SECRET)


def test_a_private_file_is_read(tmp_path):
    credentials = load_credentials(_private_file(tmp_path, f"reader:{SECRET}:with-colon\n"))
    assert (credentials.user, credentials.password) == ("reader", f"{SECRET}:with-colon")


def test_the_password_is_not_in_the_repr():
    assert SECRET not in repr(Credentials("reader", SECRET))


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        (f"reader:{SECRET}", 0o644, "chmod 600"),
        (SECRET, 0o600, "one line `user:password`"),
        ("reader:", 0o600, "password non-empty"),
    ],
    ids=["readable-by-others", "no-colon", "empty-password"],
)
def test_a_bad_file_is_a_clear_error(tmp_path, text, mode, message):
    with pytest.raises(PacsError, match=message) as caught:
        load_credentials(_private_file(tmp_path, text, mode))
    assert SECRET not in str(caught.value)


def test_only_half_the_environment_is_an_error(monkeypatch):
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", "reader")
    with pytest.raises(PacsError, match="EMPHYSEMA_PACS_PASSWORD"):
        load_credentials()


def test_no_credentials_at_all_is_an_error():
    with pytest.raises(PacsError, match="EMPHYSEMA_PACS_USER and EMPHYSEMA_PACS_PASSWORD"):
        load_credentials()
