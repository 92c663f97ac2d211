"""Class names as people write them, near misses, and skipping unreadable files instead of stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imaging.classes import parse_class_label, suggest_class_label
from imaging.contract import CLASS_NAMES
from imaging.dataset import DatasetError, is_phantom, load_readable_images, read_dataset
from imaging.hounsfield import LungWindow

SYNONYM_FOLDERS = {"Normal": "NT", "centrilobular": "CLE", "PARASEPTAL": "PSE", "Panlobular_Emphysema": "PLE"}


def hu_png() -> np.ndarray:
    return np.full((32, 32), -850 + 1024, dtype=np.uint16)


@pytest.fixture()
def folders(tmp_path, write_image):
    """Class folders named by their full names, two patients each."""
    for folder in SYNONYM_FOLDERS:
        for patient in range(2):
            write_image(f"mine/{folder}/p{patient}_s0.png", hu_png())
    return tmp_path / "mine"


@pytest.mark.parametrize(
    "text, label",
    [
        ("Normal", "NT"),
        ("normal tissue", "NT"),
        ("Normal_Tissue", "NT"),
        ("nt", "NT"),
        ("Centrilobular", "CLE"),
        ("CENTRIACINAR emphysema", "CLE"),
        ("paraseptal", "PSE"),
        ("Panlobular", "PLE"),
        ("panacinar", "PLE"),
        ("ple", "PLE"),
        ("emphysema", None),
        ("other", None),
    ],
)
def test_class_names_and_synonyms_in_any_case(text, label):
    assert parse_class_label(text) == label


def test_near_misses_get_a_suggestion_and_unrelated_names_none():
    assert suggest_class_label("Normall") == "NT"
    assert suggest_class_label("Centrilobullar") == "CLE"
    assert suggest_class_label("paraseptl") == "PSE"
    assert suggest_class_label("notes") is None


def test_class_folders_named_by_their_full_names_are_read(folders):
    samples = read_dataset(folders)
    assert sorted({sample.label for sample in samples}) == sorted(CLASS_NAMES)
    for sample in samples:
        assert SYNONYM_FOLDERS[sample.path.parent.name] == sample.label


def test_a_misspelt_class_folder_suggests_the_class(folders):
    (folders / "Normal").rename(folders / "Normall")
    with pytest.raises(DatasetError, match=r"Normall/: unknown class folder; did you mean NT\?"):
        read_dataset(folders)


def test_manifest_labels_accept_synonyms_and_suggest(tmp_path, write_image):
    write_image("set/a.png", hu_png())
    write_image("set/b.png", hu_png())
    (tmp_path / "set" / "manifest.csv").write_text(
        "path,label,patient_id\na.png,Centrilobular,p1\nb.png,Paraseptl,p2\n"
    )
    with pytest.raises(DatasetError, match=r"line 3 \(b.png\): unknown label 'Paraseptl' did you mean PSE\?"):
        read_dataset(tmp_path / "set", require_all_classes=False)
    (tmp_path / "set" / "manifest.csv").write_text("path,label,patient_id\na.png,Centrilobular,p1\n")
    assert [sample.label for sample in read_dataset(tmp_path / "set", require_all_classes=False)] == ["CLE"]


def test_a_stray_file_stops_reading_unless_skipped(folders):
    (folders / "centrilobular" / "notes.txt").write_text("scanned on the old scanner")
    with pytest.raises(DatasetError) as caught:
        read_dataset(folders)
    assert caught.value.unreadable == 1
    assert "centrilobular/notes.txt: this is a text file" in str(caught.value)
    skipped: list[str] = []
    samples = read_dataset(folders, skipped=skipped)
    assert len(samples) == 8 and all(sample.path.suffix == ".png" for sample in samples)
    assert len(skipped) == 1 and skipped[0].startswith("centrilobular/notes.txt: this is a text file")


def test_skipping_does_not_hide_other_problems(folders):
    (folders / "centrilobular" / "notes.txt").write_text("text")
    (folders / "Other").mkdir()
    (folders / "Other" / "x.png").write_bytes(b"")
    skipped: list[str] = []
    with pytest.raises(DatasetError, match="Other/: unknown class folder") as caught:
        read_dataset(folders, skipped=skipped)
    assert caught.value.unreadable == 0 and len(caught.value.problems) == 1


def test_skipped_manifest_rows_keep_their_line_number(tmp_path, write_image):
    for name in ("a", "b", "c", "d"):
        write_image(f"set/{name}.png", hu_png())
    rows = [f"{name}.png,{label},p{name}" for name, label in zip("abcd", CLASS_NAMES, strict=True)]
    (tmp_path / "set" / "manifest.csv").write_text(
        "path,label,patient_id\n" + "\n".join(rows) + "\ngone.png,NT,p9\n"
    )
    skipped: list[str] = []
    assert len(read_dataset(tmp_path / "set", skipped=skipped)) == 4
    assert skipped == ["line 6 (gone.png): no such file"]


def test_undecodable_files_are_left_out_with_their_images(folders):
    samples = read_dataset(folders)
    broken = samples[2].path
    broken.write_bytes(broken.read_bytes()[:60])  # a truncated PNG passes the first-bytes check
    skipped: list[str] = []
    kept, images = load_readable_images(samples, 16, LungWindow(), skipped, progress=False)
    assert len(kept) == len(images) == len(samples) - 1 and samples[2] not in kept
    assert len(skipped) == 1 and str(broken) in skipped[0]


def test_phantom_is_recognised_by_its_settings_file(folders):
    assert not is_phantom(folders)
    (folders / "synth_settings.json").write_text(json.dumps({"phantom": {"image_size": 64}}))
    assert is_phantom(folders)
    (folders / "synth_settings.json").write_text("{broken")
    assert not is_phantom(folders)
