"""`emphysema compare`: train and evaluate several architectures on the same patient-grouped split.

    emphysema compare --data data/synthetic --architectures all --out runs/compare [--folds 5]
    emphysema compare --data data/synthetic --architectures all --out runs/protocol --split patient,image

Writes the paper's Table I (accuracy, precision, recall) with 95 % confidence intervals as
``comparison.md``, ``comparison.json`` and ``comparison.png``. With ``--folds K`` every model is
trained K times on patient-grouped folds and scored on the pooled out-of-fold predictions.
``--split image`` splits slices at random as the paper did (and warns that the figure overstates
accuracy on new patients); ``--split patient,image`` runs both on the same data and settings and
writes them side by side (``training.split_comparison``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging.contract import ARCHITECTURES
from imaging.errors import UsageError
from imaging.image_split import IMAGE_SPLIT_WARNING, SPLIT_CHOICES
from training.arguments import add_training_arguments, settings_from_arguments
from training.comparison_rows import describe_evaluation, summarize_model, synth_command
from training.comparison_table import render_table, write_comparison
from training.errors import TrainingError
from training.runs import PREDICTIONS_FILE
from training.split_comparison import build_split_comparison, write_split_comparison
from training.train import run_training


def parse_models(text: str) -> list[str]:
    """``"all"`` or a comma-separated list of architectures, validated."""
    if text.strip().lower() == "all":
        return list(ARCHITECTURES)
    models = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in models if name not in ARCHITECTURES]
    if unknown or not models:
        raise UsageError(
            f"--architectures: unknown {', '.join(unknown) or text!r}; "
            f"choose all or from {', '.join(ARCHITECTURES)}"
        )
    return models


def parse_splits(text: str) -> list[str]:
    """``"patient"``, ``"image"`` or both, comma-separated, validated."""
    splits = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in splits if name not in SPLIT_CHOICES]
    if unknown or not splits or len(set(splits)) != len(splits):
        raise ValueError(f"--split takes {', '.join(SPLIT_CHOICES)} or patient,image; got {text!r}")
    return splits


def compare_models(
    arguments: argparse.Namespace, command: str, split_kind: str = "patient", out=None
) -> dict:
    """Train every requested model on the shared split(s) of one kind and return the comparison document."""
    from imaging.dataset import is_phantom, read_dataset
    from imaging.image_split import patients_in_training_and_test, split_samples
    from imaging.splits import grouped_folds

    models = parse_models(arguments.architectures)
    settings_by_model = {
        model: settings_from_arguments(arguments, architecture=model, split=split_kind) for model in models
    }
    first = settings_by_model[models[0]]
    samples = read_dataset(first.data)
    if arguments.folds:
        splits = grouped_folds(samples, arguments.folds, first.seed, first.validation_fraction)
    else:
        splits = [
            split_samples(samples, split_kind, first.validation_fraction, first.test_fraction, first.seed)
        ]
    out = arguments.out if out is None else out
    rows = []
    for model in models:
        run_folders = []
        for fold, split in enumerate(splits):
            folder = out / model if len(splits) == 1 else out / model / f"fold_{fold + 1}"
            print(f"== {model}" + (f" fold {fold + 1}/{len(splits)}" if len(splits) > 1 else ""), flush=True)
            settings = settings_by_model[model]
            if arguments.resume and is_finished_run(folder, settings, split, samples):
                print(f"{model}: reusing the finished run in {folder} (same settings and split)", flush=True)
            else:
                run_training(
                    settings,
                    folder,
                    split=split,
                    samples=samples,
                    overwrite=arguments.overwrite,
                    quiet=arguments.quiet,
                )
            run_folders.append(folder)
        rows.append(summarize_model(model, run_folders, settings_by_model[model]))
    return {
        "command": command,
        "data_made_by": synth_command(arguments.data),
        "data": str(arguments.data),
        "phantom": is_phantom(first.data),
        "evaluation": describe_evaluation(split_kind, len(splits), first.test_fraction),
        "split": split_kind,
        "test_patients_seen_in_training": len(
            {patient for split in splits for patient in patients_in_training_and_test(split, samples)}
        ),
        "settings": {
            key: value
            for key, value in first.to_dict().items()
            if key not in {"architecture", "data", "weights"}
        },
        "models": rows,
    }


def is_finished_run(folder: Path, settings, split, samples: Sequence) -> bool:
    """Whether ``folder`` holds a finished run of exactly ``settings`` on exactly ``split``.

    A run folder only appears once its run has finished (it is built in a staging folder), so a
    folder with predictions, the same resolved settings and the same patients in every part can
    stand in for training the model again.
    """
    from training.runs import SETTINGS_FILE, SPLIT_FILE, SPLIT_PARTS, load_split_paths, relative_sample_path
    from training.settings import load_settings

    if not (folder / PREDICTIONS_FILE).is_file():
        return False
    try:
        same_settings = load_settings(folder / SETTINGS_FILE) == settings.resolved()
        saved_split = load_split_paths(folder / SPLIT_FILE)
    except (ValueError, TrainingError):  # unreadable files: not a finished run of these settings
        return False
    data_root = Path(settings.data)
    wanted_split = {
        part: [relative_sample_path(samples[int(index)].path, data_root) for index in getattr(split, part)]
        for part in SPLIT_PARTS
    }
    return same_settings and saved_split == wanted_split


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema compare` command line; defaults come from TrainSettings."""
    parser = argparse.ArgumentParser(prog="emphysema compare", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--architectures",
        default="all",
        help="all, or a comma-separated list of " + ", ".join(ARCHITECTURES) + " (default %(default)s)",
    )
    parser.add_argument(  # the old spelling, kept working
        "--models", dest="architectures", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the run folders, one per model/fold (required)"
    )
    parser.add_argument(
        "--results", type=Path, help="folder for the comparison table files (default: the --out folder)"
    )
    parser.add_argument(
        "--folds",
        type=int,
        help="patient-grouped K-fold cross-validation instead of one split (default: one split)",
    )
    parser.add_argument(
        "--split",
        dest="splits",
        default="patient",
        help="patient: no patient on both sides; image: slices at random, as the paper did "
        "(overstates accuracy on new patients); patient,image: both, side by side (default patient)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing run folders")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep run folders that finished with the same settings and split; train only the rest",
    )
    add_training_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema compare --data DIR --architectures all --out runs/compare [--folds K] [options]`."""
    arguments_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    arguments = parser.parse_args(arguments_list)
    if arguments.folds is not None and arguments.folds < 2:
        parser.error("--folds needs at least 2")
    try:
        splits = parse_splits(arguments.splits)
    except ValueError as error:
        parser.error(str(error))
    if arguments.folds and "image" in splits:
        parser.error(
            "--folds needs --split patient; --split image is the paper's single random hold-out split"
        )
    command = "emphysema compare " + shlex.join(arguments_list)
    if len(splits) == 1:
        document = compare_models(arguments, command, splits[0])
        write_comparison(document, arguments.results or arguments.out)
        table = render_table(document)
    else:
        documents = {kind: compare_models(arguments, command, kind, arguments.out / kind) for kind in splits}
        table = write_split_comparison(
            build_split_comparison(documents, command), arguments.results or arguments.out
        )
    print(table)
    if "image" in splits:
        print(IMAGE_SPLIT_WARNING, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
