"""report.md: the ratios, the goals met or missed (and why), the measurement tables, int8, environment."""

from __future__ import annotations

from pathlib import Path

from bench.report_tables import (
    compute_section,
    format_figure,
    gpu_section,
    in_process_section,
    markdown_table,
    section,
    triton_section,
)
from bench.results import BenchResults
from emphysema.versions import instruction_set

REPORT_FILENAME = "report.md"
PLOT_FILENAME = "throughput_latency.png"


def ratio_section(results: BenchResults) -> str:
    """Each ratio with its numerator and denominator."""
    rows = (
        [
            name.replace("_", " "),
            f"**{format_figure(ratio.value)}**",
            *(f"{term.label}: {format_figure(term.value)}" for term in (ratio.numerator, ratio.denominator)),
            ratio.meaning,
        ]
        for name, ratio in results.ratios.items()
    )
    return section(
        "## The ratios", markdown_table(["ratio", "value", "numerator", "denominator", "meaning"], rows)
    )


def goal_section(results: BenchResults) -> str:
    """Target, measured, verdict and margin per goal; a note for each goal not met."""
    rows, notes = [], []
    for goal in results.goals:
        measured = "not measured" if goal.measured is None else format_figure(goal.measured)
        if goal.met is None:
            verdict, margin = "not judged" if goal.measured is not None else "–", "–"
            notes.append(f"- **{goal.name}**: {'not measured: ' if goal.measured is None else ''}{goal.why}.")
        else:
            verdict, margin = "met" if goal.met else "**missed**", f"{goal.margin:+.0%}"
        rows.append([goal.goal, f"{goal.target:g}", measured, verdict, margin])
        if goal.met is False:
            notes.append(
                f"- **{goal.name}** missed by {-goal.margin:.0%}: {goal.why}. "
                f"What would close it: {goal.what_would_close_it}."
            )
    table = markdown_table(["goal", "target", "measured", "verdict", "vs target"], rows)
    return section("## Goals", table, "\n".join(notes))


def int8_section(results: BenchResults) -> str:
    """The int8 export's accuracy change, from its model card."""
    int8 = results.model.int8
    if int8 is None:
        return section(
            "## int8", "No int8 export in the repository; `emphysema export --precision int8` makes one."
        )
    change = int8.accuracy_change or {}
    accuracy = "its model card records no accuracy change"
    if "accuracy" in change:
        accuracy = (
            f"accuracy on the {change.get('split', 'evaluation')} split ({change.get('samples', '?')} "
            f"scans): fp32 {change['fp32_accuracy']:.4f} -> int8 {change['accuracy']:.4f} (change "
            f"{change['accuracy_change']:+.4f}), agreement with fp32 {change['agreement_with_fp32']:.3f}"
        )
    return section("## int8", f"Export version {int8.version}: {accuracy} (from its model_card.json).")


def environment_section(results: BenchResults) -> str:
    """CPU, memory, load, packages, Triton, inputs, duration."""
    environment, inputs, cpu = results.environment, results.inputs, results.environment.cpu
    start, end = (  # printed as lists, as the first results were
        None if load is None else list(load)
        for load in (environment.load_average_at_start, environment.load_average_at_end)
    )
    lines = [
        f"- CPU: {cpu['model']} ({cpu['machine']}), {cpu['cores']} cores, "
        f"{instruction_set(cpu['flags'])}; features: {', '.join(cpu['flags'])}",
        f"- Memory: {environment.memory_gib} GiB; OS: {environment.os}",
        f"- Load average (1, 5, 15 min) at start {start}, at end {end}",
        f"- Packages: {', '.join(f'{name} {version}' for name, version in environment.packages.items())}",
        f"- Triton {results.triton.server['version']}; perf_analyzer from the tritonclient 2.50.0 wheel",
        f"- Inputs: {inputs.count} synthetic scans ({inputs.source}), seed {inputs.seed}, the same for "
        "every path",
        f"- Run: {environment.date_utc}, {results.duration_seconds:.0f} s",
    ]
    return section("## Environment", "\n".join(lines))


def render_report(results: BenchResults) -> str:
    """Return report.md's text."""
    model = results.model
    exports = [
        f"- {facts.precision} export (version {facts.version}): `{facts.export_command}`"
        for facts in (model.fp32, model.int8)
        if facts is not None and facts.export_command
    ]
    mode = " (quick smoke run: short windows, few levels)" if results.settings.quick else ""
    header = section(
        f"# Benchmark: {model.name} at {model.image_size} px{mode}",
        f"Command: `{results.command}`",
        "Every figure below was measured in this one run, on this machine, on the same exported model "
        f"(`{model.fp32.onnx}`, version {model.fp32.version}) and the same synthetic inputs.",
        "\n".join([f"- Keras source: `{model.keras}`", *exports]),
        f"![throughput vs latency]({PLOT_FILENAME})",
    )
    sections = (ratio_section, goal_section, triton_section, in_process_section, compute_section)
    sections += (int8_section, gpu_section, environment_section)
    return "\n".join([header, *(render(results) for render in sections)])


def write_report(results: BenchResults, folder: Path) -> Path:
    """Write report.md into ``folder``."""
    path = folder / REPORT_FILENAME
    path.write_text(render_report(results), encoding="utf-8")
    return path
