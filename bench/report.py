"""Write a benchmark's results: results.json, and report.md with the tables, ratios, goals and plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report_tables
from bench.report_tables import format_figure, markdown_table

RESULTS_FILENAME = "results.json"
REPORT_FILENAME = "report.md"
PLOT_FILENAME = "throughput_latency.png"


def write_results(results: dict[str, Any], folder: Path) -> Path:
    """Write results.json (indented, keys in insertion order)."""
    path = folder / RESULTS_FILENAME
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def _ratio_lines(results: dict[str, Any]) -> list[str]:
    rows = [
        [
            name.replace("_", " "),
            f"**{format_figure(ratio['value'])}**",
            f"{ratio['numerator']['label']}: {format_figure(ratio['numerator']['value'])}",
            f"{ratio['denominator']['label']}: {format_figure(ratio['denominator']['value'])}",
            ratio["meaning"],
        ]
        for name, ratio in results["ratios"].items()
    ]
    return [
        "## The ratios",
        "",
        *markdown_table(["ratio", "value", "numerator", "denominator", "meaning"], rows),
        "",
    ]


def _goal_lines(results: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for goal in results["goals"]:
        if goal["measured"] is None:
            rows.append([goal["goal"], f"{goal['target']:g}", "not measured", "–", "–"])
            notes.append(f"- **{goal['name']}**: not measured: {goal['why']}.")
            continue
        if goal["met"] is None:
            measured = format_figure(goal["measured"])
            rows.append([goal["goal"], f"{goal['target']:g}", measured, "not judged", "–"])
            notes.append(f"- **{goal['name']}**: {goal['why']}.")
            continue
        verdict = "met" if goal["met"] else "**missed**"
        rows.append(
            [
                goal["goal"],
                f"{goal['target']:g}",
                format_figure(goal["measured"]),
                verdict,
                f"{goal['margin']:+.0%}",
            ]
        )
        if not goal["met"]:
            notes.append(
                f"- **{goal['name']}** missed by {-goal['margin']:.0%}: {goal['why']}. "
                f"What would close it: {goal['what_would_close_it']}."
            )
    return [
        "## Goals",
        "",
        *markdown_table(["goal", "target", "measured", "verdict", "vs target"], rows),
        "",
        *notes,
        "",
    ]


def _provenance_lines(model: dict[str, Any]) -> list[str]:
    lines = [f"- Keras source: `{model['keras']}`"]
    for precision in ("fp32", "int8"):
        if model.get(precision) and model[precision].get("export_command"):
            lines.append(f"- {precision} export (version {model[precision]['version']}): "
                         f"`{model[precision]['export_command']}`")  # fmt: skip
    return [*lines, ""]


def render_report(results: dict[str, Any]) -> str:
    """Return report.md's text."""
    model = results["model"]
    mode = " (quick smoke run: short windows, few levels)" if results["settings"]["quick"] else ""
    lines = [
        f"# Benchmark: {model['name']} at {model['image_size']} px{mode}",
        "",
        f"Command: `{results['command']}`",
        "",
        "Every figure below was measured in this one run, on this machine, on the same exported model "
        f"(`{model['fp32']['onnx']}`, version {model['fp32']['version']}) and the same synthetic inputs.",
        "",
        *_provenance_lines(model),
        f"![throughput vs latency]({PLOT_FILENAME})",
        "",
    ]
    for section in (
        _ratio_lines,
        _goal_lines,
        report_tables.triton_lines,
        report_tables.in_process_lines,
        report_tables.compute_lines,
        report_tables.int8_lines,
        report_tables.gpu_lines,
        report_tables.environment_lines,
    ):
        lines += section(results)
    return "\n".join(lines)


def write_report(results: dict[str, Any], folder: Path) -> Path:
    """Write report.md."""
    path = folder / REPORT_FILENAME
    path.write_text(render_report(results), encoding="utf-8")
    return path
