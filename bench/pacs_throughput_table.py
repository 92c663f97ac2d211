"""The studies-per-minute table of `bench.pacs_throughput`, rendered from its JSON (docs link it)."""

from __future__ import annotations

from bench.pacs_throughput_results import PacsThroughputResults


def render_table(results: PacsThroughputResults) -> str:
    """Markdown: the command, the machine and its load, the model, and one row per worker count."""
    cpu, model, studies = results.cpu, results.model, results.studies
    singles = [run.studies_per_minute for run in results.runs if run.workers == 1]
    single = sum(singles) / len(singles) if singles else None
    lines = [
        "# Studies per minute from a PACS, by worker count",
        "",
        f"{results.what}.",
        "",
        "Made by:",
        "",
        "```bash",
        results.command,
        "```",
        "",
        f"Code: commit `{results.commit or 'unknown'}`; every study's analysis writes the report "
        "(JSON, PDF), the overlay, the map and the DICOM SEG, SR and encapsulated PDF, all stored back.",
        "",
        f"CPU: {cpu['model']}, {cpu['cores']} cores usable ({cpu['instruction_set']}). Load average "
        f"{results.load_average_before[0]:g} before, {results.load_average_after[0]:g} after"
        + (
            ": the machine was shared with other jobs, so the figures are noisy and low."
            if results.shared_machine
            else "."
        ),
        f"Model: `{model.name}` ({model.architecture or 'unknown architecture'}, "
        f"{model.image_size} px input, ONNX SHA-256 `{model.onnx_sha256[:12]}`), exported with "
        f"`{model.export_command or 'unknown'}`.",
        f"Studies: {studies.count} {studies.size} phantom studies, one lung slice in {studies.slice_step} "
        "analysed.",
        "",
        "| run | workers | studies analysed | wall time | studies / min | vs 1 worker (mean) | tiles / s | "
        "mean read, segment, summarise and write per study | mean tile + classify per study |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for order, run in enumerate(results.runs, start=1):
        steps = run.mean_study_seconds
        # Runs before analyze's six-step split recorded tile and classify as one step.
        classify = steps.get("tile_and_classify", steps.get("tile", 0) + steps.get("inference", 0))
        other = sum(steps.values()) - classify
        speed_up = f"{run.studies_per_minute / single:.2f}x" if single else "-"
        lines.append(
            f"| {order} | {run.workers} | {run.studies_analysed} | {run.seconds:.1f} s | "
            f"{run.studies_per_minute:.2f} | {speed_up} | {run.tiles / run.seconds:.0f} | "
            f"{other:.2f} s | {classify:.1f} s |"
        )
    lines += [
        "",
        "Runs are listed in the order they ran. Wall time runs from the workers' start (process "
        "start-up and imports included) until the "
        "last one exits; each worker fetches its studies over WADO-RS, analyses them through the one "
        "Triton and stores the results back over STOW-RS.",
        "",
    ]
    return "\n".join(lines)
