"""Data set layouts: class folders and manifest, problems reported together, images loaded."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from imaging.contract import CLASS_NAMES
from imaging.dataset import (
    DatasetError,
    Sample,
    labels_to_indices,
    load_images,
    read_class_folders,
    read_dataset,
    read_manifest,
    summarize,
)
from imaging.hounsfield import LungWindow, hounsfield_window
from imaging.samples import MAXIMUM_LISTED_PROBLEMS

# A distinct HU level per class, so a loaded image shows which file it came from.
CLASS_HOUNSFIELD = {"NT": -850, "CLE": -900, "PSE": -950, "PLE": -1000}


def hu_png(hounsfield: int) -> np.ndarray:
    return np.full((32, 32), hounsfield + 1024, dtype=np.uint16)


@pytest.fixture()
def class_tree(tmp_path, write_image) -> Path:
    """root/CLASS/P_sN.png for two classes, root/CLASS/PATIENT/FILE for the other two."""
    root = tmp_path / "folders"
    for label in CLASS_NAMES:
        for patient in range(2):
            for slice_number in range(2):
                if label in ("NT", "CLE"):
                    name = f"{label.lower()}{patient}_s{slice_number}.png"
                else:
                    name = f"{label}-patient{patient}/slice{slice_number}.png"
                write_image(f"folders/{label}/{name}", hu_png(CLASS_HOUNSFIELD[label]))
    return root


def write_manifest(root: Path, lines: list[str]) -> Path:
    path = root / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_class_folders_give_labels_and_patients(class_tree):
    samples = read_dataset(class_tree)
    assert len(samples) == 16
    assert [sample.label for sample in samples] == [label for label in CLASS_NAMES for _ in range(4)]
    by_label = {label: sorted({s.patient_id for s in samples if s.label == label}) for label in CLASS_NAMES}
    assert by_label["NT"] == ["nt0", "nt1"]  # text before the first "_"
    assert by_label["PSE"] == ["PSE-patient0", "PSE-patient1"]  # the sub-folder name
    assert all(sample.severity is None and sample.path.is_file() for sample in samples)


def test_class_folder_names_are_case_insensitive_and_stem_without_underscore_is_the_patient(
    tmp_path, write_image
):
    for label in CLASS_NAMES:
        write_image(f"root/{label.lower()}/scan{label}.png", hu_png(-900))
    samples = read_class_folders(tmp_path / "root")
    assert sorted(sample.label for sample in samples) == sorted(CLASS_NAMES)
    assert {sample.patient_id for sample in samples} == {f"scan{label}" for label in CLASS_NAMES}


def test_hidden_files_and_root_files_are_ignored(class_tree, write_image):
    (class_tree / "NT" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (class_tree / "contact_sheet.txt").write_text("not part of the data")
    assert len(read_dataset(class_tree)) == 16


def test_manifest_layout_with_case_insensitive_labels_and_severity(tmp_path, write_image):
    root = tmp_path / "manifest_set"
    lines = ["path,label,patient_id,severity"]
    for index, label in enumerate(CLASS_NAMES):
        relative = f"images/{index}.png"
        write_image(f"manifest_set/{relative}", hu_png(CLASS_HOUNSFIELD[label]))
        lines.append(f"{relative},{label.lower()},p{index},{'Mild' if index else ''}")
    write_manifest(root, lines)
    samples = read_dataset(root)
    assert [sample.label for sample in samples] == list(CLASS_NAMES)
    assert samples[0].severity is None and samples[1].severity == "mild"
    assert samples[2] == Sample(root / "images/2.png", "PSE", "p2", "mild")


def test_manifest_wins_over_class_folders(class_tree):
    write_manifest(
        class_tree,
        ["path,label,patient_id"] + [f"{label}/{label.lower()}0_s0.png,{label},x" for label in ("NT", "CLE")],
    )
    samples = read_dataset(class_tree, require_all_classes=False)
    assert [sample.label for sample in samples] == ["NT", "CLE"]


def test_manifest_problems_are_reported_together(tmp_path, write_image):
    root = tmp_path / "bad"
    write_image("bad/good.png", hu_png(-900))
    (root / "empty.png").touch()
    (root / "notes.dcm").write_text("not a scan")
    write_manifest(
        root,
        [
            "path,label,patient_id,severity",
            "good.png,NT,p1,",
            "good.png,NT,p1,",
            "weird.png,XYZ,p2,",
            "missing.png,CLE,p3,",
            "empty.png,PSE,p4,",
            "notes.dcm,PSE,p5,very bad",
            "good.png,CLE,,",
        ],
    )
    with pytest.raises(DatasetError) as caught:
        read_dataset(root)
    message = str(caught.value)
    for expected in (
        "line 3 (good.png): listed twice",
        "unknown label 'XYZ'",
        "line 5 (missing.png): no such file",  # a missing file gets its line, like a bad label
        "line 6 (empty.png): the file is empty",
        "line 7 (notes.dcm): this is a text file",
        "unknown severity 'very bad'",
        "line 8 (good.png): no patient_id",
        "class PLE: no images",
    ):
        assert expected in message, expected
    assert message.startswith(f"{root / 'manifest.csv'}: ")
    assert isinstance(caught.value, ValueError)


def test_manifest_without_required_columns(tmp_path):
    path = write_manifest(tmp_path, ["file,label", "a.png,NT"])
    with pytest.raises(DatasetError, match=r"missing columns \['path', 'patient_id'\]"):
        read_manifest(path)


def test_class_folder_problems_are_reported_together(class_tree, write_image):
    (class_tree / "Other").mkdir()
    for path in (class_tree / "PSE").rglob("*.png"):
        path.unlink()
    (class_tree / "CLE" / "archive.png").write_bytes(b"PK\x03\x04rest of a zip")
    (class_tree / "NT" / "blank_s9.png").touch()
    with pytest.raises(DatasetError) as caught:
        read_dataset(class_tree)
    message = str(caught.value)
    assert "Other/: unknown class folder" in message
    assert "PSE/: no images in this class folder" in message
    assert "CLE/archive.png: this is a ZIP archive" in message
    assert "NT/blank_s9.png: the file is empty" in message
    assert "class PSE: no images" in message
    assert len(caught.value.problems) == 5


def test_long_problem_lists_are_capped(tmp_path):
    root = tmp_path / "many"
    for index in range(30):
        path = root / "NT" / f"p{index:02d}_s0.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    with pytest.raises(DatasetError) as caught:
        read_dataset(root)
    message = str(caught.value)
    listed = re.findall(r"^  - ", message, flags=re.MULTILINE)
    assert len(listed) == MAXIMUM_LISTED_PROBLEMS
    assert f"... and {len(caught.value.problems) - MAXIMUM_LISTED_PROBLEMS} more" in message
    assert "NT/p00_s0.png: the file is empty" in message


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="no such data set folder"):
        read_dataset(tmp_path / "absent")


def test_load_images_windows_and_resizes(class_tree):
    samples = read_dataset(class_tree)
    images = load_images(samples, 16, progress=False)
    assert images.shape == (16, 16, 16, 1) and images.dtype == np.uint8
    for sample, image in zip(samples, images, strict=True):
        expected = hounsfield_window(np.array([CLASS_HOUNSFIELD[sample.label]]), LungWindow())[0]
        assert (image == expected).all()
    narrow = load_images(samples[:1], 8, window=LungWindow(width=200, level=-850), progress=False)
    assert (narrow == 128).all()  # -850 HU is the centre of that window


def test_load_images_lists_every_undecodable_file(class_tree, write_image):
    samples = read_dataset(class_tree)
    tiny = write_image("folders/NT/tiny_s0.png", np.zeros((2, 2), np.uint8))
    cut = class_tree / "CLE" / "cut_s0.png"
    cut.write_bytes(samples[0].path.read_bytes()[:60])
    bad = [Sample(tiny, "NT", "tiny"), Sample(cut, "CLE", "cut")]
    with pytest.raises(DatasetError) as caught:
        load_images(samples + bad, 16, progress=False)
    assert len(caught.value.problems) == 2
    assert str(tiny) in str(caught.value) and str(cut) in str(caught.value)


def test_labels_to_indices_follow_the_class_order(class_tree):
    samples = read_dataset(class_tree)
    indices = labels_to_indices(samples)
    assert indices.dtype == np.int64
    assert indices.tolist() == [CLASS_NAMES.index(sample.label) for sample in samples]
    assert sorted(set(indices.tolist())) == [0, 1, 2, 3]


def test_summarize_counts_classes_patients_and_severities():
    samples = [
        Sample(Path("a"), "NT", "p1"),
        Sample(Path("b"), "NT", "p1"),
        Sample(Path("c"), "CLE", "p2", "mild"),
        Sample(Path("d"), "CLE", "p3", "severe"),
    ]
    text = summarize(samples)
    lines = text.splitlines()
    assert lines[0] == "4 slices from 3 patients"
    assert lines[1].split() == ["class", "slices", "patients", "mild", "severe", "ungraded"]
    assert lines[2].split() == ["NT", "2", "1", "0", "0", "2"]
    assert lines[3].split() == ["CLE", "2", "2", "1", "1", "0"]
    assert lines[5].split() == ["PLE", "0", "0", "0", "0", "0"]
