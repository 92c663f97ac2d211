"""`emphysema roi-dataset`: ROIs cut at a size in mm, labelled from the study's pattern map."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from analysis.density_reference import density_shift_hu, shift_hounsfield
from analysis.roi_dataset import main
from analysis.settings import DEFAULT_DENSITY_REFERENCE_HU
from analysis.tiles import resample_hounsfield
from emphysema.cli import main as cli_main
from imaging.contract import CLASS_NAMES
from imaging.dataset import read_dataset
from study.lungs import segment_lungs
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from study.reader import read_study


def _rows(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_rois_are_labelled_from_the_pattern_map_as_regions_are_drawn(studies, tmp_path):
    out = tmp_path / "rois"
    assert main([str(studies["mixed"].parent), "--out", str(out), "--roi-mm", "30", "--quiet"]) == 0

    samples = read_dataset(out, require_all_classes=False)
    rois = _rows(out / "rois.csv")
    assert len(samples) == len(rois) > 20
    labels = {sample.label for sample in samples}
    # Severe studies give ROIs of every pattern they hold, not only the normal lung between lesions.
    assert {"NT", "PSE", "PLE"} <= labels, labels
    # The patient is the one truth.json names (the phantom's PatientID), not the folder.
    assert {sample.patient_id for sample in samples} == {
        json.loads((studies[name] / "truth.json").read_text(encoding="utf-8"))["patient_id"]
        for name in ("mixed", "panlobular")
    }
    assert {sample.severity for sample in samples} == {"severe"}
    by_path = {sample.path.relative_to(out).as_posix(): sample for sample in samples}
    for study in ("mixed", "panlobular"):
        pattern = np.load(studies[study] / "labels.npz")["pattern"]
        volume = read_study(studies[study] / "dicom")
        # Each study is moved to the default density reference before it is cut, as analyze moves it.
        shift = density_shift_hu(
            volume.hounsfield, segment_lungs(volume).labels, DEFAULT_DENSITY_REFERENCE_HU
        )
        hounsfield = shift_hounsfield(volume.hounsfield, shift)
        spacing = volume.spacing_mm[1]
        for roi in (row for row in rois if row["study"] == study):
            assert int(roi["density_shift_hu"]) == shift
            index, top, left, side = (int(roi[key]) for key in ("slice", "top", "left", "side_px"))
            assert side == round(30 / spacing)
            window = pattern[index, max(top, 0) : top + side, max(left, 0) : left + side]
            counts = np.bincount(window.ravel(), minlength=5)
            assert counts[1:].sum() >= 0.75 * side * side
            emphysema_share = counts[2:].sum() / counts[1:].sum()
            label = by_path[roi["path"]].label
            if label == "NT":
                assert emphysema_share <= 0.02
            else:
                assert emphysema_share >= 0.10
                assert label == CLASS_NAMES[1 + int(np.argmax(counts[2:]))]
                assert counts[2:].max() >= 0.6 * counts[2:].sum()
            stored = np.asarray(Image.open(out / roi["path"]), dtype=np.int32) - 1024
            native = hounsfield[index, top : top + side, left : left + side]
            assert stored.shape == (64, 64)
            assert np.array_equal(stored, np.rint(resample_hounsfield(native, 64)))
            # Resampling keeps the ROI's attenuation: the mean HU moves by a few HU at most.
            assert abs(stored.mean() - native.mean()) < 10
    settings = json.loads((out / "roi_dataset_settings.json").read_text(encoding="utf-8"))
    assert (settings["field_of_view_mm"], settings["density_reference_hu"]) == (30.0, -815.0)


def test_rois_of_raw_hu_when_asked(studies, tmp_path):
    out = tmp_path / "rois"
    arguments = [str(studies["panlobular"]), "--out", str(out), "--roi-mm", "30", "--quiet"]
    assert main([*arguments, "--density-reference-hu", "none"]) == 0
    roi = _rows(out / "rois.csv")[0]
    index, top, left, side = (int(roi[key]) for key in ("slice", "top", "left", "side_px"))
    native = read_study(studies["panlobular"] / "dicom").hounsfield[
        index, top : top + side, left : left + side
    ]
    stored = np.asarray(Image.open(out / roi["path"]), dtype=np.int32) - 1024
    assert roi["density_shift_hu"] == "" and np.array_equal(stored, np.rint(resample_hounsfield(native, 64)))
    settings = json.loads((out / "roi_dataset_settings.json").read_text(encoding="utf-8"))
    assert settings["density_reference_hu"] is None


def test_two_reconstructions_of_one_patient_are_one_patient(tmp_path):
    for kernel in ("STANDARD", "BONE"):
        write_study(
            tmp_path / "studies" / kernel, "PSE", "severe", 31, settings_for_size("small"), False, kernel
        )
    out = tmp_path / "rois"
    assert main([str(tmp_path / "studies"), "--out", str(out), "--roi-mm", "30", "--quiet"]) == 0
    rois = _rows(out / "rois.csv")
    assert {row["study"] for row in rois} == {"STANDARD", "BONE"}
    # One patient id for both, so a patient-grouped split never puts one kernel in training and the
    # other in validation.
    assert len({sample.patient_id for sample in read_dataset(out, require_all_classes=False)}) == 1


def test_a_folder_without_pattern_maps_is_refused_and_nothing_written(tmp_path, capsys):
    (tmp_path / "series").mkdir()
    out = tmp_path / "rois"
    assert cli_main(["roi-dataset", str(tmp_path / "series"), "--out", str(out)]) == 1
    assert "not a study with a pattern map (labels.npz, labels.nii.gz" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "option",
    [["--roi-mm", "0"], ["--slice-step", "0"], ["--roi-pixels", "16"], ["--density-reference-hu", "-100"]],
)
def test_impossible_settings_are_usage_errors(studies, tmp_path, option):
    assert cli_main(["roi-dataset", str(studies["mixed"]), "--out", str(tmp_path / "rois"), *option]) == 2
