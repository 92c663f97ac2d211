"""The "does this look like lung?" check: phantom slices pass, other images are flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from imaging.classes import CLASS_NAMES
from imaging.hounsfield import LungWindow, hounsfield_window
from imaging.lung_likeness import NOT_LUNG_WARNING, assess_lung_likeness
from imaging.phantom import PhantomSettings, draw_patient_traits, generate_slice
from imaging.readers import read_scan
from imaging.scan import Scan

SEVERITIES = ("trace", "mild", "moderate", "severe")


def phantom_slice(label: str, severity: str, seed: int, size: int = 128) -> np.ndarray:
    settings = PhantomSettings().with_image_size(size)
    rng = np.random.default_rng(seed)
    return generate_slice(label, severity, draw_patient_traits(rng, settings), rng, settings)


@pytest.mark.parametrize("label", CLASS_NAMES)
def test_phantom_slices_of_every_class_and_severity_look_like_lung(label):
    for seed, severity in enumerate(SEVERITIES):
        hounsfield = phantom_slice(label, severity, seed)
        verdict = assess_lung_likeness(Scan(hounsfield, True, "phantom.png"))
        assert verdict.looks_like_lung, (label, severity, verdict.reason)
        # The same slice exported as an 8-bit lung-windowed image passes too.
        assert assess_lung_likeness(Scan(hounsfield_window(hounsfield), False, "phantom.png")).looks_like_lung


def test_ct_small_is_not_lung():
    # pydicom's real CT slice (HU -896..1167) shows no lung field.
    verdict = assess_lung_likeness(read_scan(Path(pydicom.data.get_testdata_file("CT_small.dcm"))))
    assert not verdict.looks_like_lung
    assert verdict.parenchyma_fraction < 0.3
    record = verdict.as_record()
    assert record["looks_like_lung"] is False and record["warning"].startswith(NOT_LUNG_WARNING)


@pytest.mark.parametrize(
    "scan",
    [
        Scan(np.zeros((128, 128), np.uint8), False, "black.png"),
        Scan(np.full((128, 128), 100, np.uint8), False, "grey.png"),  # lung grey, but no texture
        Scan(np.full((128, 128), -850.0, np.float32), True, "flat.dcm"),
        Scan(np.full((128, 128), 40.0, np.float32), True, "soft-tissue.dcm"),
    ],
    ids=["black", "uniform-grey", "uniform-lung-HU", "soft-tissue-HU"],
)
def test_blank_images_are_not_lung(scan):
    assert not assess_lung_likeness(scan).looks_like_lung


def test_a_lung_slice_shown_in_a_soft_tissue_window_is_not_taken_for_lung():
    # 8-bit images are taken as lung-windowed; a soft-tissue window (W400/L40) turns lung black.
    hounsfield = phantom_slice("NT", "moderate", seed=5)
    soft_tissue = hounsfield_window(hounsfield, LungWindow(width=400, level=40))
    verdict = assess_lung_likeness(Scan(soft_tissue, False, "soft.png"))
    assert not verdict.looks_like_lung
    assert verdict.as_record()["warning"]
