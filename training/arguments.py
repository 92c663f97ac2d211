"""The training options `train` and `compare` share, and the settings they resolve to.

Each option's help shows its default, read from ``TrainSettings`` and ``QUICK_PRESET``, so the
help and the behaviour cannot drift apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imaging.contract import ARCHITECTURES
from training.roi_data_settings import with_roi_data_settings
from training.settings import MONITOR_CHOICES, POOLING_CHOICES, QUICK_PRESET, TrainSettings

# CLI option (argparse dest) -> TrainSettings field, for the options that override the defaults
# and the quick preset.
OVERRIDES: dict[str, str] = {
    "architecture": "architecture",
    "weights": "weights",
    "image_size": "image_size",
    "epochs": "epochs",
    "head_epochs": "head_epochs",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "fine_tune_learning_rate": "fine_tune_learning_rate",
    "pooling": "pooling",
    "dropout": "dropout_rate",
    "seed": "seed",
    "split": "split",
    "test_fraction": "test_fraction",
    "validation_fraction": "validation_fraction",
    "monitor": "monitor",
    "patience": "early_stopping_patience",
    "lr_patience": "reduce_learning_rate_patience",
    "noise_hu": "noise_hu",
    "blur_px": "blur_px",
    "density_shift_hu": "density_shift_hu",
}
_FLAG_OF_FIELD = {field: "--" + dest.replace("_", "-") for dest, field in OVERRIDES.items()}


def quick_preset_flags() -> str:
    """The quick preset as the flags it stands for, e.g. ``--image-size 96 --epochs 30 ...``."""
    return " ".join(f"{_FLAG_OF_FIELD[field]} {value}" for field, value in QUICK_PRESET.items())


def _default(field: str) -> str:
    """``(default X)``, with the quick preset's value when it differs."""
    text = f"default {getattr(TrainSettings, field)}"
    if field in QUICK_PRESET:
        text += f"; --quick {QUICK_PRESET[field]}"
    return f"({text})"


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by `train` and `compare` (defaults None: TrainSettings decides)."""
    option = parser.add_argument
    option("--data", type=Path, required=True, help="data set root: class folders or manifest.csv (required)")
    option(
        "--weights",
        help="imagenet (download), none (from scratch) or PATH to a 'notop' .h5 file "
        "(default imagenet; none for simple_cnn)",
    )
    option("--image-size", type=int, help=f"input side in px {_default('image_size')}")
    option(
        "--epochs",
        type=int,
        help=f"most epochs of the main phase; early stopping may end sooner {_default('epochs')}",
    )
    option(
        "--head-epochs",
        type=int,
        help=f"epochs training only the head of a pretrained base {_default('head_epochs')}",
    )
    option("--batch-size", type=int, help=f"global batch size {_default('batch_size')}")
    option(
        "--learning-rate",
        type=float,
        help=f"Adam learning rate from scratch or for the head {_default('learning_rate')}",
    )
    option(
        "--fine-tune-learning-rate",
        type=float,
        help=f"learning rate after unfreezing the base {_default('fine_tune_learning_rate')}",
    )
    option(
        "--pooling",
        choices=POOLING_CHOICES,
        help=f"head: flatten (the paper) or average {_default('pooling')}",
    )
    option("--dropout", type=float, help=f"dropout rate in the head {_default('dropout_rate')}")
    option("--seed", type=int, help=f"seed of the split, initialisation and augmentation {_default('seed')}")
    option(
        "--test-fraction",
        type=float,
        help="share of each class's patients held out for testing; 0 evaluates on the validation "
        f"patients {_default('test_fraction')}",
    )
    option(
        "--validation-fraction",
        type=float,
        help="share of each class's patients that choose the best epoch; 0 chooses it on the training "
        f"data {_default('validation_fraction')}",
    )
    option(
        "--monitor", choices=MONITOR_CHOICES, help=f"metric that picks the best epoch {_default('monitor')}"
    )
    option(
        "--patience",
        type=int,
        help=f"early-stopping patience in epochs {_default('early_stopping_patience')}",
    )
    option(
        "--lr-patience",
        type=int,
        help="epochs without improvement before the learning rate halves "
        + _default("reduce_learning_rate_patience"),
    )
    option(
        "--noise-hu",
        type=float,
        help="augmentation: add noise of a random SD up to this many HU to each training image, so "
        f"the model cannot tell patterns by the kernel's noise {_default('noise_hu')}",
    )
    option(
        "--blur-px",
        type=float,
        help="augmentation: blend each training image with its Gaussian blur of this sigma (input "
        "pixels) by a random weight, so the model cannot tell patterns by the kernel's sharpness "
        + _default("blur_px"),
    )
    option(
        "--density-shift-hu",
        type=float,
        help="augmentation: shift each training image's density by a random offset of up to this "
        "many HU either way, so the model cannot tell patterns by a patient's overall lung density "
        + _default("density_shift_hu"),
    )
    option("--quiet", action="store_true", help="no per-epoch lines or progress bars")
    option(
        "--quick",
        action="store_true",
        help=f"CPU preset: {quick_preset_flags()} (explicit flags win)",
    )


def add_architecture_argument(parser: argparse.ArgumentParser) -> None:
    """`--architecture NAME`, with the old spelling `--model` kept as a hidden alias."""
    parser.add_argument(
        "--architecture",
        choices=ARCHITECTURES,
        help=f"the network to train (default {TrainSettings.architecture})",
    )
    parser.add_argument(
        "--model",
        dest="architecture",
        choices=ARCHITECTURES,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


def settings_from_arguments(arguments: argparse.Namespace, **fixed) -> TrainSettings:
    """Build resolved settings: defaults, quick preset, flags, ``fixed``, then the ROI data's facts."""
    values: dict = dict(QUICK_PRESET) if arguments.quick else {}
    for dest, field in OVERRIDES.items():
        value = getattr(arguments, dest, None)
        if value is not None:
            values[field] = value
    values["data"] = str(Path(arguments.data).resolve())
    values.update(fixed)
    # An ROI data set's field of view and density reference are part of what the run is
    # (--resume compares them).
    return with_roi_data_settings(TrainSettings(**values).resolved())
