"""Lung segmentation against the phantom's truth: Dice per lung, airway leakage, robustness."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from study.errors import StudyError
from study.lungs import LEFT_LUNG, RIGHT_LUNG, dilate_within_box, segment_lungs
from study.phantom.chest import draw_chest
from study.phantom.render import render_study
from study.phantom.settings import settings_for_size
from study.reader import read_study
from study.volume import Volume
from tests.study.conftest import anatomy_of


def dice(found: np.ndarray, truth: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth))


def check_against_truth(labels: np.ndarray, anatomy: np.ndarray) -> None:
    for label in (RIGHT_LUNG, LEFT_LUNG):
        assert dice(labels == label, anatomy == label) >= 0.97
    lungs = labels > 0
    assert np.count_nonzero(lungs & (anatomy == 3)) <= 0.01 * np.count_nonzero(lungs)


@pytest.mark.parametrize("fixture", ["mixed_study", "panlobular_study"])
def test_severe_emphysema_is_segmented_with_airways_removed(fixture, request):
    folder = request.getfixturevalue(fixture)
    masks = segment_lungs(read_study(folder / "dicom"))
    check_against_truth(masks.labels, anatomy_of(folder))
    # The tracked airway is the trachea and main bronchi, not a leak into dark lung.
    assert masks.airway.sum() < 0.05 * (masks.labels > 0).sum()


def render_wide_body(body_half_width_mm: float):
    """A small moderate-CLE study at 0.6 mm pixels (a 77 mm half field of view) of a wide body."""
    settings = dataclasses.replace(
        settings_for_size("small"),
        pixel_spacing_mm=(0.6, 0.6),
        body_half_width_mm=(body_half_width_mm, body_half_width_mm),
        fat_mm=(15.0, 15.0),
        muscle_mm=(10.0, 10.0),
    )
    chest = draw_chest("CLE", "moderate", 5, settings)
    return chest, render_study(chest, settings, settings.margin_below_mm)


def test_body_touching_the_edge_of_the_field_of_view():
    # A 170 mm half-wide body: the sides of the body leave the image.
    chest, rendered = render_wide_body(170.0)
    assert (rendered.hounsfield[:, :, 0] > -500).any()  # the body reaches the image edge
    spacing = (chest.slice_interval_mm, chest.pixel_spacing_mm, chest.pixel_spacing_mm)
    masks = segment_lungs(Volume(rendered.hounsfield, spacing))
    check_against_truth(masks.labels, rendered.anatomy)


def test_lungs_one_pixel_inside_the_image_edge():
    # A body 180 mm half wide leaves one pixel of chest wall at the image's sides. The closing
    # that takes in vessels once carried such a lung onto the edge, and the study was refused as
    # cut by the field of view.
    chest, rendered = render_wide_body(180.0)
    lung_columns = np.flatnonzero(np.isin(rendered.anatomy, (RIGHT_LUNG, LEFT_LUNG)).any(axis=(0, 1)))
    assert (lung_columns[0], lung_columns[-1]) == (1, rendered.anatomy.shape[2] - 2)
    spacing = (chest.slice_interval_mm, chest.pixel_spacing_mm, chest.pixel_spacing_mm)
    masks = segment_lungs(Volume(rendered.hounsfield, spacing))
    check_against_truth(masks.labels, rendered.anatomy)
    assert not masks.labels[:, :, [0, -1]].any()


def test_a_volume_without_lungs_is_refused():
    water = Volume(np.zeros((8, 64, 64), dtype=np.int16), (1.0, 1.0, 1.0))
    with pytest.raises(StudyError, match="no air inside the body"):
        segment_lungs(water)


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["NT", "CLE", "PSE", "PLE", "CLE+PSE"])
@pytest.mark.parametrize("severity", ["trace", "severe"])
def test_every_pattern_and_severity(pattern, severity):
    settings = settings_for_size("small")
    chest = draw_chest(pattern, severity, 900 + len(pattern) * 7 + len(severity), settings)
    rendered = render_study(chest, settings, settings.margin_below_mm)
    spacing = (chest.slice_interval_mm, chest.pixel_spacing_mm, chest.pixel_spacing_mm)
    check_against_truth(segment_lungs(Volume(rendered.hounsfield, spacing)).labels, rendered.anatomy)


def test_lungs_touching_at_the_anterior_junction_are_split():
    settings = dataclasses.replace(settings_for_size("small"), mediastinum_half_width_mm=(8.0, 8.0))
    chest = draw_chest("CLE", "mild", 11, settings)
    rendered = render_study(chest, settings, settings.margin_below_mm)
    hounsfield, anatomy = rendered.hounsfield.copy(), rendered.anatomy.copy()
    # Bridge the front of the mediastinum with lung, as an anterior junction line too thin to resolve.
    reach = (1, 1, 25)
    right = ndimage.maximum_filter(anatomy == RIGHT_LUNG, size=reach)
    left = ndimage.maximum_filter(anatomy == LEFT_LUNG, size=reach)
    rows = np.arange(anatomy.shape[1])[np.newaxis, :, np.newaxis]
    bridge = right & left & (anatomy == 0) & (rows < anatomy.shape[1] // 2) & (hounsfield < 100)
    assert bridge.sum() > 50
    hounsfield[bridge] = -850
    columns = np.arange(anatomy.shape[2])[np.newaxis, np.newaxis, :]
    anatomy[bridge] = np.where(
        np.broadcast_to(columns, anatomy.shape)[bridge] < anatomy.shape[2] // 2, RIGHT_LUNG, LEFT_LUNG
    )
    joined, _ = ndimage.label((anatomy == RIGHT_LUNG) | (anatomy == LEFT_LUNG))
    largest = np.bincount(joined.ravel())[1:].argmax() + 1
    assert {RIGHT_LUNG, LEFT_LUNG} <= set(np.unique(anatomy[joined == largest]))  # one air space
    spacing = (chest.slice_interval_mm, chest.pixel_spacing_mm, chest.pixel_spacing_mm)
    check_against_truth(segment_lungs(Volume(hounsfield, spacing)).labels, anatomy)


@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_dilating_within_the_box_gives_the_whole_volume_dilation(iterations):
    rng = np.random.default_rng(iterations)
    mask = np.zeros((12, 30, 25), dtype=bool)
    mask[rng.integers(0, 12, 6), rng.integers(0, 30, 6), rng.integers(0, 25, 6)] = True
    mask[0, 5, 0] = mask[11, 29, 24] = True  # at the volume's edges, where the box is clipped
    assert np.array_equal(
        dilate_within_box(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations)
    )
    small = np.zeros_like(mask)
    small[6, 14:16, 10] = True  # a sliver in the middle: the box is a small part of the volume
    assert np.array_equal(
        dilate_within_box(small, iterations), ndimage.binary_dilation(small, iterations=iterations)
    )
    assert not dilate_within_box(np.zeros_like(mask), iterations).any()
