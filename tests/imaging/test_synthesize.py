"""`emphysema synth`: the written data set, its determinism, and reading it back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from emphysema import cli
from imaging.contract import CLASS_NAMES
from imaging.dataset import read_class_folders, read_dataset, read_manifest
from imaging.phantom import PhantomSettings, generate_slice, synthesize
from imaging.phantom.cohort import plan_cohort, slice_generator
from imaging.readers import read_scan
from imaging.splits import grouped_split

SMALL_RUN = ["--patients", "8", "--slices-per-patient", "2", "--seed", "3", "--size", "64", "--quiet"]


def run_synth(out: Path, *extra: str) -> int:
    return cli.main(["synth", "--out", str(out), *SMALL_RUN, *extra])


def manifest_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "small"
    assert run_synth(out) == 0
    return out


def test_writes_class_folders_manifest_contact_sheet_and_settings(small_dataset):
    rows = manifest_rows(small_dataset)
    assert len(rows) == 8 * 2
    assert list(rows[0]) == ["path", "label", "patient_id", "severity"]
    assert sorted(path.name for path in small_dataset.iterdir() if path.is_dir()) == sorted(CLASS_NAMES)
    for row in rows:
        assert row["path"] == f"{row['label']}/{Path(row['path']).name}"
        assert Path(row["path"]).name.startswith(f"{row['patient_id']}_s")
        assert (small_dataset / row["path"]).is_file()
        assert (row["severity"] == "") == (row["label"] == "NT")
    assert len({row["label"] for row in rows if row["patient_id"] == rows[0]["patient_id"]}) == 1
    with Image.open(small_dataset / "contact_sheet.png") as sheet:
        assert sheet.format == "PNG" and sheet.width > 500 and sheet.height > 500
    settings = json.loads((small_dataset / "synth_settings.json").read_text())
    assert settings["arguments"]["seed"] == 3 and settings["arguments"]["patients"] == 8
    assert settings["phantom"]["image_size"] == 64
    assert settings["storage"]["hounsfield_offset"] == 1024
    assert sum(sum(counts.values()) for counts in settings["patients_per_class_and_severity"].values()) == 8
    assert not list(small_dataset.parent.glob(".small.*")), "the staging folder was left behind"


def test_png_slices_hold_hu_plus_1024_and_read_back_as_the_generated_hu(small_dataset):
    row = manifest_rows(small_dataset)[5]
    path = small_dataset / row["path"]
    with Image.open(path) as image:
        assert image.mode.startswith("I;16") and image.text.get("hounsfield_offset") == "1024"
        stored = np.asarray(image).astype(np.int64)
    settings = PhantomSettings().with_image_size(64)
    plan = next(plan for plan in plan_cohort(8, 3, settings=settings) if plan.patient_id == row["patient_id"])
    slice_index = int(path.stem.split("_s")[1])
    expected = generate_slice(
        plan.label, plan.severity, plan.traits, slice_generator(3, plan.index, slice_index), settings
    )
    np.testing.assert_allclose(stored - 1024, expected, atol=0.5)
    scan = read_scan(path)
    assert scan.is_hounsfield
    np.testing.assert_allclose(scan.pixels, expected, atol=0.5)


def test_same_arguments_give_the_same_bytes_and_another_seed_different_images(small_dataset, tmp_path):
    assert run_synth(tmp_path / "again") == 0
    written = sorted(path.relative_to(small_dataset) for path in small_dataset.rglob("*") if path.is_file())
    assert written == sorted(
        path.relative_to(tmp_path / "again") for path in (tmp_path / "again").rglob("*") if path.is_file()
    )
    for relative in written:
        assert (small_dataset / relative).read_bytes() == (tmp_path / "again" / relative).read_bytes(), (
            relative
        )
    assert synthesize.main(["--out", str(tmp_path / "other"), *SMALL_RUN, "--seed", "4"]) == 0
    first = manifest_rows(small_dataset)[0]["path"]
    other_first = manifest_rows(tmp_path / "other")[0]["path"]
    assert (small_dataset / first).read_bytes() != (tmp_path / "other" / other_first).read_bytes()


def test_refuses_a_non_empty_folder_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_synth(out) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert run_synth(out, "--overwrite") == 0
    assert not (out / "keep.txt").exists() and (out / "manifest.csv").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["existing"]


def test_an_interrupted_run_leaves_no_half_written_data_set(tmp_path, monkeypatch):
    calls = []

    def failing_encode(hounsfield):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return b"\x89PNG"

    monkeypatch.setattr(synthesize, "encode_png", failing_encode)
    with pytest.raises(KeyboardInterrupt):
        run_synth(tmp_path / "interrupted")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_exit_with_a_usage_error(tmp_path, capsys):
    for bad in (
        ["--class-balance", "XX=1"],
        ["--class-balance", "NT=0"],
        ["--size", "16"],
        ["--patients", "0"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            synthesize.main(["--out", str(tmp_path / "bad"), *bad])
        assert exit_info.value.code == 2
    assert "CLASS=WEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_class_balance_sets_patients_per_class(tmp_path):
    out = tmp_path / "weighted"
    arguments = ["--out", str(out), "--patients", "6", "--slices-per-patient", "1", "--size", "64", "--quiet"]
    assert synthesize.main([*arguments, "--class-balance", "NT=2,CLE=1"]) == 0
    labels = [row["label"] for row in manifest_rows(out)]
    assert sorted(labels) == ["CLE", "CLE", "NT", "NT", "NT", "NT"]
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == ["CLE", "NT"]


def test_forty_patients_read_back_through_both_layouts_and_split_by_patient(tmp_path):
    out = tmp_path / "forty"
    arguments = [
        "--out",
        str(out),
        "--patients",
        "40",
        "--slices-per-patient",
        "2",
        "--size",
        "64",
        "--quiet",
    ]
    assert synthesize.main([*arguments, "--seed", "11"]) == 0
    from_manifest = read_manifest(out / "manifest.csv")
    from_folders = read_class_folders(out)
    assert read_dataset(out) == from_manifest
    assert len(from_manifest) == len(from_folders) == 80
    by_path = {sample.path.resolve(): sample for sample in from_manifest}
    for sample in from_folders:
        listed = by_path[sample.path.resolve()]
        assert (listed.label, listed.patient_id) == (sample.label, sample.patient_id)
    assert len({sample.patient_id for sample in from_manifest}) == 40
    for samples in (from_manifest, from_folders):
        split = grouped_split(samples, seed=1)
        parts = [
            {samples[index].patient_id for index in part}
            for part in (split.train, split.validation, split.test)
        ]
        assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert sum(map(len, parts)) == 40


def test_dicom_output_is_a_valid_ct_file_with_the_same_hu(tmp_path):
    out = tmp_path / "dicom"
    arguments = ["--out", str(out), "--patients", "4", "--slices-per-patient", "2", "--size", "64", "--quiet"]
    assert synthesize.main([*arguments, "--seed", "5", "--format", "dicom"]) == 0
    rows = manifest_rows(out)
    assert all(row["path"].endswith(".dcm") for row in rows)
    settings = PhantomSettings().with_image_size(64)
    plans = {plan.patient_id: plan for plan in plan_cohort(4, 5, settings=settings)}
    uids = set()
    for row in rows:
        path = out / row["path"]
        dataset = pydicom.dcmread(path)
        assert dataset.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert dataset.Modality == "CT" and dataset.SOPClassUID == pydicom.uid.CTImageStorage
        assert float(dataset.RescaleIntercept) == -1024 and float(dataset.RescaleSlope) == 1
        assert (
            dataset.PatientID == row["patient_id"]
            and str(dataset.PatientName) == f"SYNTHETIC^{row['patient_id']}"
        )
        assert float(dataset.PixelSpacing[0]) == pytest.approx(settings.pixel_spacing_mm, rel=1e-5)
        assert float(dataset.SliceThickness) > 0 and dataset.ConvolutionKernel
        uids.add(dataset.SOPInstanceUID)
        plan = plans[row["patient_id"]]
        slice_index = int(path.stem.split("_s")[1])
        expected = generate_slice(
            plan.label, plan.severity, plan.traits, slice_generator(5, plan.index, slice_index), settings
        )
        scan = read_scan(path)
        assert scan.is_hounsfield
        assert np.abs(scan.pixels - expected).max() <= 1.0
    assert len(uids) == len(rows)
