"""`emphysema bench study`: one phantom study analysed end to end in steps, served against in process.

Writes ``OUT/results.json`` (every figure, the settings, the CPU and load), ``OUT/report.md``
(rendered from it) and ``OUT/study_bench_settings.json``, atomically: a failed run leaves the
previous results as they were.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.study_results import StudyBenchResults
from bench.study_settings import SIZES, StudyBenchSettings
from imaging.staging import staged_files

RESULTS_NAME, REPORT_NAME, SETTINGS_NAME = "results.json", "report.md", "study_bench_settings.json"


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema bench study` command line; defaults come from StudyBenchSettings."""
    defaults = StudyBenchSettings()
    parser = argparse.ArgumentParser(prog="emphysema bench study", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=defaults.model, help="served ROI model name (default: %(default)s)"
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
        "--url",
        help="measure the Triton already serving the repository's model at this gRPC address, e.g. a "
        "GPU server (default: start the embedded Triton over --repository)",
    )
    parser.add_argument(
        "--size", choices=SIZES, default=defaults.size, help="phantom study matrix (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="phantom seed (default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="onnxruntime threads, in process and in the embedded Triton (default: all %(default)s cores)",
    )
    parser.add_argument(
        "--rois",
        type=int,
        default=defaults.comparison_rois,
        help="ROIs of the study each path classifies per round (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=defaults.rounds,
        help="alternating rounds per path (default: %(default)s)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=defaults.end_to_end_runs,
        help="end-to-end analyses of the study; the fastest counts (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no step messages")
    return parser


def write_results(results: StudyBenchResults) -> None:
    """Write results.json, report.md and the settings into the results' ``settings.out`` all at once."""
    from bench.results_json import write_json
    from bench.study_report import render_report

    with staged_files(results.settings.out) as folder:
        write_json(results, folder / RESULTS_NAME)
        (folder / REPORT_NAME).write_text(render_report(results), encoding="utf-8")
        write_json(results.settings, folder / SETTINGS_NAME)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study benchmark; the goals are reported, never the exit status (0 once measured)."""
    from bench.goals import judge_study
    from bench.study_pipeline import run_study_bench
    from bench.study_report import verdict_text

    arguments = build_parser().parse_args(argv)
    settings = StudyBenchSettings(
        model=arguments.model,
        repository=arguments.repository,
        out=arguments.out,
        url=arguments.url,
        size=arguments.size,
        seed=arguments.seed,
        threads=arguments.threads,
        comparison_rois=arguments.rois,
        rounds=arguments.rounds,
        end_to_end_runs=arguments.runs,
    )
    command = " ".join(["emphysema bench study", *(sys.argv[3:] if argv is None else argv)])
    results = judge_study(run_study_bench(settings, command, quiet=arguments.quiet))
    write_results(results)
    tiles, wall = results.end_to_end.tiles["count"], results.end_to_end.wall_seconds
    print(f"bench study: {tiles} tiles in {wall:.1f} s; wrote {settings.out}")
    for goal in results.goals:
        print(f"bench study:   {goal.goal}: {goal.measured:g} -> {verdict_text(goal).strip('*')}")
    return 0
