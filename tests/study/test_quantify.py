"""`emphysema quantify`: numbers against the phantom's truth, outputs, warnings and failures."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from emphysema import cli
from study.quantify import QuantifySettings, reliability_warnings
from study.quantify_command import main
from study.volume import Volume
from tests.study.conftest import truth_of


def test_quantify_matches_truth_and_writes_every_output(mixed_study, panlobular_study, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    out = tmp_path / "out"
    status = main(
        [
            str(mixed_study / "dicom"),
            str(broken),
            str(panlobular_study / "dicom"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 1  # one study failed, the others went on
    captured = capsys.readouterr()
    assert "broken is empty" in captured.err
    assert "WholeLung" in captured.out and "LAA-950 %" in captured.out
    with (out / "quantification.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["ok", "failed", "ok"]
    for row, folder in ((rows[0], mixed_study), (rows[2], panlobular_study)):
        truth = truth_of(folder)["regions"]["WholeLung"]
        assert float(row["WholeLung_laa950_percent"]) == pytest.approx(truth["laa950_percent"], abs=1.0)
        assert float(row["WholeLung_volume_ml"]) == pytest.approx(truth["volume_ml"], rel=0.02)
    report = json.loads((out / "study-000" / "quantification.json").read_text())
    assert report["definitions"]["zones"].startswith("equal-volume thirds")
    assert set(report["regions"]) >= {"RightUpperThird", "LeftLowerThird"}
    assert not (out / "study-001").exists()
    for picture in ("montage.png", "histogram.png"):
        with Image.open(out / "study-000" / picture) as image:
            assert image.width > 200
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_json_output_and_refused_output_folder(mixed_study, tmp_path, capsys):
    assert main([str(mixed_study / "image.nii.gz"), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert reports[0]["scanner"]["source"] == "nifti"
    assert any("kernel unknown" in warning for warning in reports[0]["warnings"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    assert cli.main(["quantify", str(mixed_study / "dicom"), "--out", str(tmp_path / "full")]) == 2
    assert "not empty; choose another --out or add --overwrite" in capsys.readouterr().err
    assert (tmp_path / "full" / "keep.txt").exists()


@pytest.mark.parametrize(
    ("kernel", "thickness", "expected"),
    [("BONE", 1.0, ["sharp"]), ("B70f", 1.0, ["sharp"]), ("STANDARD", 1.0, []), ("B30f", 2.5, ["thickness"])],
)
def test_sharp_kernels_and_thick_slices_are_flagged(kernel, thickness, expected):
    import numpy as np

    volume = Volume(
        np.zeros((1, 1, 1), dtype=np.int16), (1.0, 1.0, 1.0), kernel=kernel, slice_thickness_mm=thickness
    )
    warnings = reliability_warnings(volume, QuantifySettings())
    assert len(warnings) == len(expected)
    for warning, word in zip(warnings, expected, strict=True):
        assert word in warning
