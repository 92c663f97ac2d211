"""One stray file in a class folder: it stops training with advice, or is skipped and listed on request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emphysema import cli

TRAIN = ["--model", "simple_cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "8", "--seed", "3"]


@pytest.fixture()
def with_stray_file(tiny_dataset: Path, tmp_path: Path) -> Path:
    """The tiny data set in the class-folder layout, with the notes a colleague left in CLE/."""
    folders = tmp_path / "mine"
    shutil.copytree(tiny_dataset, folders)
    (folders / "manifest.csv").unlink()
    (folders / "CLE" / "notes.txt").write_text("patient 3 was rescanned\n")
    return folders


def test_a_stray_file_stops_training_and_the_error_offers_the_flag(with_stray_file, tmp_path, capsys):
    out = tmp_path / "runs" / "stopped"
    assert cli.main(["train", "--data", str(with_stray_file), "--out", str(out), *TRAIN]) == 1
    error = capsys.readouterr().err
    assert "1 problem in the data set" in error and "CLE/notes.txt: this is a text file" in error
    assert "add --skip-unreadable" in error
    assert not out.exists()


def test_skip_unreadable_trains_on_the_rest_and_lists_what_it_skipped(with_stray_file, tmp_path, capsys):
    out = tmp_path / "runs" / "skipped"
    assert (
        cli.main(["train", "--data", str(with_stray_file), "--out", str(out), "--skip-unreadable", *TRAIN])
        == 0
    )
    printed = capsys.readouterr().out
    assert f"Skipped 1 unreadable file (all listed in {out / 'skipped.txt'}):" in printed
    assert "  - CLE/notes.txt: this is a text file" in printed
    assert (out / "skipped.txt").read_text().startswith("CLE/notes.txt: this is a text file")
    parts = json.loads((out / "split.json").read_text())["parts"]
    paths = [path for part in parts.values() for path in part["paths"]]
    assert len(paths) == 32 and not any(path.endswith(".txt") for path in paths)
    assert "CPU, 1 device" in printed and "Strategy" not in printed  # the device in words
    # The run is evaluated again later with the stray file still there: it does not concern the split.
    assert cli.main(["evaluate", "--run", str(out)]) == 0
