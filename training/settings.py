"""The training stage's settings: one frozen dataclass whose defaults are the single source of truth."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from imaging.contract import (
    ARCHITECTURES,
    DEFAULT_IMAGE_SIZE,
    LUNG_WINDOW_LEVEL,
    LUNG_WINDOW_WIDTH,
)
from imaging.errors import UsageError
from imaging.hounsfield import LungWindow
from imaging.image_split import SPLIT_CHOICES
from training.errors import TrainingError

# The Keras applications refuse inputs smaller than these (InceptionV3's stem needs 75 px).
MINIMUM_IMAGE_SIZE: dict[str, int] = {
    "inceptionv3": 75,
    "resnet50": 32,
    "efficientnetb0": 32,
    "simple_cnn": 32,
}
POOLING_CHOICES: tuple[str, ...] = ("flatten", "average")
MONITOR_CHOICES: tuple[str, ...] = ("val_loss", "val_accuracy")

# The quick preset: a CPU-sized run for laptops, CI and `make demo`: small images, at most 30 short
# epochs, and a regularised head (global average pooling, dropout). On a small data set the paper's
# Flatten head memorises each patient's slices and barely generalises to new patients, and the
# validation loss is lowest before the model has learnt anything, so validation accuracy picks
# the checkpoint.
QUICK_PRESET: dict[str, Any] = {
    "image_size": 96,
    "epochs": 30,
    "head_epochs": 3,
    "batch_size": 16,
    "early_stopping_patience": 10,
    "monitor": "val_accuracy",
    "pooling": "average",
    "dropout_rate": 0.3,
}


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Everything that decides what a training run does; saved as ``settings.json`` in the run folder.

    Attributes:
        architecture: one of ``ARCHITECTURES``.
        data: the data set root (class folders or ``manifest.csv``).
        weights: ``"imagenet"``, ``"none"`` or a path to a Keras weights file for the base network.
            ``None`` resolves to ``"imagenet"`` for the Keras applications (as in the paper) and to
            ``"none"`` for ``simple_cnn``.
        image_size: side of the square uint8 input in pixels.
        epochs: most epochs of the main phase (training from scratch, or fine-tuning).
        head_epochs: epochs that train only the head while a pretrained base stays frozen.
        batch_size: images per step.
        learning_rate: Adam's learning rate when training from scratch or training the head.
        fine_tune_learning_rate: the lower learning rate used after the top of the base is unfrozen.
        fine_tune_fraction: fraction of the base's layers (from the top) unfrozen when fine-tuning.
        pooling: ``"flatten"`` (the paper's head) or ``"average"`` (global average pooling).
        dense_units: width of the head's hidden Dense layer (128 in the paper).
        dropout_rate: dropout before and after the hidden Dense layer (0 disables it).
        scratch_batch_norm_momentum: BatchNormalization momentum used when a base is trained from
            scratch; short runs have few steps, so Keras' 0.99 leaves the moving statistics stale.
        class_weighting: weight the loss by inverse class frequency.
        monitor: the validation metric that picks the best checkpoint and drives early stopping and
            the learning-rate schedule: ``val_loss`` or ``val_accuracy``.
        early_stopping_patience: epochs without a better monitored value before stopping.
        reduce_learning_rate_patience: epochs without improvement before the learning rate halves.
        minimum_learning_rate: floor of the learning-rate schedule.
        augment: apply the training-only augmentation.
        rotation_degrees, shift_fraction, shear_fraction, zoom_fraction, horizontal_flip: the
            paper's augmentations (rotation, shift, shear, zoom, horizontal flip).
        noise_hu: add kernel-like noise to each training image, its standard deviation drawn
            between 0 and this many HU (0 adds none). Scans differ in noise by kernel (12-46 HU
            in the phantom); without it a model may read a smooth kernel's lung as the flattened
            texture of panlobular emphysema and a sharp kernel's emphysema as normal lung.
        blur_px: blend each training image with its Gaussian blur of this sigma (input pixels) by a
            weight drawn between 0 and 1 (0 blurs none). Kernels differ in sharpness (a 0.2-0.75 mm
            blur in the phantom); without it a model may read a smooth kernel's lung as the
            flattened texture of panlobular emphysema.
        density_shift_hu: shift each training image's density by an offset drawn between minus
            and plus this many HU (0 shifts none). Patients' normal lung differs in density (a
            20 HU standard deviation in the phantom); without it a model may read a dark normal
            lung as panlobular emphysema and a bright panlobular one as normal lung.
        split: ``"patient"`` (patient-grouped, the default: no patient on both sides) or ``"image"``
            (slices at random, as the paper did; overstates accuracy on new patients).
        validation_fraction, test_fraction: split fractions, of each class's patients (or images).
        seed: seed for Python, numpy, TensorFlow, the split and the augmentation.
        window_width, window_level: the lung window (HU) applied to HU images.
        bootstrap_samples: resamples for the bootstrap confidence intervals.
        field_of_view_mm: the side in mm of the regions the model was trained on, read from an ROI
            data set's ``roi_dataset_settings.json``; None for a slice-level model (whole slices).
            Export writes it into the model card and the served config's parameters.
        density_reference_hu: the lung density reference (HU) the ROI data set's studies were
            shifted to (``analysis.density_reference``), read from the same file; None for raw HU.
            Export writes it beside the field of view; `analyze` shifts each study to it.
    """

    architecture: str = "inceptionv3"
    data: str = ""
    weights: str | None = None
    image_size: int = DEFAULT_IMAGE_SIZE
    epochs: int = 40
    head_epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    fine_tune_fraction: float = 0.3
    pooling: str = "flatten"
    dense_units: int = 128
    dropout_rate: float = 0.0
    scratch_batch_norm_momentum: float = 0.9
    class_weighting: bool = True
    monitor: str = "val_loss"
    early_stopping_patience: int = 8
    reduce_learning_rate_patience: int = 3
    minimum_learning_rate: float = 1e-6
    augment: bool = True
    rotation_degrees: float = 15.0
    shift_fraction: float = 0.1
    shear_fraction: float = 0.1
    zoom_fraction: float = 0.1
    horizontal_flip: bool = True
    noise_hu: float = 0.0
    blur_px: float = 0.0
    density_shift_hu: float = 0.0
    split: str = "patient"
    validation_fraction: float = 0.15
    test_fraction: float = 0.2
    seed: int = 0
    window_width: float = LUNG_WINDOW_WIDTH
    window_level: float = LUNG_WINDOW_LEVEL
    bootstrap_samples: int = 1000
    field_of_view_mm: float | None = None
    density_reference_hu: float | None = None

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise UsageError(
                f"unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
            )
        minimum = MINIMUM_IMAGE_SIZE[self.architecture]
        if self.image_size < minimum:
            raise UsageError(
                f"{self.architecture} needs an image size of at least {minimum} px, got {self.image_size}"
            )
        if self.pooling not in POOLING_CHOICES:
            raise UsageError(f"pooling must be one of {', '.join(POOLING_CHOICES)}, got {self.pooling!r}")
        if self.split not in SPLIT_CHOICES:
            raise UsageError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {self.split!r}")
        if self.monitor not in MONITOR_CHOICES:
            raise UsageError(f"monitor must be one of {', '.join(MONITOR_CHOICES)}, got {self.monitor!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.head_epochs < 0:
            raise UsageError("epochs and batch size must be at least 1 and head epochs at least 0")
        self._check_ranges()
        if self.weights == "imagenet" and self.architecture == "simple_cnn":
            raise UsageError("simple_cnn has no ImageNet weights; use --weights none")
        LungWindow(self.window_width, self.window_level)  # validates the window
        if self.field_of_view_mm is not None and not self.field_of_view_mm > 0:
            raise UsageError(f"the field of view must be positive, got {self.field_of_view_mm} mm")

    def _check_ranges(self) -> None:
        """Refuse rates, fractions and augmentation limits outside their ranges."""
        if not 0.0 <= self.dropout_rate < 1.0:
            raise UsageError(f"dropout rate must be in [0, 1), got {self.dropout_rate}")
        limits = (
            ("--noise-hu", self.noise_hu),
            ("--blur-px", self.blur_px),
            ("--density-shift-hu", self.density_shift_hu),
        )
        for flag, limit in limits:
            if limit < 0:
                raise UsageError(f"{flag} must not be negative, got {limit}")
        if not 0.0 <= self.fine_tune_fraction <= 1.0:
            raise UsageError(f"fine-tune fraction must be in [0, 1], got {self.fine_tune_fraction}")
        for flag, fraction in (
            ("--validation-fraction", self.validation_fraction),
            ("--test-fraction", self.test_fraction),
        ):
            if not 0.0 <= fraction < 1.0:
                raise UsageError(f"{flag} must be in [0, 1), got {fraction}")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise UsageError(
                "--validation-fraction plus --test-fraction must be below 1: training needs patients"
            )

    @property
    def window(self) -> LungWindow:
        """The lung window images are displayed in before they reach the model."""
        return LungWindow(self.window_width, self.window_level)

    @property
    def resolved_weights(self) -> str:
        """``weights`` with the architecture's default filled in."""
        if self.weights is not None:
            return self.weights
        return "none" if self.architecture == "simple_cnn" else "imagenet"

    @property
    def is_transfer_learning(self) -> bool:
        """Whether the base starts from pretrained weights (head first, then fine-tuning)."""
        return self.resolved_weights != "none"

    def resolved(self) -> TrainSettings:
        """Return a copy with every default that depends on other fields filled in."""
        return dataclasses.replace(self, weights=self.resolved_weights)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainSettings:
        """Build settings from a dict, refusing unknown keys so typos do not pass silently."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**values)


def quick_settings(**overrides: Any) -> TrainSettings:
    """Return ``TrainSettings`` with the quick CPU preset applied, then ``overrides``."""
    return TrainSettings(**{**QUICK_PRESET, **overrides})


def save_settings(settings: TrainSettings, path: Path) -> None:
    """Write the settings as indented JSON."""
    path.write_text(json.dumps(settings.to_dict(), indent=2) + "\n")


def load_settings(path: Path) -> TrainSettings:
    """Read settings written by ``save_settings``, naming the file on any error."""
    try:
        values = json.loads(Path(path).read_text())
        return TrainSettings.from_dict(values)
    except (OSError, ValueError, TypeError) as error:
        raise TrainingError(f"{path}: cannot read training settings: {error}") from error
