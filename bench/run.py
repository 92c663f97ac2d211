"""`emphysema bench`: Triton over gRPC against in-process Keras and onnxruntime, and the compute ceiling.

One run measures, on the same exported model and the same synthetic inputs: the paper's Keras
`model.predict` per image; onnxruntime in process at batch 1 and its best batch; Triton under
perf_analyzer with dynamic batching on and off (and the int8 export, if any); dense float32 kernels
as the machine's ceiling. It writes results.json, report.md, the plot and the raw CSVs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.pipeline import run_bench
from bench.results import BenchResults
from bench.settings import QUICK_OVERRIDES, BenchSettings
from imaging.staging import staged_files


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema bench` command line; defaults come from BenchSettings."""
    defaults = BenchSettings()
    parser = argparse.ArgumentParser(
        prog="emphysema bench",
        description=__doc__.splitlines()[0],
        epilog="`emphysema bench study --help`: the study mode (one study end to end, per step).",
    )
    parser.add_argument(
        "--model", default=defaults.model, help="model name in the repository (default: %(default)s)"
    )
    parser.add_argument(
        "--repository",
        type=Path,
        default=defaults.repository,
        help="the exported model repository (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=defaults.out, help="results folder (default: %(default)s)"
    )
    parser.add_argument(
        "--version", type=int, help="fp32 export version to measure (default: the newest fp32)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="onnxruntime threads for every path (default: all %(default)s cores)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: concurrency 1 and 8, short windows, smaller matmul (under 2 minutes)",
    )
    parser.add_argument(
        "--skip-int8", action="store_true", help="do not measure an int8 export even if one exists"
    )
    return parser


def resolve_settings(arguments: argparse.Namespace) -> BenchSettings:
    """Turn the parsed arguments into settings (quick mode replaces the run-length defaults)."""
    chosen = {name: getattr(arguments, name) for name in ("model", "repository", "out", "version", "threads")}
    chosen["include_int8"] = not arguments.skip_int8
    return BenchSettings(**{**(QUICK_OVERRIDES if arguments.quick else {}), **chosen})


def print_summary(results: BenchResults, out: Path) -> None:
    """Say where the report is and each goal's verdict."""
    print(f"bench: wrote {out / 'report.md'} and results.json in {results.duration_seconds:.0f} s")
    for goal in results.goals:
        verdict = "not measured" if goal.met is None else ("met" if goal.met else "MISSED")
        measured = "" if goal.measured is None else f"{goal.measured:.2f} vs "
        print(f"bench:   {goal.name}: {measured}{goal.target:g} -> {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema bench`; what cannot be measured raises (`emphysema.cli` reports it)."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["study"]:  # the study mode has its own command line (bench/study_command.py)
        from bench.study_command import main as study_main

        return study_main(given[1:])
    arguments = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = " ".join(["emphysema bench", *(sys.argv[1:] if argv is None else argv)])
    settings = resolve_settings(arguments)
    with staged_files(settings.out) as staging:
        results = run_bench(settings, command, staging)
    print_summary(results, settings.out)
    return 0
