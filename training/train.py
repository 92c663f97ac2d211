"""`emphysema train`: train one architecture on a patient-grouped split into a run folder.

    emphysema train --data data/synthetic --model inceptionv3 --out runs/inception [--split image]

The run folder is staged next to ``--out`` and moved into place only when training and
evaluation succeed, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from imaging.contract import ARCHITECTURES
from imaging.image_split import IMAGE_SPLIT_WARNING, SPLIT_CHOICES
from training.errors import TrainingError
from training.report import console_summary
from training.settings import MONITOR_CHOICES, POOLING_CHOICES, QUICK_PRESET, TrainSettings

# CLI flag -> TrainSettings field, for the options that override the defaults and the quick preset.
_OVERRIDES: dict[str, str] = {
    "model": "architecture",
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
}


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by `train` and `compare` (defaults None: TrainSettings decides)."""
    parser.add_argument(
        "--data", type=Path, required=True, help="data set root: class folders or manifest.csv"
    )
    parser.add_argument(
        "--weights",
        help="imagenet (download), none (from scratch) or PATH to a 'notop' .h5 file; "
        "default imagenet, none for simple_cnn",
    )
    parser.add_argument("--image-size", type=int, help="input side in px (default 224; quick preset 96)")
    parser.add_argument(
        "--epochs", type=int, help="most epochs of the main phase (early stopping may end sooner)"
    )
    parser.add_argument("--head-epochs", type=int, help="epochs training only the head of a pretrained base")
    parser.add_argument("--batch-size", type=int, help="global batch size")
    parser.add_argument(
        "--learning-rate", type=float, help="Adam learning rate (scratch training, head phase)"
    )
    parser.add_argument(
        "--fine-tune-learning-rate", type=float, help="learning rate after unfreezing the base"
    )
    parser.add_argument("--pooling", choices=POOLING_CHOICES, help="head: flatten (paper) or average pooling")
    parser.add_argument("--dropout", type=float, help="dropout rate in the head (default 0)")
    parser.add_argument("--seed", type=int, help="seed for the split, initialisation and augmentation")
    parser.add_argument("--test-fraction", type=float, help="fraction of patients held out for testing")
    parser.add_argument("--validation-fraction", type=float, help="fraction of patients for validation")
    parser.add_argument(
        "--monitor",
        choices=MONITOR_CHOICES,
        help="validation metric for the best checkpoint (default val_loss)",
    )
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 8)")
    parser.add_argument(
        "--lr-patience",
        type=int,
        help="epochs without improvement before the learning rate halves (default 3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CPU preset: " + ", ".join(f"{key}={value}" for key, value in QUICK_PRESET.items()),
    )


def settings_from_arguments(arguments: argparse.Namespace, **fixed) -> TrainSettings:
    """Build resolved settings: defaults, then the quick preset, then explicit flags, then ``fixed``."""
    values: dict = dict(QUICK_PRESET) if arguments.quick else {}
    for flag, field in _OVERRIDES.items():
        value = getattr(arguments, flag, None)
        if value is not None:
            values[field] = value
    values["data"] = str(Path(arguments.data).resolve())
    values.update(fixed)
    return TrainSettings(**values).resolved()


def run_training(
    settings: TrainSettings,
    out: Path,
    *,
    split=None,
    samples=None,
    overwrite: bool = False,
    skip_unreadable: bool = False,
) -> dict:
    """Train, save and evaluate one model; return its test metrics.

    Args:
        settings: the run's settings (``data`` must name the data set root).
        out: the run folder to create.
        split: an ``imaging.splits.DataSplit`` to use (compare shares one); default a new split of
            the kind ``settings.split`` names.
        samples: the samples ``split`` indexes (default: read from ``settings.data``).
        overwrite: replace an existing run folder.
        skip_unreadable: train on the readable files and list the others (printed, and saved as
            ``skipped.txt`` in the run folder) instead of stopping; only when ``samples`` is None.
    """
    import keras

    from imaging.dataset import labels_to_indices
    from imaging.image_split import split_samples
    from training.evaluate import evaluate_run
    from training.fitting import TrainingArrays, fit_model
    from training.models import build_model
    from training.plots import plot_training_curves
    from training.runs import CURVES_FILE, SETTINGS_FILE, SPLIT_FILE, save_split, staged_folder
    from training.settings import save_settings
    from training.skipped_files import decode_samples, read_samples, report_skipped
    from training.strategy import describe_strategy, select_strategy
    from training.weights import resolve_weights

    settings = settings.resolved()
    data_root = Path(settings.data)
    if not data_root.is_dir():
        raise TrainingError(f"{data_root}: data folder not found")
    # Resolve the weights first: an offline machine learns about it before any images load.
    weights_path = resolve_weights(settings.architecture, settings.resolved_weights)
    keras.utils.set_random_seed(settings.seed)
    skipped: list[str] | None = [] if skip_unreadable and samples is None else None
    images = None
    if samples is None:
        samples = read_samples(data_root, skipped, "train on")
        if skipped is not None:  # decode now, so the split is made of readable files only
            samples, images = decode_samples(
                samples, settings.image_size, settings.window, skipped, "train on"
            )
    if split is None:
        split = split_samples(
            samples, settings.split, settings.validation_fraction, settings.test_fraction, settings.seed
        )
    if settings.split == "image":
        print(IMAGE_SPLIT_WARNING, file=sys.stderr, flush=True)
    indices = {"train": split.train, "validation": split.validation, "test": split.test}
    for part, chosen in indices.items():
        if len(chosen) == 0:
            raise TrainingError(f"{data_root}: the {part} split is empty; the data set needs more patients")
    if images is None:
        _, images = decode_samples(samples, settings.image_size, settings.window, None, "train on")
    labels = labels_to_indices(samples)
    arrays = TrainingArrays(
        images[split.train], labels[split.train], images[split.validation], labels[split.validation]
    )
    strategy = select_strategy()
    print(
        f"{settings.architecture}: {len(split.train)} training, {len(split.validation)} validation, "
        f"{len(split.test)} test images; {describe_strategy(strategy)}",
        flush=True,
    )
    with staged_folder(out, overwrite) as staging:
        save_settings(settings, staging / SETTINGS_FILE)
        save_split(staging / SPLIT_FILE, samples, indices, data_root)
        report_skipped(skipped or [], staging, Path(out))
        started = time.perf_counter()
        with strategy.scope():
            model = build_model(
                settings.architecture,
                settings.image_size,
                weights_path,
                pooling=settings.pooling,
                dense_units=settings.dense_units,
                dropout_rate=settings.dropout_rate,
                scratch_batch_norm_momentum=settings.scratch_batch_norm_momentum,
            )
            history = fit_model(model, settings, arrays, staging)
        seconds = time.perf_counter() - started
        plot_training_curves(history, staging / CURVES_FILE, f"{settings.architecture} ({Path(out).name})")
        metrics = evaluate_run(staging, data_root, run_name=Path(out).name)
    print(f"{settings.architecture}: {len(history)} epochs in {seconds:.0f} s", flush=True)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema train --data DIR --model NAME --out runs/NAME [options]`."""
    parser = argparse.ArgumentParser(prog="emphysema train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=ARCHITECTURES,
        default=TrainSettings.architecture,
        help="architecture (default %(default)s)",
    )
    parser.add_argument("--out", type=Path, required=True, help="run folder to create, e.g. runs/NAME")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    parser.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="train on the readable files and list the unreadable ones (saved as skipped.txt in the run "
        "folder) instead of stopping",
    )
    parser.add_argument(
        "--split",
        choices=SPLIT_CHOICES,
        help="patient (default): no patient on both sides; image: slices at random, as the paper did "
        "(overstates accuracy on new patients)",
    )
    add_training_arguments(parser)
    arguments = parser.parse_args(argv)
    settings = settings_from_arguments(arguments)
    metrics = run_training(
        settings, arguments.out, overwrite=arguments.overwrite, skip_unreadable=arguments.skip_unreadable
    )
    accuracy = metrics["accuracy"]
    low, high = accuracy["ci95"]
    print(
        f"{settings.architecture}: test accuracy {100 * accuracy['value']:.1f} % (95 % CI {100 * low:.1f}-"
        f"{100 * high:.1f}) on {metrics['count']} test images; run folder {arguments.out}"
    )
    print("\n".join(console_summary(metrics)))
    if settings.split == "image":  # again next to the figures it qualifies
        print(IMAGE_SPLIT_WARNING, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
