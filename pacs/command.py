"""`emphysema pacs`: run a private Orthanc PACS with DICOMweb on loopback until stopped.

Credentials come from EMPHYSEMA_PACS_USER and EMPHYSEMA_PACS_PASSWORD, or --credentials FILE
(one line `user:password`, mode 0600); they are never printed. Ctrl-C, SIGTERM or SIGHUP stop it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from emphysema.lifetime import stop_on_signals
from imaging.errors import UsageError
from pacs.credentials import add_credentials_option, load_credentials
from pacs.errors import PacsError
from pacs.orthanc import log_tail, running_orthanc
from pacs.settings import PacsSettings

SETTINGS_NAME = "pacs_settings.json"


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema pacs`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema pacs", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--storage",
        type=Path,
        default=Path("pacs-storage"),
        help="private folder for Orthanc's database, DICOM files and log (default ./pacs-storage)",
    )
    parser.add_argument("--http-port", type=int, default=8042, help="HTTP/DICOMweb port (default 8042)")
    add_credentials_option(parser)
    parser.add_argument(
        "--stable-age",
        type=int,
        default=PacsSettings.stable_age_s,
        help="seconds without a new instance before a study counts as complete, when "
        "`emphysema watch` analyses it (default %(default)s)",
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=30.0, help="seconds to wait for Orthanc to answer (default 30)"
    )
    return parser


def save_settings(settings: PacsSettings) -> None:
    """Write the resolved settings beside the data they describe (no credentials in them)."""
    record = {key: str(value) for key, value in dataclasses.asdict(settings).items()}
    (settings.storage / SETTINGS_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema pacs`` until a stop signal; 0 after a clean stop."""
    arguments = build_parser().parse_args(argv)
    try:
        settings = PacsSettings(
            storage=arguments.storage.resolve(),
            http_port=arguments.http_port,
            stable_age_s=arguments.stable_age,
            ready_timeout_s=arguments.ready_timeout,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    credentials = load_credentials(arguments.credentials)
    with stop_on_signals():
        try:
            with running_orthanc(settings, credentials) as process:
                save_settings(settings)
                print(f"PACS storage: {settings.storage}")
                print(f"DICOMweb URL: {settings.dicomweb_url}")
                print("Press Ctrl-C to stop.", flush=True)
                process.wait()
                raise PacsError(
                    f"Orthanc stopped by itself (status {process.returncode}):\n{log_tail(settings)}"
                )
        except KeyboardInterrupt as stop:
            print(f"Stopping the PACS ({stop or 'SIGINT'})...", file=sys.stderr, flush=True)
            return 0
