"""Occlusion sensitivity: the squares, the overlay, and the map computed through Triton."""

from __future__ import annotations

import numpy as np
import pytest

from client.occlusion import OcclusionSettings, occluded_variants, occlusion_boxes, overlay, sensitivity_map
from client.triton import TritonClassifier, TritonSettings
from imaging.contract import CLASS_NAMES


@pytest.mark.parametrize("image_size", [32, 75, 224])
def test_the_squares_cover_every_pixel(image_size):
    covered = np.zeros((image_size, image_size), bool)
    for row, column, side in occlusion_boxes(image_size):
        assert row + side <= image_size and column + side <= image_size
        covered[row : row + side, column : column + side] = True
    assert covered.all()


def test_variants_hide_exactly_one_square_each():
    image = np.arange(32 * 32, dtype=np.uint32).reshape(32, 32, 1).astype(np.uint8)
    boxes = occlusion_boxes(32, OcclusionSettings(patch_fraction=0.25, stride_fraction=1.0))
    variants = occluded_variants(image, boxes)
    assert variants.shape == (16, 32, 32, 1)
    for variant, (row, column, side) in zip(variants, boxes, strict=True):
        changed = variant != image
        assert not changed[:row].any() and not changed[row + side :].any()
        assert (variant[row : row + side, column : column + side] == round(float(image.mean()))).all()


def test_overlay_tints_only_where_the_map_is_positive():
    grey = np.full((4, 4), 100, np.uint8)
    sensitivity = np.zeros((4, 4), np.float32)
    sensitivity[0, 0], sensitivity[3, 3] = 0.5, -0.5
    rgb = overlay(grey, sensitivity)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] > 100 and rgb[0, 0, 2] < 100
    assert (rgb[3, 3] == 100).all() and (rgb[1, 1] == 100).all()
    with pytest.raises(ValueError, match="differ in shape"):
        overlay(grey, np.zeros((3, 3), np.float32))


@pytest.mark.triton
def test_the_map_matches_onnxruntime_on_the_same_variants(triton_server, tiny_repository):
    import onnxruntime

    size = tiny_repository.image_size
    image = np.random.default_rng(5).integers(0, 256, size=(size, size, 1), dtype=np.uint8)
    with TritonClassifier(TritonSettings(url=triton_server.grpc_url)) as classifier:
        prediction, sensitivity = sensitivity_map(classifier, image)
    session = onnxruntime.InferenceSession(str(tiny_repository.onnx_path), providers=["CPUExecutionProvider"])
    boxes = occlusion_boxes(size)
    batch = np.concatenate([image[np.newaxis], occluded_variants(image, boxes)])
    reference = session.run(["probabilities"], {"image": batch})[0]
    label = CLASS_NAMES.index(prediction.label)
    assert label == int(reference[0].argmax())
    expected_total, counts = np.zeros((size, size)), np.zeros((size, size))
    for probabilities, (row, column, side) in zip(reference[1:], boxes, strict=True):
        expected_total[row : row + side, column : column + side] += reference[0, label] - probabilities[label]
        counts[row : row + side, column : column + side] += 1
    np.testing.assert_allclose(sensitivity, expected_total / counts, atol=1e-5)
