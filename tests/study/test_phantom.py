"""The chest-study phantom: DICOM series, truth that matches the written volume, anatomy of disease."""

from __future__ import annotations

import hashlib

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from emphysema import cli
from imaging.phantom.settings import DEFAULT_KERNELS
from study.phantom.command import main
from study.reader import read_study
from study.regions import measure_regions
from tests.study.conftest import anatomy_of, truth_of


def test_series_headers_describe_an_axial_ct_stack(mixed_study):
    files = sorted((mixed_study / "dicom").glob("*.dcm"))
    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in files]
    assert len({header.SOPInstanceUID for header in headers}) == len(files)
    assert len({header.SeriesInstanceUID for header in headers}) == 1
    assert len({header.StudyInstanceUID for header in headers}) == 1
    first = headers[0]
    assert first.Modality == "CT" and first.ConvolutionKernel and float(first.SliceThickness) > 0
    assert [float(value) for value in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert float(first.RescaleIntercept) == -1024 and float(first.RescaleSlope) == 1
    ordered = sorted(headers, key=lambda header: float(header.ImagePositionPatient[2]))
    steps = np.diff([float(header.ImagePositionPatient[2]) for header in ordered])
    np.testing.assert_allclose(steps, steps[0], rtol=1e-4)
    # Instance 1 is the top slice, so InstanceNumber order is the reverse of position order.
    assert [header.InstanceNumber for header in ordered] == sorted(
        (h.InstanceNumber for h in headers), reverse=True
    )


def test_truth_measures_the_written_volume(mixed_study):
    truth = truth_of(mixed_study)
    volume = read_study(mixed_study / "dicom")
    anatomy = anatomy_of(mixed_study)
    assert volume.shape == anatomy.shape
    lungs = np.where(anatomy == 3, 0, anatomy)
    measured = measure_regions(volume.hounsfield, lungs, volume.voxel_volume_ml)
    for region in ("WholeLung", "RightLung", "LeftUpperThird"):
        assert measured[region]["laa950_percent"] == pytest.approx(
            truth["regions"][region]["laa950_percent"], abs=1e-3
        )
        assert measured[region]["volume_ml"] == pytest.approx(truth["regions"][region]["volume_ml"], rel=1e-3)
    whole = truth["regions"]["WholeLung"]
    assert 1500 < whole["volume_ml"] < 9000
    assert sum(whole["pattern_percent"].values()) == pytest.approx(100.0, abs=0.01)


def test_centrilobular_emphysema_is_upper_zone_and_paraseptal_is_subpleural(mixed_study):
    regions = truth_of(mixed_study)["regions"]
    for lung in ("Right", "Left"):
        upper = regions[f"{lung}UpperThird"]["pattern_percent"]["CLE"]
        lower = regions[f"{lung}LowerThird"]["pattern_percent"]["CLE"]
        assert upper > 2 * lower
    labels = np.load(mixed_study / "labels.npz")
    lungs = (labels["anatomy"] == 1) | (labels["anatomy"] == 2)
    depth = ndimage.distance_transform_edt(lungs)
    paraseptal, centrilobular = labels["pattern"] == 3, labels["pattern"] == 2
    assert paraseptal.any() and centrilobular.any()
    assert np.median(depth[paraseptal]) < np.median(depth[centrilobular])


def test_panlobular_emphysema_is_lower_zone_and_lowers_density(panlobular_study):
    regions = truth_of(panlobular_study)["regions"]
    shares = [regions[f"RightLung{zone}"]["pattern_percent"]["PLE"] for zone in ("",)]
    assert shares[0] > 0
    for lung in ("Right", "Left"):
        assert (
            regions[f"{lung}LowerThird"]["pattern_percent"]["PLE"]
            > regions[f"{lung}UpperThird"]["pattern_percent"]["PLE"] + 10
        )
        assert regions[f"{lung}LowerThird"]["mean_hu"] < regions[f"{lung}UpperThird"]["mean_hu"]


def test_command_writes_studies_deterministically_and_refuses_a_full_folder(tmp_path, capsys):
    arguments = ["--studies", "1", "--pattern", "NT", "--size", "small", "--quiet", "--seed", "7"]
    assert main(["--out", str(tmp_path / "a"), *arguments]) == 0
    assert main(["--out", str(tmp_path / "b"), *arguments]) == 0

    def digest(folder):
        return hashlib.sha256(
            b"".join(path.read_bytes() for path in sorted((folder / "study-000" / "dicom").iterdir()))
        ).hexdigest()

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert (tmp_path / "a" / "studies.csv").read_text().startswith("study,pattern,severity")
    assert cli.main(["synth-study", "--out", str(tmp_path / "a"), *arguments]) == 2  # a usage error
    assert "not empty" in capsys.readouterr().err
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_one_seed_on_two_kernels_is_one_patient_reconstructed_twice(tmp_path):
    arguments = ["--studies", "1", "--pattern", "CLE", "--severity", "severe", "--size", "small"]
    for kernel in ("STANDARD", "BONE"):
        out = tmp_path / kernel
        assert main(["--out", str(out), *arguments, "--seed", "7", "--kernel", kernel, "--quiet"]) == 0
    standard, bone = tmp_path / "STANDARD" / "study-000", tmp_path / "BONE" / "study-000"
    truths = {kernel: truth_of(tmp_path / kernel / "study-000") for kernel in ("STANDARD", "BONE")}
    assert [truth["scanner"]["kernel"] for truth in truths.values()] == ["STANDARD", "BONE"]
    # The patient is the same: anatomy, lesions, pattern map and id; only the scanner differs.
    assert truths["STANDARD"]["patient_id"] == truths["BONE"]["patient_id"]
    for name in ("anatomy", "pattern"):
        assert np.array_equal(np.load(standard / "labels.npz")[name], np.load(bone / "labels.npz")[name])
    for kernel in DEFAULT_KERNELS:
        if kernel.name in truths:
            low, high = kernel.noise_hu
            assert low <= truths[kernel.name]["scanner"]["noise_hu"] <= high
    headers = {
        folder.parent.name: pydicom.dcmread(next((folder / "dicom").glob("*.dcm")), stop_before_pixels=True)
        for folder in (standard, bone)
    }
    assert headers["STANDARD"].StudyInstanceUID == headers["BONE"].StudyInstanceUID
    assert headers["STANDARD"].SeriesInstanceUID != headers["BONE"].SeriesInstanceUID
    assert headers["STANDARD"].SOPInstanceUID != headers["BONE"].SOPInstanceUID
    assert headers["BONE"].ConvolutionKernel == "BONE"
    assert headers["STANDARD"].PatientID == truths["STANDARD"]["patient_id"]
    # The sharper, noisier kernel shows more pixel-to-pixel variation inside the same lungs.
    lungs = np.load(standard / "labels.npz")["pattern"] > 0
    variation = {
        folder.parent.name: np.abs(np.diff(read_study(folder / "dicom").hounsfield.astype(float), axis=2))[
            :, :, 1:
        ][lungs[:, :, 2:]].mean()
        for folder in (standard, bone)
    }
    assert variation["BONE"] > 1.1 * variation["STANDARD"], variation
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x"), *arguments, "--kernel", "SOFT"])


def test_normal_lung_has_the_slice_phantoms_density(mixed_study):
    from imaging.phantom import draw_patient_traits, render_slice

    rng = np.random.default_rng(3)
    slice_medians = []
    for _ in range(8):
        rendered = render_slice("NT", None, draw_patient_traits(rng), rng)
        slice_medians.append(float(np.median(rendered.hounsfield[rendered.lung_mask])))
    volume = read_study(mixed_study / "dicom")
    normal = np.load(mixed_study / "labels.npz")["pattern"] == 1
    study_median = float(np.median(volume.hounsfield[normal]))
    assert min(slice_medians) - 25 <= study_median <= max(slice_medians) + 25
