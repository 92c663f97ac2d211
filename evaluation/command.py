"""`emphysema evaluate`: score a run's frozen model on its own test split, or on another cohort.

    emphysema evaluate --run runs/NAME                                 # the run's test split
    emphysema evaluate --run runs/NAME --data MOVED                    # the same, data set moved
    emphysema evaluate --run runs/NAME --data OTHER --external         # every slice of another cohort
    emphysema evaluate --run runs/NAME --data OTHER --external --url localhost:8001 [--model NAME]

The rule: without ``--external``, ``--data`` is the run's own data set in a new place and the
run's test split is scored into the run folder; with ``--external``, every slice of ``--data`` is
scored into its own report folder (``--out``, default ``runs/NAME/external/NAME-OF-DATA``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluation.settings import ExternalSettings
from imaging.errors import UsageError
from training.report import console_summary, format_estimate
from training.runs import REPORT_FILE


def build_parser() -> argparse.ArgumentParser:
    """The ``emphysema evaluate`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="emphysema evaluate",
        description="Score a run's model on its patient-grouped test split, or (--external) on every "
        "slice of another labelled data set.",
    )
    parser.add_argument("--run", type=Path, required=True, help="run folder written by `emphysema train`")
    parser.add_argument(
        "--data",
        type=Path,
        help="without --external: the run's data set, if it moved since training (default: where it was "
        "trained); with --external: another labelled data set (manifest.csv or class folders)",
    )
    parser.add_argument(
        "--external",
        action="store_true",
        help="external validation: score every slice of --data into its own report folder",
    )
    parser.add_argument(
        "--out", type=Path, help="report folder for --external (default: RUN/external/NAME-OF-DATA)"
    )
    parser.add_argument(
        "--url",
        help="with --external: score through the model served by Triton at this gRPC address (host:port) "
        "instead of model.keras (default: model.keras)",
    )
    parser.add_argument(
        "--model", help="with --url: the served model's name (default: the run's architecture)"
    )
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples (default: the run's setting)")
    parser.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="score the readable files and list the unreadable ones (saved as skipped.txt) instead of "
        "stopping",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --external report folder"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema evaluate`; options that only mean something with --external are refused without it."""
    arguments = build_parser().parse_args(argv)
    if arguments.external:
        return _external(arguments)
    given = [
        flag for flag in ("out", "url", "model", "skip_unreadable", "overwrite") if getattr(arguments, flag)
    ]
    if given:
        flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
        verb = "applies" if len(given) == 1 else "apply"
        raise UsageError(f"{flags} {verb} only to an external validation: add --external and --data OTHER")
    from training.evaluate import evaluate_run

    metrics = evaluate_run(arguments.run, arguments.data, arguments.bootstrap)
    part = metrics["run"].get("evaluated_on", "test")  # validation when trained with --test-fraction 0
    print(
        f"{part} accuracy {format_estimate(metrics['accuracy'])} on {metrics['count']} {part} images; "
        f"report: {arguments.run / REPORT_FILE}"
    )
    print("\n".join(console_summary(metrics)))
    return 0


def _external(arguments: argparse.Namespace) -> int:
    from evaluation.external import evaluate_external

    if arguments.data is None:
        raise UsageError("--external needs --data: the labelled data set to validate on")
    settings = ExternalSettings(
        run=arguments.run,
        data=arguments.data,
        out=arguments.out,
        url=arguments.url,
        model=arguments.model,
        bootstrap_samples=arguments.bootstrap,
        skip_unreadable=arguments.skip_unreadable,
        overwrite=arguments.overwrite,
    )
    metrics = evaluate_external(settings)
    through = f" through Triton at {settings.url}" if settings.url else ""
    print(
        f"external validation{through}: accuracy {format_estimate(metrics['accuracy'])} on "
        f"{metrics['count']} images from {metrics['bootstrap']['groups']} patients of {settings.data}; "
        f"report: {settings.report_folder / REPORT_FILE}"
    )
    print("\n".join(console_summary(metrics)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
