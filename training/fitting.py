"""Fitting a built model: from scratch in one phase, or transfer learning as head then fine-tuning.

Adam, categorical cross-entropy, class weights, early stopping on validation loss, the learning
rate halved on plateaus, and a best-validation-loss checkpoint (weights only, so each save is cheap)
that becomes ``model.keras``: an uncompiled copy of the model with the best weights and no
optimizer state (a third of the size, and all that inference and export need).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

import keras
import numpy as np

from training.augmentation import build_augmentation
from training.data import class_weights, make_dataset
from training.models import freeze_backbone, unfreeze_top_of_backbone
from training.runs import HISTORY_FILE, MODEL_FILE
from training.settings import TrainSettings

CHECKPOINT_FILE = "best.weights.h5"  # removed once model.keras is written

HISTORY_COLUMNS = (
    "epoch",
    "phase",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
)


class EpochTimer(keras.callbacks.Callback):
    """Record each epoch's wall-clock seconds into its logs (so they reach history.csv)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Start the clock."""
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Stop the clock and log the duration."""
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._started


@dataclasses.dataclass(frozen=True)
class TrainingArrays:
    """The training and validation images (uint8 ``(N, S, S, 1)``) and class indices."""

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def fit_model(
    model: keras.Model, settings: TrainSettings, arrays: TrainingArrays, run_dir: Path, verbose: int = 2
) -> list[dict]:
    """Train ``model``; keep its best weights (``settings.monitor``); write model.keras and history.csv.

    Call it inside the distribution strategy's scope (the optimizer is created here).

    Returns:
        One dict per epoch with the ``HISTORY_COLUMNS``.
    """
    augmentation = build_augmentation(settings)
    train = make_dataset(
        arrays.train_images,
        arrays.train_labels,
        settings.batch_size,
        augmentation=augmentation,
        shuffle=True,
        seed=settings.seed,
    )
    validation, monitor = None, settings.monitor
    if len(arrays.validation_images):
        validation = make_dataset(arrays.validation_images, arrays.validation_labels, settings.batch_size)
    else:
        # --validation-fraction 0: the training metric is all there is to choose the best epoch by.
        monitor = settings.monitor.removeprefix("val_")
        print(f"no validation split: the best epoch is chosen on the training {monitor}", flush=True)
    weights = class_weights(arrays.train_labels) if settings.class_weighting else None
    # One checkpoint callback for all phases: it keeps the best monitored value seen in any phase.
    checkpoint_path = run_dir / CHECKPOINT_FILE
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(checkpoint_path), monitor=monitor, save_best_only=True, save_weights_only=True, verbose=0
    )

    def callbacks() -> list[keras.callbacks.Callback]:
        return [
            EpochTimer(),
            checkpoint,
            keras.callbacks.EarlyStopping(monitor=monitor, patience=settings.early_stopping_patience),
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=0.5,
                patience=settings.reduce_learning_rate_patience,
                min_lr=settings.minimum_learning_rate,
            ),
        ]

    phases: list[tuple[str, float, int]] = []
    if settings.is_transfer_learning and settings.head_epochs > 0:
        phases.append(("head", settings.learning_rate, settings.head_epochs))
        phases.append(("fine_tune", settings.fine_tune_learning_rate, settings.epochs))
    elif settings.is_transfer_learning:
        phases.append(("fine_tune", settings.fine_tune_learning_rate, settings.epochs))
    else:
        phases.append(("train", settings.learning_rate, settings.epochs))

    rows: list[dict] = []
    for phase, learning_rate, epochs in phases:
        if phase == "head":
            freeze_backbone(model)
        elif phase == "fine_tune":
            unfreeze_top_of_backbone(model, settings.fine_tune_fraction)
        _compile(model, learning_rate)
        start = len(rows)
        print(f"phase {phase}: up to {epochs} epochs at learning rate {learning_rate:g}", flush=True)
        history = model.fit(
            train,
            validation_data=validation,
            epochs=start + epochs,
            initial_epoch=start,
            class_weight=weights,
            callbacks=callbacks(),
            verbose=verbose,
            shuffle=False,  # tf.data shuffles
        )
        rows += _history_rows(history, phase, start)
    if checkpoint_path.is_file():  # absent only if validation loss was never finite
        model.load_weights(checkpoint_path)
        checkpoint_path.unlink()
    save_inference_model(model, run_dir / MODEL_FILE)
    write_history(rows, run_dir / HISTORY_FILE)
    return rows


def save_inference_model(model: keras.Model, path: Path) -> None:
    """Save an uncompiled copy of ``model``: the same graph and weights, without optimizer state."""
    inference = keras.models.clone_model(model)
    inference.set_weights(model.get_weights())
    inference.save(path)


def _history_rows(history: keras.callbacks.History, phase: str, start: int) -> list[dict]:
    values = history.history
    rows = []
    for offset in range(len(values.get("loss", []))):
        row = {"epoch": start + offset + 1, "phase": phase}
        for column in HISTORY_COLUMNS[2:]:
            series = values.get(column)
            row[column] = float(series[offset]) if series is not None and offset < len(series) else None
        rows.append(row)
    return rows


def write_history(rows: list[dict], path: Path) -> None:
    """Write the per-epoch history as CSV."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
