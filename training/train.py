"""`emphysema train`: train one architecture on a patient-grouped split into a run folder.

    emphysema train --data data/synthetic --architecture inceptionv3 --out runs/inception [--split image]

The command line, the data folder, the run folder and the patient counts are checked before any
image is read or TensorFlow is loaded. The run folder is staged next to ``--out`` and moved into
place only when training and evaluation succeed, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from imaging.errors import UsageError
from imaging.image_split import IMAGE_SPLIT_WARNING, SPLIT_CHOICES
from training.arguments import add_architecture_argument, add_training_arguments, settings_from_arguments
from training.report import console_summary
from training.settings import TrainSettings

NO_TEST_SPLIT_NOTE = (
    "note: no test split (--test-fraction 0): these figures are on the validation patients, which also "
    "chose the best epoch, so they are optimistic. Report results on a held-out or external data set."
)


def check_before_work(
    settings: TrainSettings, out: Path, overwrite: bool, skipped: list[str] | None = None
) -> tuple[list, object]:
    """Refuse what would fail later, before any image is read; return the samples and their split.

    Only the data set's file list is read here (no image), so a wrong path, an existing run
    folder or too few patients per class is reported in well under a second. ``skipped`` collects
    the files the listing leaves out (``--skip-unreadable``); None stops on them.

    Raises:
        UsageError: both split fractions are 0, no folder at ``--data`` or file at ``--weights``,
            or ``out`` exists and ``overwrite`` is False.
        DatasetError: the data set's layout is wrong (every problem listed).
        SplitError: too few patients per class for the asked split (the message says what fits).
    """
    if settings.test_fraction == 0 and settings.validation_fraction == 0:
        raise UsageError(
            "--test-fraction 0 and --validation-fraction 0 leave no patients to evaluate on; keep one above 0"
        )
    data_root = Path(settings.data)
    if not data_root.is_dir():
        raise UsageError(f"{data_root}: no such data set folder (check --data)")
    weights = settings.resolved_weights
    if weights not in ("imagenet", "none") and not Path(weights).is_file():
        raise UsageError(f"{weights}: no such weights file (check --weights)")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UsageError(f"{out}: run folder already exists; choose another --out or pass --overwrite")
    from imaging.image_split import split_samples  # numpy, pydicom: only once the paths are known good
    from training.skipped_files import read_samples

    samples = read_samples(data_root, skipped, "train on")
    split = split_samples(
        samples, settings.split, settings.validation_fraction, settings.test_fraction, settings.seed
    )
    return samples, split


def run_training(
    settings: TrainSettings,
    out: Path,
    *,
    split=None,
    samples=None,
    overwrite: bool = False,
    quiet: bool = False,
    skipped: list[str] | None = None,
) -> dict:
    """Train, save and evaluate one model; return its test metrics.

    Args:
        settings: the run's settings (``data`` must name the data set root).
        out: the run folder to create.
        split: an ``imaging.splits.DataSplit`` to use (compare shares one); default a new split of
            the kind ``settings.split`` names.
        samples: the samples ``split`` indexes (default: read from ``settings.data``).
        overwrite: replace an existing run folder.
        quiet: no per-epoch lines or progress bars.
        skipped: a list (``--skip-unreadable``): train on the readable files and add the others to it
            (printed, and saved as ``skipped.txt`` in the run folder); None: stop on an unreadable file.
    """
    import keras

    from imaging.dataset import labels_to_indices
    from imaging.image_split import split_samples
    from training.evaluate import evaluate_run
    from training.fitting import TrainingArrays, fit_model
    from training.models import build_model
    from training.plots import plot_training_curves
    from training.roi_data_settings import with_roi_data_settings
    from training.runs import CURVES_FILE, SETTINGS_FILE, SPLIT_FILE, save_split, staged_folder
    from training.settings import save_settings
    from training.skipped_files import decode_samples, report_skipped
    from training.strategy import describe_strategy, select_strategy
    from training.weights import resolve_weights

    settings = with_roi_data_settings(settings.resolved())
    data_root = Path(settings.data)
    if samples is None or split is None:
        samples, split = check_before_work(settings, out, overwrite, skipped)
    # Resolve the weights first: an offline machine learns about it before any images load.
    weights_path = resolve_weights(settings.architecture, settings.resolved_weights)
    keras.utils.set_random_seed(settings.seed)
    images = None
    if skipped is not None:  # decode now, and split again: the split is made of readable files only
        samples, images = decode_samples(
            samples, settings.image_size, settings.window, skipped, "train on", not quiet
        )
        split = split_samples(
            samples, settings.split, settings.validation_fraction, settings.test_fraction, settings.seed
        )
    if settings.split == "image":
        print(IMAGE_SPLIT_WARNING, file=sys.stderr, flush=True)
    indices = {"train": split.train, "validation": split.validation, "test": split.test}
    if images is None:
        _, images = decode_samples(samples, settings.image_size, settings.window, None, "train on", not quiet)
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
            history = fit_model(model, settings, arrays, staging, verbose=0 if quiet else 2)
        seconds = time.perf_counter() - started
        plot_training_curves(history, staging / CURVES_FILE, f"{settings.architecture} ({Path(out).name})")
        metrics = evaluate_run(staging, data_root, run_name=Path(out).name, progress=not quiet)
    print(f"{settings.architecture}: {len(history)} epochs in {seconds:.0f} s", flush=True)
    return metrics


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema train` command line; defaults come from TrainSettings."""
    parser = argparse.ArgumentParser(prog="emphysema train", description=__doc__.split("\n\n")[0])
    add_architecture_argument(parser)
    parser.add_argument(
        "--out", type=Path, required=True, help="run folder to create, e.g. runs/NAME (required)"
    )
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
        help="patient: no patient on both sides; image: slices at random, as the paper did "
        "(overstates accuracy on new patients) (default patient)",
    )
    add_training_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema train --data DIR --architecture NAME --out runs/NAME [options]`."""
    arguments = build_parser().parse_args(argv)
    settings = settings_from_arguments(arguments)
    skipped: list[str] | None = [] if arguments.skip_unreadable else None
    samples, split = check_before_work(settings, arguments.out, arguments.overwrite, skipped)
    metrics = run_training(
        settings,
        arguments.out,
        split=split,
        samples=samples,
        overwrite=arguments.overwrite,
        quiet=arguments.quiet,
        skipped=skipped,
    )
    part = metrics["run"].get("evaluated_on", "test")
    accuracy = metrics["accuracy"]
    low, high = accuracy["ci95"]
    print(
        f"{settings.architecture}: {part} accuracy {100 * accuracy['value']:.1f} % (95 % CI {100 * low:.1f}-"
        f"{100 * high:.1f}) on {metrics['count']} {part} images; run folder {arguments.out}"
    )
    if part != "test":
        print(NO_TEST_SPLIT_NOTE)
    print("\n".join(console_summary(metrics)))
    if settings.split == "image":  # again next to the figures it qualifies
        print(IMAGE_SPLIT_WARNING, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
