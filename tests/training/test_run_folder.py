"""Reading run folders once: the split, the pixel pipeline, the model, and clear errors naming the file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from imaging.classes import class_index
from imaging.readers import read_scan
from imaging.scan import to_model_input
from training.errors import TrainingError
from training.run_folder import RunError, read_run


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A writable copy of the tiny run folder (its data folder stays shared and read-only here)."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def test_training_split_is_read_with_labels_from_the_data_set(tiny_run):
    run = read_run(tiny_run)
    assert (run.architecture, run.image_size, run.evaluation_part) == ("simple_cnn", 32, "test")
    sizes = {part: len(paths) for part, paths in run.split.items()}
    assert sizes == {"train": 32, "validation": 0, "test": 16}
    samples = run.samples("test")
    assert [sample.path.relative_to(run.data_root).as_posix() for sample in samples] == run.split["test"]
    for sample in samples:
        assert sample.path.is_file() and sample.path.parent.name == sample.label  # class folder == label


def test_part_goes_through_the_shared_pixel_pipeline(tiny_run):
    run = read_run(tiny_run)
    images, labels = run.load_part("test", limit=3)
    assert images.dtype == np.uint8 and images.shape == (3, 32, 32, 1)
    for image, label, sample in zip(images, labels, run.samples("test")[:3], strict=True):
        np.testing.assert_array_equal(image, to_model_input(read_scan(sample.path), 32, run.window))
        assert label == class_index(sample.label)


def test_the_saved_model_loads_with_the_contract_signature(tiny_run):
    model = read_run(tiny_run).load_model()
    assert model.inputs[0].shape[1:] == (32, 32, 1) and model.outputs[0].shape[1:] == (4,)


@pytest.mark.parametrize("missing", ["model.keras", "settings.json", "split.json"])
def test_missing_file_is_named(run_copy, missing):
    (run_copy / missing).unlink()
    with pytest.raises(RunError, match=f"{run_copy / missing}: missing"):
        read_run(run_copy)


def test_unreadable_settings_is_named(run_copy):
    (run_copy / "settings.json").write_text("{not json")
    with pytest.raises(TrainingError, match="settings.json: cannot read training settings"):
        read_run(run_copy)


def test_corrupt_model_is_named(run_copy):
    (run_copy / "model.keras").write_bytes(b"not a keras archive")
    with pytest.raises(RunError, match=r"model\.keras: cannot load the model"):
        read_run(run_copy).load_model()


def test_scan_outside_the_data_set_is_named(run_copy):
    document = json.loads((run_copy / "split.json").read_text())
    document["parts"]["test"]["paths"].append("CLE/not_there.png")
    (run_copy / "split.json").write_text(json.dumps(document))
    with pytest.raises(RunError, match=r"1 of 17 test scans are not in the data set.*CLE/not_there.png"):
        read_run(run_copy).load_part("test")


def test_moved_data_folder_is_reported_before_any_work(run_copy, tmp_path):
    run = read_run(run_copy, data=tmp_path / "moved")
    with pytest.raises(RunError, match=r"moved: data folder not found; pass --data"):
        run.load_part("test")
