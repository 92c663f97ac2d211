"""The studies-per-minute table of `bench.pacs_throughput`, rendered from its JSON (docs link it)."""

from __future__ import annotations


def render_table(document: dict) -> str:
    """Markdown: the command, the machine and its load, the model, and one row per worker count."""
    cpu, model, studies = document["cpu"], document["model"], document["studies"]
    singles = [run["studies_per_minute"] for run in document["runs"] if run["workers"] == 1]
    single = sum(singles) / len(singles) if singles else None
    lines = [
        "# Studies per minute from a PACS, by worker count",
        "",
        f"{document['what']}.",
        "",
        "Made by:",
        "",
        "```bash",
        document["command"],
        "```",
        "",
        f"Code: commit `{document.get('commit') or 'unknown'}`; every study's analysis writes the report "
        "(JSON, PDF), the overlay, the map and the DICOM SEG, SR and encapsulated PDF, all stored back.",
        "",
        f"CPU: {cpu['model']}, {cpu['cores']} cores usable ({cpu['instruction_set']}). Load average "
        f"{document['load_average_before'][0]:g} before, {document['load_average_after'][0]:g} after"
        + (
            ": the machine was shared with other jobs, so the figures are noisy and low."
            if document["shared_machine"]
            else "."
        ),
        f"Model: `{model['name']}` ({model['architecture'] or 'unknown architecture'}, "
        f"{model['image_size']} px input, ONNX SHA-256 `{model['onnx_sha256'][:12]}`), exported with "
        f"`{model['export_command'] or 'unknown'}`.",
        f"Studies: {studies['count']} {studies['size']} phantom studies, every {studies['slice_step']}th "
        "lung slice analysed.",
        "",
        "| run | workers | studies analysed | wall time | studies / min | vs 1 worker (mean) | tiles / s | "
        "mean read + segment + write per study | mean tile + classify per study |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for order, run in enumerate(document["runs"], start=1):
        steps = run["mean_study_seconds"]
        # Runs before analyze's six-step split recorded tile and classify as one step.
        classify = steps.get("tile_and_classify", steps.get("tile", 0) + steps.get("inference", 0))
        other = sum(steps.values()) - classify
        speed_up = f"{run['studies_per_minute'] / single:.2f}x" if single else "-"
        lines.append(
            f"| {order} | {run['workers']} | {run['studies_analysed']} | {run['seconds']:.1f} s | "
            f"{run['studies_per_minute']:.2f} | {speed_up} | {run['tiles'] / run['seconds']:.0f} | "
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
