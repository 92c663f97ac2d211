"""Settings (defaults, quick preset, JSON), the tf.data pipeline, augmentation and class weights."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from training.arguments import add_architecture_argument, add_training_arguments, settings_from_arguments
from training.augmentation import build_augmentation
from training.data import class_weights, make_dataset
from training.errors import TrainingError
from training.settings import QUICK_PRESET, TrainSettings, load_settings, quick_settings, save_settings
from training.strategy import select_strategy


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_architecture_argument(parser)
    add_training_arguments(parser)
    return parser.parse_args(argv)


def test_quick_preset_then_explicit_flags_win(tmp_path: Path):
    argv = ["--data", str(tmp_path), "--quick", "--epochs", "3", "--lr-patience", "6", "--noise-hu", "30"]
    settings = settings_from_arguments(parse([*argv, "--density-shift-hu", "20", "--blur-px", "1.5"]))
    assert settings.image_size == QUICK_PRESET["image_size"]
    assert (settings.epochs, settings.reduce_learning_rate_patience) == (3, 6)
    assert (settings.noise_hu, settings.density_shift_hu, settings.blur_px) == (30.0, 20.0, 1.5)
    assert settings.weights == "imagenet"  # resolved: the paper's transfer learning by default
    simple = settings_from_arguments(parse(["--data", str(tmp_path), "--architecture", "simple_cnn"]))
    assert simple.weights == "none" and simple.image_size == TrainSettings().image_size


def test_settings_round_trip_through_json_and_refuse_unknown_keys(tmp_path: Path):
    settings = quick_settings(architecture="resnet50", data=str(tmp_path), weights="none", seed=9).resolved()
    save_settings(settings, tmp_path / "settings.json")
    assert load_settings(tmp_path / "settings.json") == settings
    (tmp_path / "typo.json").write_text('{"architecture": "resnet50", "epochz": 3}')
    with pytest.raises(TrainingError, match="typo.json.*epochz"):
        load_settings(tmp_path / "typo.json")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"architecture": "simple_cnn", "weights": "imagenet"}, "--weights none"),
        ({"architecture": "inceptionv3", "image_size": 64}, "at least 75"),
        ({"pooling": "max"}, "pooling"),
        ({"dropout_rate": 1.0}, "dropout"),
        ({"architecture": "alexnet"}, "unknown architecture"),
        ({"noise_hu": -5.0}, "noise-hu"),
        ({"density_shift_hu": -5.0}, "density-shift-hu"),
        ({"blur_px": -1.0}, "blur-px"),
    ],
)
def test_bad_settings_are_refused_clearly(overrides: dict, message: str):
    with pytest.raises(ValueError, match=message):
        TrainSettings(**overrides)


def test_training_batches_are_augmented_uint8_and_evaluation_batches_untouched():
    images = np.random.default_rng(0).integers(0, 256, (12, 48, 48, 1), dtype=np.uint8)
    labels = np.arange(12) % 4
    augmentation = build_augmentation(TrainSettings(image_size=96, seed=1))
    assert augmentation is not None
    assert {type(layer).__name__ for layer in augmentation.layers} == {
        "RandomRotation",
        "RandomTranslation",
        "RandomShear",
        "RandomZoom",
        "RandomFlip",
    }
    augmented_images, one_hot = next(iter(make_dataset(images, labels, 12, augmentation=augmentation)))
    assert augmented_images.dtype == "uint8" and augmented_images.shape == (12, 48, 48, 1)
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(4)[labels])
    assert (augmented_images.numpy() != images).mean() > 0.3
    plain_images, _ = next(iter(make_dataset(images, labels, 12)))
    np.testing.assert_array_equal(plain_images.numpy(), images)
    assert build_augmentation(TrainSettings(augment=False)) is None


def only_augmentation(**limits: float) -> TrainSettings:
    """Settings whose augmentation is only the given noise, blur or shift (the paper's layers off)."""
    geometric_off = {"rotation_degrees": 0, "shift_fraction": 0, "shear_fraction": 0, "zoom_fraction": 0}
    return TrainSettings(
        architecture="simple_cnn",
        weights="none",
        image_size=64,
        seed=1,
        horizontal_flip=False,
        **geometric_off,
        **limits,
    )


def test_kernel_noise_spreads_up_to_its_limit_in_hounsfield_units():
    settings = only_augmentation(noise_hu=40.0)
    augmentation = build_augmentation(settings)
    assert [type(layer).__name__ for layer in augmentation.layers] == ["RandomKernelNoise"]
    flat = np.full((200, 48, 48, 1), 128, dtype=np.uint8)
    noisy, _ = next(iter(make_dataset(flat, np.arange(200) % 4, 200, augmentation=augmentation)))
    spread_hu = noisy.numpy().reshape(200, -1).std(axis=1) * settings.window_width / 255.0
    # One SD per image, drawn in [0, 40] HU: some images almost clean, some near the limit, none over.
    assert spread_hu.min() < 5.0 and 30.0 < spread_hu.max() < 42.0
    assert abs(float(noisy.numpy().mean()) - 128.0) < 1.0  # noise, not a shift in density
    default_layers = build_augmentation(TrainSettings()).layers
    assert "RandomKernelNoise" not in {type(layer).__name__ for layer in default_layers}


def test_density_shift_moves_each_image_as_a_whole_up_to_its_limit_in_hounsfield_units():
    settings = only_augmentation(density_shift_hu=30.0)
    augmentation = build_augmentation(settings)
    assert [type(layer).__name__ for layer in augmentation.layers] == ["RandomDensityShift"]
    textured = np.random.default_rng(2).integers(100, 156, (200, 48, 48, 1), dtype=np.uint8)
    shifted, _ = next(iter(make_dataset(textured, np.arange(200) % 4, 200, augmentation=augmentation)))
    difference = shifted.numpy().astype(np.float64) - textured
    offsets_hu = difference.mean(axis=(1, 2, 3)) * settings.window_width / 255.0
    # One offset per image, drawn in [-30, 30] HU: both signs, near the limit, none over.
    assert offsets_hu.min() < -25.0 and offsets_hu.max() > 25.0
    assert np.abs(offsets_hu).max() < 30.0 + 0.5 * settings.window_width / 255.0
    # The whole image moves together: the texture is kept (to the grey level's rounding).
    assert np.abs(difference - difference.mean(axis=(1, 2, 3), keepdims=True)).max() <= 1.0
    default_layers = build_augmentation(TrainSettings()).layers
    assert "RandomDensityShift" not in {type(layer).__name__ for layer in default_layers}


def test_kernel_blur_smooths_each_image_by_a_random_amount_up_to_its_sigma():
    settings = only_augmentation(blur_px=1.5)
    augmentation = build_augmentation(settings)
    assert [type(layer).__name__ for layer in augmentation.layers] == ["RandomKernelBlur"]
    noise = np.random.default_rng(3).normal(128.0, 30.0, (200, 48, 48, 1)).clip(0, 255).astype(np.uint8)
    blurred, _ = next(iter(make_dataset(noise, np.arange(200) % 4, 200, augmentation=augmentation)))
    kept = blurred.numpy().reshape(200, -1).std(axis=1) / noise.reshape(200, -1).std(axis=1)
    # White noise through the full blur keeps 1 / (2 sqrt(pi) sigma) of its SD (0.19 at 1.5 px);
    # blends from none to all of it span the range from there to 1.
    assert kept.min() < 0.3 and kept.max() > 0.95 and (kept <= 1.01).all()
    assert abs(float(blurred.numpy().mean()) - float(noise.mean())) < 1.0  # sharpness, not density
    default_layers = build_augmentation(TrainSettings()).layers
    assert "RandomKernelBlur" not in {type(layer).__name__ for layer in default_layers}


def test_class_weights_are_scikit_learn_balanced():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 2 + [3] * 1)
    expected = compute_class_weight("balanced", classes=np.arange(4), y=labels)
    assert class_weights(labels) == pytest.approx(dict(enumerate(expected)))


def test_dataset_refuses_wrong_inputs():
    with pytest.raises(ValueError, match="uint8"):
        make_dataset(np.zeros((2, 8, 8, 1), dtype=np.float32), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="one label per image"):
        make_dataset(np.zeros((2, 8, 8, 1), dtype=np.uint8), np.array([0]), 2)


def test_one_device_uses_the_default_strategy():
    strategy = select_strategy()
    assert strategy.num_replicas_in_sync == 1  # no GPUs here; MirroredStrategy only with more than one
