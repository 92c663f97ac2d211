"""report.md: the ratios, the goals met or missed (and why), the measurement tables, int8, environment."""

from __future__ import annotations

from pathlib import Path

from bench import report_tables
from bench.report_tables import format_figure, markdown_table
from bench.results import BenchResults, ExportFacts
from emphysema.versions import instruction_set

REPORT_FILENAME = "report.md"
PLOT_FILENAME = "throughput_latency.png"


def ratio_lines(results: BenchResults) -> list[str]:
    """The ratios section: each ratio with its numerator and denominator."""
    rows = [
        [
            name.replace("_", " "),
            f"**{format_figure(ratio.value)}**",
            f"{ratio.numerator.label}: {format_figure(ratio.numerator.value)}",
            f"{ratio.denominator.label}: {format_figure(ratio.denominator.value)}",
            ratio.meaning,
        ]
        for name, ratio in results.ratios.items()
    ]
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
            notes.append(
                f"- **{goal.name}** missed by {-goal.margin:.0%}: {goal.why}. "
                f"What would close it: {goal.what_would_close_it}."
            )
    header = ["goal", "target", "measured", "verdict", "vs target"]
    return ["## Goals", "", *markdown_table(header, rows), "", *notes, ""]


def int8_lines(results: BenchResults) -> list[str]:
    """int8 section: the export's accuracy change from its model card."""
    int8 = results.model.int8
    if int8 is None:
        missing = "No int8 export in the repository; `emphysema export --precision int8` makes one."
        return ["## int8", "", missing, ""]
    change = int8.accuracy_change or {}
    accuracy = "its model card records no accuracy change"
    if "accuracy" in change:
        accuracy = (
            f"accuracy on the {change.get('split', 'evaluation')} split ({change.get('samples', '?')} "
            f"scans): fp32 {change['fp32_accuracy']:.4f} -> int8 {change['accuracy']:.4f} (change "
            f"{change['accuracy_change']:+.4f}), agreement with fp32 {change['agreement_with_fp32']:.3f}"
        )
    return ["## int8", "", f"Export version {int8.version}: {accuracy} (from its model_card.json).", ""]


def environment_lines(results: BenchResults) -> list[str]:
    """Environment section: CPU, memory, load, packages, Triton, inputs, duration."""
    environment, inputs = results.environment, results.inputs
    cpu = environment.cpu
    packages = ", ".join(f"{name} {version}" for name, version in environment.packages.items())
    # Printed as lists, as the first results were.
    start, end = (
        None if load is None else list(load)
        for load in (environment.load_average_at_start, environment.load_average_at_end)
    )
    return [
        "## Environment",
        "",
        f"- CPU: {cpu['model']} ({cpu['machine']}), {cpu['cores']} cores, "
        f"{instruction_set(cpu['flags'])}; features: {', '.join(cpu['flags'])}",
        f"- Memory: {environment.memory_gib} GiB; OS: {environment.os}",
        f"- Load average (1, 5, 15 min) at start {start}, at end {end}",
        f"- Packages: {packages}",
        f"- Triton {results.triton.server['version']}; perf_analyzer from the tritonclient 2.50.0 wheel",
        f"- Inputs: {inputs.count} synthetic scans ({inputs.source}), seed {inputs.seed}, the same for every "
        "path",
        f"- Run: {environment.date_utc}, {results.duration_seconds:.0f} s",
        "",
    ]


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
    sections = (
        ratio_lines,
        goal_lines,
        report_tables.triton_lines,
        report_tables.in_process_lines,
        report_tables.compute_lines,
        int8_lines,
        report_tables.gpu_lines,
        environment_lines,
    )
    for section in sections:
        lines += section(results)
    return "\n".join(lines)


def write_report(results: BenchResults, folder: Path) -> Path:
    """Write report.md into ``folder``."""
    path = folder / REPORT_FILENAME
    path.write_text(render_report(results), encoding="utf-8")
    return path
