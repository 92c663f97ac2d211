"""The study benchmark's goals and its report.md, rendered from results.json alone (a test re-renders it)."""

from __future__ import annotations

from typing import Any

from bench.study_pipeline import IN_PROCESS, SERVED
from bench.study_settings import GOAL_END_TO_END_SECONDS, GOAL_OTHER_STEPS_SHARE, GOAL_SERVED_RATIO, STEPS


def served_ratios(comparison: dict[str, Any]) -> dict[int, float]:
    """Served / in-process ROIs per second at each batch size."""
    return {
        entry["batch_size"]: round(entry[SERVED]["rois_per_second"] / entry[IN_PROCESS]["rois_per_second"], 3)
        for entry in comparison["batches"]
    }


def _verdict(measured: float, target: float, at_most: bool, judged: str | None) -> dict[str, Any]:
    met = measured <= target if at_most else measured >= target
    return {"measured": measured, "target": target, "met": None if judged else met, "not_judged": judged}


def assess_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's three goals, each met, not met, or not judged (and why)."""
    end_to_end, comparison = results["end_to_end"], results["comparison"]
    cores = results["environment"]["cpu"]["cores"]
    roi_model = end_to_end["model"]["field_of_view_source"] == "model"
    judged_study = None
    if results["study"]["size"] != "full":
        judged_study = f"a {results['study']['size']} study, not a full-size one"
    elif not roi_model:
        judged_study = "the model has no field_of_view_mm: not an ROI model"
    wall = end_to_end["wall_seconds"]
    other_share = round(1 - end_to_end["steps"]["inference"] / wall, 3)
    ratio = served_ratios(comparison)[comparison["max_batch_size"]]
    return [
        {
            "name": f"full-size study end to end on {cores} cores, seconds",
            "rule": f"<= {GOAL_END_TO_END_SECONDS:g} s on 2 cores with the default ROI model",
            **_verdict(wall, GOAL_END_TO_END_SECONDS, True, judged_study),
        },
        {
            "name": "share of the wall time outside inference",
            "rule": f"<= {GOAL_OTHER_STEPS_SHARE:.0%}: inference is the dominant cost",
            **_verdict(other_share, GOAL_OTHER_STEPS_SHARE, True, judged_study),
        },
        {
            "name": f"served / in-process ROIs per second at batch {comparison['max_batch_size']}",
            "rule": f">= {GOAL_SERVED_RATIO:g}x at the model's max_batch_size (the batch analyze sends)",
            **_verdict(ratio, GOAL_SERVED_RATIO, False, None),
        },
    ]


def _verdict_text(goal: dict[str, Any]) -> str:
    if goal["met"] is None:
        return f"not judged ({goal['not_judged']})"
    return "met" if goal["met"] else "**not met**"


def _header(results: dict[str, Any]) -> list[str]:
    environment, study, end_to_end = results["environment"], results["study"], results["end_to_end"]
    cpu, model, tiles = environment["cpu"], end_to_end["model"], end_to_end["tiles"]
    settings = end_to_end["analysis_settings"]
    return [
        "# Study analysis benchmark: one study end to end, served against in process",
        "",
        f"Generated from `results.json` (`{results['command']}`, {environment['date_utc']}, "
        f"{results['duration_seconds']:.0f} s in all).",
        "",
        f"- **CPU**: {cpu['model']}, {cpu['cores']} usable cores, {cpu['instruction_set']}; load average "
        f"(1, 5, 15 min) {environment['load_average_at_start']} at the start and "
        f"{environment['load_average_at_end']} at the end; niceness {environment['nice']}.",
        f"- **Study**: phantom, {study['size']} ({study['matrix']} px matrix), {study['pattern']} "
        f"{study['severity']}, seed {study['seed']}, {study['slice_thickness_mm']:g} mm slices: "
        f"{' x '.join(map(str, end_to_end['shape']))} voxels (slices, rows, columns), spacing "
        f"{end_to_end['spacing_mm']} mm; generated in {study['generate_seconds']:.0f} s (not timed).",
        f"- **Model**: `{model['name']}` version {model['versions']}, {model['image_size']} px input, field "
        f"of view {model['field_of_view_mm']:g} mm (from the {model['field_of_view_source']}).",
        f"- **Analysis**: `emphysema analyze`'s defaults ({settings['stride_mm']:g} mm cells, every "
        f"{settings['slice_step']}th lung slice): {tiles['count']} tiles of {tiles['side_px']} px on "
        f"{tiles['analysed_slices']} slices.",
        "",
    ]


def _steps(end_to_end: dict[str, Any]) -> list[str]:
    wall = end_to_end["wall_seconds"]
    lines = ["## End to end", "", "| step | seconds | share of the wall time |", "|---|---|---|"]
    for name in STEPS:
        seconds = end_to_end["steps"][name]
        lines.append(f"| {name} | {seconds:.2f} | {seconds / wall:.1%} |")
    total = sum(end_to_end["steps"].values())
    lines += [
        f"| sum of the steps | {total:.2f} | {total / wall:.1%} |",
        f"| **wall time** | **{wall:.2f}** | |",
    ]
    tiles_per_second = end_to_end["tiles"]["count"] / wall
    walls = end_to_end["all_wall_seconds"]
    runs = ", ".join(f"{seconds:.1f}" for seconds in walls)
    return [
        *lines,
        "",
        f"{tiles_per_second:.0f} tiles per second end to end. The fastest of {len(walls)} analyses of "
        f"the study (wall times {runs} s; the first one's ROIs are compared below).",
        "",
    ]


def _comparison(comparison: dict[str, Any]) -> list[str]:
    paths = [name for name in comparison["batches"][0] if name != "batch_size"]
    ratios = served_ratios(comparison)
    lines = [
        "## ROIs per second on the same ROIs",
        "",
        f"{comparison['rois']} ROIs of the study (evenly spaced among all its tiles, as analyze sent them), "
        f"each path in {len(comparison['batches'][0][IN_PROCESS]['round_seconds'])} alternating rounds, "
        f"the fastest counting. `{SERVED}`: {comparison['served_by']}, over gRPC with "
        f"{comparison['request_concurrency']} requests in flight (analyze's client); `{IN_PROCESS}`: "
        f"the same ONNX file (version {comparison['onnx']['version']}) in this process, "
        f"{comparison['onnx']['threads']} threads, one batch after another.",
        "",
        f"| batch size | {' | '.join(paths)} | served / in process |",
        f"|---|{'---|' * len(paths)}---|",
    ]
    for entry in comparison["batches"]:
        speeds = " | ".join(f"{entry[name]['rois_per_second']:.0f}" for name in paths)
        lines.append(f"| {entry['batch_size']} | {speeds} | {ratios[entry['batch_size']]:.2f} |")
    lines.append("")
    for name, agreement in comparison["label_agreement_with_in_process"].items():
        lines.append(
            f"- `{name}` labels {agreement['same']} of {agreement['of']} ROIs as `{IN_PROCESS}` does."
        )
    for name, reason in comparison["gpu_skipped"].items():
        lines.append(f"- {name} not measured: {reason}.")
    return [*lines, ""]


def render_report(results: dict[str, Any]) -> str:
    """The whole report.md for one results.json."""
    lines = [*_header(results), *_steps(results["end_to_end"]), *_comparison(results["comparison"])]
    lines += ["## Goals", "", "| goal | rule | measured | verdict |", "|---|---|---|---|"]
    for goal in results["goals"]:
        lines.append(f"| {goal['name']} | {goal['rule']} | {goal['measured']:g} | {_verdict_text(goal)} |")
    return "\n".join(lines) + "\n"
