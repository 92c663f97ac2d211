"""report.md: the ratios, the goals met or missed (and why), then the measurement tables."""

from __future__ import annotations

from pathlib import Path

from bench import report_tables
from bench.report_tables import format_figure, markdown_table
from bench.results import BenchResults, ExportFacts

REPORT_FILENAME = "report.md"
PLOT_FILENAME = "throughput_latency.png"


def ratio_lines(results: BenchResults) -> list[str]:
    """The ratios section: each ratio with its numerator and denominator."""
    rows = [
        [name.replace("_", " "), f"**{format_figure(ratio.value)}**",
         f"{ratio.numerator.label}: {format_figure(ratio.numerator.value)}",
         f"{ratio.denominator.label}: {format_figure(ratio.denominator.value)}", ratio.meaning]
        for name, ratio in results.ratios.items()
    ]  # fmt: skip
    header = ["ratio", "value", "numerator", "denominator", "meaning"]
    return ["## The ratios", "", *markdown_table(header, rows), ""]


def goal_lines(results: BenchResults) -> list[str]:
    """The goals section: target, measured, verdict and margin; a note for each goal not met."""
    rows, notes = [], []
    for goal in results.goals:
        target = f"{goal.target:g}"
        if goal.measured is None:
            rows.append([goal.goal, target, "not measured", "–", "–"])
            notes.append(f"- **{goal.name}**: not measured: {goal.why}.")
        elif goal.met is None:
            rows.append([goal.goal, target, format_figure(goal.measured), "not judged", "–"])
            notes.append(f"- **{goal.name}**: {goal.why}.")
        else:
            verdict = "met" if goal.met else "**missed**"
            rows.append([goal.goal, target, format_figure(goal.measured), verdict, f"{goal.margin:+.0%}"])
        if goal.met is False:
            notes.append(f"- **{goal.name}** missed by {-goal.margin:.0%}: {goal.why}. "
                         f"What would close it: {goal.what_would_close_it}.")  # fmt: skip
    header = ["goal", "target", "measured", "verdict", "vs target"]
    return ["## Goals", "", *markdown_table(header, rows), "", *notes, ""]


def _export_line(facts: ExportFacts | None) -> list[str]:
    if facts is None or not facts.export_command:
        return []
    return [f"- {facts.precision} export (version {facts.version}): `{facts.export_command}`"]


def render_report(results: BenchResults) -> str:
    """Return report.md's text."""
    model = results.model
    mode = " (quick smoke run: short windows, few levels)" if results.settings.quick else ""
    lines = [
        f"# Benchmark: {model.name} at {model.image_size} px{mode}",
        "",
        f"Command: `{results.command}`",
        "",
        "Every figure below was measured in this one run, on this machine, on the same exported model "
        f"(`{model.fp32.onnx}`, version {model.fp32.version}) and the same synthetic inputs.",
        "",
        f"- Keras source: `{model.keras}`",
        *_export_line(model.fp32),
        *_export_line(model.int8),
        "",
        f"![throughput vs latency]({PLOT_FILENAME})",
        "",
    ]
    for section in (ratio_lines, goal_lines, *report_tables.SECTIONS):
        lines += section(results)
    return "\n".join(lines)


def write_report(results: BenchResults, folder: Path) -> Path:
    """Write report.md into ``folder``."""
    path = folder / REPORT_FILENAME
    path.write_text(render_report(results), encoding="utf-8")
    return path
