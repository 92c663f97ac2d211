"""Reading run folders: the split formats, the pixel pipeline, and clear errors naming the file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from export.run_folder import load_part, read_run
from export.settings import ExportError
from imaging.classes import class_index
from imaging.readers import read_scan
from imaging.scan import to_model_input


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A writable copy of the tiny run folder (its data folder stays shared and read-only here)."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def test_training_split_is_read_with_labels_from_the_data_set(tiny_run):
    run = read_run(tiny_run)
    assert (run.architecture, run.image_size, run.evaluation_part) == ("simple_cnn", 32, "test")
    assert {part: len(entries) for part, entries in run.split.items()} == {
        "train": 32,
        "validation": 0,
        "test": 16,
    }
    for path, label in run.split["test"]:
        assert path.is_file() and path.parent.name == label  # class folder == label from the manifest


def test_part_goes_through_the_shared_pixel_pipeline(tiny_run):
    run = read_run(tiny_run)
    images, labels = load_part(run, "test", limit=3)
    assert images.dtype == np.uint8 and images.shape == (3, 32, 32, 1)
    for image, label, (path, name) in zip(images, labels, run.split["test"][:3], strict=True):
        np.testing.assert_array_equal(image, to_model_input(read_scan(path), 32, run.window))
        assert label == class_index(name)


def test_labelled_records_split_is_accepted(run_copy, tiny_run):
    run = read_run(tiny_run)
    records = {
        part: [{"path": str(path), "label": label} for path, label in entries]
        for part, entries in run.split.items()
    }
    (run_copy / "split.json").write_text(json.dumps(records))
    assert read_run(run_copy).split == run.split


@pytest.mark.parametrize("missing", ["model.keras", "settings.json", "split.json"])
def test_missing_file_is_named(run_copy, missing):
    (run_copy / missing).unlink()
    with pytest.raises(ExportError, match=f"{run_copy / missing}: missing"):
        read_run(run_copy)


def test_unreadable_settings_is_named(run_copy):
    (run_copy / "settings.json").write_text("{not json")
    with pytest.raises(ExportError, match="settings.json: not readable JSON"):
        read_run(run_copy)


def test_scan_outside_the_data_set_is_named(run_copy):
    document = json.loads((run_copy / "split.json").read_text())
    document["parts"]["test"]["paths"].append("CLE/not_there.png")
    (run_copy / "split.json").write_text(json.dumps(document))
    with pytest.raises(ExportError, match="not_there.png is not in the data set"):
        read_run(run_copy)


def test_moved_scans_are_reported_before_any_work(run_copy, tmp_path):
    records = {"test": [{"path": str(tmp_path / "gone.png"), "label": "NT"}], "train": []}
    (run_copy / "split.json").write_text(json.dumps(records))
    with pytest.raises(ExportError, match=r"1 test scan\(s\) not found, e.g. .*gone.png"):
        load_part(read_run(run_copy), "test")
