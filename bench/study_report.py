"""The study benchmark's report.md, rendered from its results alone (a test re-renders the committed one)."""

from __future__ import annotations

from analysis.density_reference import describe_shift
from bench.results import GoalVerdict
from bench.study_results import IN_PROCESS, SERVED, Comparison, EndToEnd, StudyBenchResults
from bench.study_settings import STEPS


def verdict_text(goal: GoalVerdict) -> str:
    """Met, not met, or not judged (and why)."""
    if goal.met is None:
        return f"not judged ({goal.why})"
    return "met" if goal.met else "**not met**"


def _header(results: StudyBenchResults) -> list[str]:
    environment, study, end_to_end = results.environment, results.study, results.end_to_end
    cpu, model, tiles = environment.cpu, end_to_end.model, end_to_end.tiles
    settings = end_to_end.analysis_settings
    return [
        "# Study analysis benchmark: one study end to end, served against in process",
        "",
        f"Generated from `results.json` (`{results.command}`, {environment.date_utc}, "
        f"{results.duration_seconds:.0f} s in all).",
        "",
        f"- **CPU**: {cpu['model']}, {cpu['cores']} usable cores, {cpu['instruction_set']}; load average "
        f"(1, 5, 15 min) {list(environment.load_average_at_start)} at the start and "
        f"{list(environment.load_average_at_end)} at the end; niceness {environment.nice}.",
        f"- **Study**: phantom, {study.size} ({study.matrix} px matrix), {study.pattern} "
        f"{study.severity}, seed {study.seed}, {study.slice_thickness_mm:g} mm slices: "
        f"{' x '.join(map(str, end_to_end.shape))} voxels (slices, rows, columns), spacing "
        f"{list(end_to_end.spacing_mm)} mm; generated in {study.generate_seconds:.0f} s (not timed).",
        f"- **Model**: `{model['name']}` version {model['versions']}, {model['image_size']} px input, field "
        f"of view {model['field_of_view_mm']:g} mm (from the {model['field_of_view_source']}); "
        + describe_shift(model.get("density_reference_hu"), tiles.get("density_shift_hu"))
        + ".",
        f"- **Analysis**: `emphysema analyze`'s defaults ({settings['stride_mm']:g} mm cells, one lung slice "
        f"in {settings['slice_step']}): {tiles['count']} tiles of {tiles['side_px']} px on "
        f"{tiles['analysed_slices']} slices.",
        "",
    ]


def _steps(end_to_end: EndToEnd) -> list[str]:
    wall = end_to_end.wall_seconds
    lines = ["## End to end", "", "| step | seconds | share of the wall time |", "|---|---|---|"]
    for name in STEPS:
        seconds = end_to_end.steps[name]
        lines.append(f"| {name} | {seconds:.2f} | {seconds / wall:.1%} |")
    total = sum(end_to_end.steps.values())
    lines += [
        f"| sum of the steps | {total:.2f} | {total / wall:.1%} |",
        f"| **wall time** | **{wall:.2f}** | |",
    ]
    walls = end_to_end.all_wall_seconds
    runs = ", ".join(f"{seconds:.1f}" for seconds in walls)
    return [
        *lines,
        "",
        f"{end_to_end.tiles['count'] / wall:.0f} tiles per second end to end. The fastest of {len(walls)} "
        f"analyses of the study (wall times {runs} s; the first one's ROIs are compared below).",
        "",
    ]


def _comparison(comparison: Comparison) -> list[str]:
    paths = list(comparison.batches[0].paths)
    lines = [
        "## ROIs per second on the same ROIs",
        "",
        f"{comparison.rois} ROIs of the study (evenly spaced among all its tiles, as analyze sent them), "
        f"each path in {len(comparison.batches[0].paths[IN_PROCESS].round_seconds)} alternating rounds, "
        f"the fastest counting. `{SERVED}`: {comparison.served_by}, over gRPC with "
        f"{comparison.request_concurrency} requests in flight (analyze's client); `{IN_PROCESS}`: "
        f"the same ONNX file (version {comparison.onnx.version}) in this process, "
        f"{comparison.onnx.threads} threads, one batch after another.",
        "",
        f"| batch size | {' | '.join(paths)} | served / in process |",
        f"|---|{'---|' * len(paths)}---|",
    ]
    for batch in comparison.batches:
        speeds = " | ".join(f"{batch.paths[name].rois_per_second:.0f}" for name in paths)
        lines.append(f"| {batch.batch_size} | {speeds} | {batch.served_ratio:.2f} |")
    lines.append("")
    for name, agreement in comparison.label_agreement_with_in_process.items():
        lines.append(f"- `{name}` labels {agreement.same} of {agreement.of} ROIs as `{IN_PROCESS}` does.")
    for name, reason in comparison.gpu_skipped.items():
        lines.append(f"- {name} not measured: {reason}.")
    return [*lines, ""]


def render_report(results: StudyBenchResults) -> str:
    """The whole report.md for one run's results."""
    lines = [*_header(results), *_steps(results.end_to_end), *_comparison(results.comparison)]
    lines += ["## Goals", "", "| goal | target | measured | verdict |", "|---|---|---|---|"]
    for goal in results.goals:
        lines.append(f"| {goal.goal} | {goal.target:g} | {goal.measured:g} | {verdict_text(goal)} |")
    return "\n".join(lines) + "\n"
