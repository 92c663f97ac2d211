"""`emphysema analyze` end to end through the real embedded Triton serving the tiny model.

The tiny model's answers mean nothing; these tests check the plumbing a user relies on: every lung
tile classified exactly once by Triton, map labels only inside the lungs and on every lung voxel
of an analysed slice, shares summing to 100 %, the files written, and failures leaving nothing.
"""

from __future__ import annotations

import csv
import json

import highdicom
import numpy as np
import pydicom
import pytest

from analysis.output_files import (
    DICOM_OUTPUTS,
    MEASUREMENT_REPORT_DCM,
    PATTERN_MAP_NPZ,
    REPORT_JSON,
    REPORT_PDF,
    SEGMENTATION_DCM,
)
from analysis.settings import AnalysisSettings
from analysis.study_analysis import analyse_study
from client.errors import TritonUnavailableError
from emphysema.cli import main as cli_main
from study.lungs import segment_lungs
from study.phantom.dicom_series import write_series
from study.reader import read_study
from tests.analysis.dicom_checks import check_pdf_report, validator_errors
from tests.triton_support import classifier_stopping_after_first_batch, inference_count

pytestmark = pytest.mark.triton


def _analyze(triton_server, tiny_repository, *arguments: str) -> int:
    return cli_main(
        [
            "analyze",
            *arguments,
            "--url",
            triton_server.grpc_url,
            "--model",
            tiny_repository.model_name,
            "--slice-step",
            "4",
            "--quiet",
        ]
    )


def test_every_lung_tile_is_classified_once_and_summarised(triton_server, tiny_repository, studies, tmp_path):
    out = tmp_path / "analysis"
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    assert _analyze(triton_server, tiny_repository, str(studies["mixed"]), "--out", str(out)) == 0
    served = inference_count(triton_server.grpc_url, tiny_repository.model_name) - before

    report = json.loads((out / "mixed" / "report.json").read_text(encoding="utf-8"))
    assert report["tiles"]["count"] == served > 0
    # The tiny model has no field_of_view_mm: the slice-level fallback is used and said.
    assert report["model"]["field_of_view_source"] == "slice-level"
    assert any("slice-level" in warning for warning in report["warnings"])
    lungs = segment_lungs(read_study(studies["mixed"])).labels
    saved = np.load(out / "mixed" / "pattern_map.npz")
    labels, analysed = saved["labels"], saved["analysed_slices"]
    assert not labels[lungs == 0].any()
    assert labels[analysed][lungs[analysed] > 0].all()
    assert not np.delete(labels, analysed, axis=0).any()
    for name, region in report["patterns"]["regions"].items():
        if region["voxels"]:
            assert sum(region["pattern_percent"].values()) == pytest.approx(100.0, abs=0.01), name
    assert report["patterns"]["zones"]["predominance"] in {"upper", "lower", "none"}
    assert report["quantification"]["regions"]["WholeLung"]["volume_ml"] > 0
    assert (out / "mixed" / "overlay.png").stat().st_size > 0
    with (out / "analysis.csv").open(encoding="utf-8") as handle:
        assert [row["status"] for row in csv.DictReader(handle)] == ["done"]


def test_a_cohort_goes_on_past_an_unreadable_study(triton_server, tiny_repository, studies, tmp_path, capsys):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    (cohort / "good").symlink_to(studies["panlobular"], target_is_directory=True)
    (cohort / "broken").mkdir()
    (cohort / "broken" / "IM-0001.dcm").write_bytes(b"not dicom")
    out = tmp_path / "analysis"
    assert _analyze(triton_server, tiny_repository, str(cohort), "--out", str(out)) == 1
    with (out / "analysis.csv").open(encoding="utf-8") as handle:
        rows = {row["study"]: row for row in csv.DictReader(handle)}
    assert rows["good"]["status"] == "done" and rows["broken"]["status"] == "failed"
    assert rows["broken"]["error"]
    assert (out / "good" / "report.json").is_file() and not (out / "broken").exists()
    assert "broken" in capsys.readouterr().err


def test_a_study_without_lungs_is_refused_and_nothing_written(
    triton_server, tiny_repository, tmp_path, capsys
):
    solid = np.full((12, 64, 64), 40, dtype=np.int16)  # soft tissue everywhere: no air inside a body
    details = {"kernel": "STANDARD", "thickness": 5.0, "interval": 5.0, "spacing": 5.0}
    write_series(tmp_path / "solid", solid, (0.0, 0.0), np.arange(12) * 5.0, "SYN00000000", "1", details)
    out = tmp_path / "analysis"
    assert _analyze(triton_server, tiny_repository, str(tmp_path / "solid"), "--out", str(out)) == 1
    assert "error:" in capsys.readouterr().err
    assert not out.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["solid"]


def test_triton_going_down_mid_study_is_a_clear_error_and_leaves_nothing(tiny_repository, studies, tmp_path):
    """A dedicated server is stopped after the first batch; the rest of the study cannot be classified."""
    model = tiny_repository.model_name
    with classifier_stopping_after_first_batch(tiny_repository.path, model) as classifier:
        with pytest.raises(TritonUnavailableError, match="127.0.0.1"):
            analyse_study(
                studies["mixed"], tmp_path / "mixed", classifier, model, AnalysisSettings(slice_step=4), True
            )
    assert list(tmp_path.iterdir()) == []


def test_the_reports_and_dicom_results_match_the_pattern_map(
    triton_server, tiny_repository, studies, tmp_path
):
    """Through Triton: the PDF (pages rendered into test-artifacts), SEG, SR and encapsulated PDF."""
    out = tmp_path / "analysis"
    assert _analyze(triton_server, tiny_repository, str(studies["mixed"]), "--out", str(out)) == 0
    study = out / "mixed"
    report = json.loads((study / REPORT_JSON).read_text(encoding="utf-8"))
    sources = {}
    for path in studies["mixed"].rglob("*.dcm"):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        sources[str(header.SOPInstanceUID)] = float(header.ImagePositionPatient[2])
    check_pdf_report(study / REPORT_PDF, report, header, "analyze-mixed")
    # The phantom is stored as the volume is oriented: slice k is the k-th lowest source image.
    lowest_first = sorted(sources, key=sources.get)
    labels = np.load(study / PATTERN_MAP_NPZ)["labels"]
    segmentation = highdicom.seg.segread(study / SEGMENTATION_DCM)
    for index, uid in enumerate(lowest_first):
        if labels[index].any():
            frame = segmentation.get_pixels_by_source_instance(
                [uid], combine_segments=True, skip_overlap_checks=True
            )[0]
            np.testing.assert_array_equal(frame, labels[index], err_msg=f"slice {index}")
    frames_on = {uid for *_, uid in segmentation.get_source_image_uids()}
    assert frames_on == set(sources)
    document = highdicom.sr.srread(study / MEASUREMENT_REPORT_DCM)
    for group in document.content.get_image_measurement_groups():
        region = str(group.tracking_identifier)
        shares = report["patterns"]["regions"][region]["pattern_percent"]
        values = {measurement.name.meaning: measurement.value for measurement in group.get_measurements()}
        for pattern, percent in shares.items():
            assert values[f"Lung volume share of {pattern}"] == pytest.approx(percent)
        laa = report["quantification"]["regions"][region]["laa950_percent"]
        assert values["Lung volume below -950 HU"] == pytest.approx(laa)
    for name in DICOM_OUTPUTS:
        errors, _ = validator_errors(study / name)
        assert errors == [], name
