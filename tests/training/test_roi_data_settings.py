"""Training on an ROI data set carries its field of view and density reference into the run's settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emphysema import cli
from training.arguments import settings_from_arguments
from training.train import build_parser

FAST = ["--architecture", "simple_cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "8"]


@pytest.fixture
def roi_dataset(tiny_dataset: Path, tmp_path: Path) -> Path:
    """The tiny data set with the settings file `emphysema roi-dataset` writes beside its ROIs."""
    data = tmp_path / "rois"
    shutil.copytree(tiny_dataset, data)
    (data / "roi_dataset_settings.json").write_text(
        json.dumps({"field_of_view_mm": 40.0, "density_reference_hu": -815.0, "settings": {}})
    )
    return data


def settings_for(data: Path, *extra: str):
    return settings_from_arguments(
        build_parser().parse_args(["--data", str(data), "--out", "x", *FAST, *extra])
    )


@pytest.mark.slow
def test_a_run_on_an_roi_data_set_records_its_field_of_view_and_density_reference(roi_dataset, tmp_path):
    assert cli.main(["train", "--data", str(roi_dataset), *FAST, "--out", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert (saved["field_of_view_mm"], saved["density_reference_hu"]) == (40.0, -815.0)


def test_rois_of_raw_hu_give_a_region_run_without_a_reference(roi_dataset):
    (roi_dataset / "roi_dataset_settings.json").write_text(
        '{"field_of_view_mm": 40, "density_reference_hu": null}'
    )
    settings = settings_for(roi_dataset)
    assert (settings.field_of_view_mm, settings.density_reference_hu) == (40.0, None)


def test_whole_slices_give_a_slice_level_run(tiny_dataset, trained_run):
    settings = settings_for(tiny_dataset)
    assert settings.field_of_view_mm is None and settings.density_reference_hu is None
    assert json.loads((trained_run / "settings.json").read_text())["field_of_view_mm"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read field_of_view_mm"),
        ('{"field_of_view_mm": -5}', "not a positive size"),
        ('{"field_of_view_mm": 40, "density_reference_hu": "dark"}', "cannot read field_of_view_mm"),
    ],
)
def test_a_broken_roi_settings_file_is_refused_before_training(
    roi_dataset, tmp_path, capsys, content, message
):
    (roi_dataset / "roi_dataset_settings.json").write_text(content)
    status = cli.main(["train", "--data", str(roi_dataset), *FAST, "--out", str(tmp_path / "run")])
    assert status == 1 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
