"""Advice that works: what `train` and `compare` print for a too-small data set, followed to the letter.

A data set of 2 patients per class cannot fill a train, a validation and a test part. The error
names flags; each one, added to the same command line, must then run to the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emphysema import cli

FAST = ["--architecture", "simple_cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "8"]
ADVICE = re.compile(r"^  - or pass (--[a-z-]+ \S+(?: --[a-z-]+ \S+)*)", re.MULTILINE)


def advice_printed(capsys: pytest.CaptureFixture, status: int) -> list[list[str]]:
    """The flag sets offered in the error just printed (the command must have been refused with 1)."""
    error = capsys.readouterr().err
    assert status == 1, error
    assert "needs at least" in error and "add patients" in error
    return [piece.split() for piece in ADVICE.findall(error)]


@pytest.mark.slow
def test_every_piece_of_train_advice_trains(two_patients_per_class: Path, tmp_path: Path, capsys):
    command = ["train", "--data", str(two_patients_per_class), *FAST]
    status = cli.main([*command, "--out", str(tmp_path / "refused")])
    advice = advice_printed(capsys, status)
    assert ["--test-fraction", "0"] in advice and ["--validation-fraction", "0"] in advice
    assert not (tmp_path / "refused").exists()
    for number, flags in enumerate(advice):
        out = tmp_path / f"followed_{number}"
        assert cli.main([*command, "--out", str(out), *flags]) == 0, flags
        output = capsys.readouterr().out
        metrics = json.loads((out / "metrics.json").read_text())
        assert (out / "model.keras").is_file() and metrics["count"] > 0
        if flags == ["--test-fraction", "0"]:  # no test split: validation is evaluated, and said so
            assert metrics["run"]["evaluated_on"] == "validation"
            assert "validation accuracy" in output and "no test split" in output
            assert "No test split" in (out / "report.md").read_text()
        if flags == ["--validation-fraction", "0"]:
            assert metrics["run"]["evaluated_on"] == "test"
            assert "the best epoch is chosen on the training" in output


@pytest.mark.slow
def test_quiet_training_draws_no_progress_bar(two_patients_per_class: Path, tmp_path: Path, capsys):
    command = ["train", "--data", str(two_patients_per_class), *FAST, "--test-fraction", "0"]
    assert cli.main([*command, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert "Reading images" not in capsys.readouterr().err
    assert cli.main([*command, "--out", str(tmp_path / "shown")]) == 0
    assert "Reading images" in capsys.readouterr().err


@pytest.mark.slow
def test_every_piece_of_compare_advice_compares(two_patients_per_class: Path, tmp_path: Path, capsys):
    command = ["compare", "--data", str(two_patients_per_class), *FAST[2:], "--architectures", "simple_cnn"]
    status = cli.main([*command, "--folds", "3", "--out", str(tmp_path / "refused")])
    advice = advice_printed(capsys, status)
    assert ["--folds", "2", "--validation-fraction", "0"] in advice
    for number, flags in enumerate(advice):
        out = tmp_path / f"followed_{number}"
        assert cli.main([*command, "--folds", "3", "--out", str(out), *flags]) == 0, flags
        assert (out / "comparison.json").is_file()


def test_mistakes_are_refused_before_tensorflow_loads(two_patients_per_class: Path, tmp_path: Path):
    """A wrong path, an existing run folder or too few patients: answered without TensorFlow."""
    existing = tmp_path / "existing"
    (existing / "model.keras").parent.mkdir()
    (existing / "model.keras").write_text("a finished run")
    small = str(two_patients_per_class)
    cases = {
        "no such data set folder (check --data)": [
            "--data",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "a"),
        ],
        "run folder already exists": ["--data", small, "--out", str(existing)],
        "needs at least 3 patients per class": ["--data", small, "--out", str(tmp_path / "b")],
        "no such weights file": [
            "--data",
            small,
            "--weights",
            str(tmp_path / "w.h5"),
            "--out",
            str(tmp_path / "c"),
        ],
    }
    for message, arguments in cases.items():
        script = (
            "import sys; from emphysema import cli; status = cli.main(['train', *sys.argv[1:]]); "
            "sys.exit(10 + status if 'tensorflow' in sys.modules else status)"
        )
        finished = subprocess.run(
            [sys.executable, "-c", script, *arguments], capture_output=True, text=True, timeout=60
        )
        assert finished.returncode in (1, 2), (message, finished.returncode, finished.stderr)
        assert message in finished.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert (existing / "model.keras").read_text() == "a finished run"
