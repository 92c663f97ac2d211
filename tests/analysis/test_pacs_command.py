"""`analyze`'s command line for a PACS study: half-given or mixed options are usage errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emphysema.cli import main as cli_main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dicomweb", "http://127.0.0.1:1/dicom-web"], "--dicomweb needs --study UID"),
        (["--study", "1.2.3"], "need --dicomweb URL"),
        (["--force", "somewhere"], "need --dicomweb URL"),
        (["somewhere", "--dicomweb", "http://127.0.0.1:1/dicom-web", "--study", "1.2.3"], "not both"),
        (["somewhere"], "--out DIR is required"),
        ([], "give STUDY paths, or --dicomweb URL --study UID"),
        (
            ["--dicomweb", "http://127.0.0.1:1/dicom-web", "--study", "1.2.3", "--pacs-timeout", "0"],
            "--pacs-timeout",
        ),
    ],
)
def test_an_incomplete_or_mixed_command_line_is_a_usage_error(arguments, message, capsys):
    assert cli_main(["analyze", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_local_analysis_needs_no_dicomweb_client_and_a_pacs_study_says_what_is_missing():
    """Without the `pacs` extra, analyze still reads local studies, and --dicomweb names the extra."""
    script = (
        "import sys; sys.modules['dicomweb_client'] = None\n"
        "import analysis.command\n"
        "assert 'pacs.dicomweb' not in sys.modules\n"
        "from emphysema.cli import main\n"
        "sys.exit(main(['analyze', '--dicomweb', 'http://127.0.0.1:1/dicom-web', '--study', '1.2.3']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "needs the `pacs` extra (dicomweb_client is missing)" in done.stderr
