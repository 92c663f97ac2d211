"""`emphysema compare`: train and evaluate several architectures on the same patient-grouped split.

    emphysema compare --data data/synthetic --architectures all --out runs/compare [--folds 5]

Writes the paper's Table I (accuracy, precision, recall) with 95 % confidence intervals as
``comparison.md``, ``comparison.json`` and ``comparison.png``. With ``--folds K`` every model is
trained K times on patient-grouped folds and scored on the pooled out-of-fold predictions.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging.contract import ARCHITECTURES, CLASS_NAMES
from imaging.errors import UsageError
from training.arguments import add_training_arguments, settings_from_arguments
from training.comparison_table import render_table, write_comparison
from training.metrics import compute_metrics
from training.runs import (
    HISTORY_FILE,
    PREDICTIONS_FILE,
    read_predictions,
    summarize_history,
)
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


def compare_models(arguments: argparse.Namespace, command: str) -> dict:
    """Train every requested model on the shared split(s) and return the comparison document."""
    from imaging.dataset import read_dataset
    from imaging.splits import grouped_folds, grouped_split

    models = parse_models(arguments.architectures)
    settings_by_model = {model: settings_from_arguments(arguments, architecture=model) for model in models}
    first = settings_by_model[models[0]]
    samples = read_dataset(first.data)
    if arguments.folds:
        splits = grouped_folds(samples, arguments.folds, first.seed, first.validation_fraction)
    else:
        splits = [grouped_split(samples, first.validation_fraction, first.test_fraction, first.seed)]
    rows = []
    for model in models:
        run_folders = []
        for fold, split in enumerate(splits):
            folder = arguments.out / model if len(splits) == 1 else arguments.out / model / f"fold_{fold + 1}"
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
        "evaluation": f"{len(splits)}-fold patient-grouped cross-validation (pooled out-of-fold predictions)"
        if len(splits) > 1
        else f"one patient-grouped hold-out test split ({first.test_fraction:.0%} of patients)",
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
    except ValueError:
        return False
    data_root = Path(settings.data)
    wanted_split = {
        part: [relative_sample_path(samples[int(index)].path, data_root) for index in getattr(split, part)]
        for part in SPLIT_PARTS
    }
    return same_settings and saved_split == wanted_split


def synth_command(data: Path) -> str | None:
    """The `emphysema synth` command that made ``data``, from its synth_settings.json (None if absent)."""
    try:
        values = json.loads((Path(data) / "synth_settings.json").read_text())["arguments"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    options = " ".join(
        f"--{key.replace('_', '-')} {value}" for key, value in values.items() if value not in (None, False)
    )
    return f"emphysema synth --out {data} {options}"


def summarize_model(model: str, run_folders: Sequence[Path], settings) -> dict:
    """Pool a model's test predictions over its run folders and compute the table row."""
    labels, probabilities, patients, severities = [], [], [], []
    epochs, seconds = 0, 0.0
    for folder in run_folders:
        predictions = read_predictions(folder / PREDICTIONS_FILE, CLASS_NAMES)
        labels += predictions["labels"]
        probabilities += predictions["probabilities"]
        patients += predictions["patients"]  # each patient is in exactly one fold's test part
        severities += predictions["severities"]
        history = summarize_history(folder / HISTORY_FILE)
        epochs += history.get("epochs_trained", 0)
        seconds += history.get("training_seconds", 0.0)
    metrics = compute_metrics(
        labels,
        probabilities,
        severities,
        groups=patients,
        bootstrap_samples=settings.bootstrap_samples,
        seed=settings.seed,
    )
    predicted = metrics["predicted_counts"]
    return {
        "model": model,
        "weights": settings.resolved_weights,
        "test_images": metrics["count"],
        "test_patients": metrics["bootstrap"]["groups"],
        "accuracy": metrics["accuracy"],
        "precision": metrics["macro"]["precision"],
        "recall": metrics["macro"]["recall"],
        "f1": metrics["macro"]["f1"],
        "roc_auc": metrics["macro"]["roc_auc"],
        "predicted_counts": predicted,
        "classes_predicted": sum(count > 0 for count in predicted.values()),
        "confusion_matrix": metrics["confusion_matrix"],
        "epochs_trained": epochs,
        "training_seconds": round(seconds, 1),
        "run_folders": [str(folder) for folder in run_folders],
    }


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
    document = compare_models(arguments, "emphysema compare " + shlex.join(arguments_list))
    write_comparison(document, arguments.results or arguments.out)
    print(render_table(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
