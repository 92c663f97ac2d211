"""The readable Markdown report of an evaluation (``report.md``), and the lines printed under it.

The report describes the data it was given: a run's own test split or an external data set, and
calls it the synthetic phantom only when the data set says so (``facts["phantom"]``).
"""

from __future__ import annotations

from imaging.classes import SEVERITIES


def _percent(estimate: dict | float | None) -> str:
    value = estimate.get("value") if isinstance(estimate, dict) else estimate
    return "n/a" if value is None else f"{100 * value:.1f} %"


def format_interval(interval: list | None, percent: bool = True) -> str:
    """``"(75.1-90.7)"``: a 95 % interval in percent (or as a fraction), or ``"(n/a)"``."""
    low, high = interval if interval else (None, None)
    if low is None or high is None:
        return "(n/a)"
    return f"({100 * low:.1f}-{100 * high:.1f})" if percent else f"({low:.3f}-{high:.3f})"


def format_estimate(estimate: dict, percent: bool = True) -> str:
    """``"84.4 % (75.1-90.7)"`` (or ``"0.912 (0.850-0.960)"``): a value with its 95 % interval."""
    interval = format_interval(estimate.get("ci95"), percent)
    if percent:
        return f"{_percent(estimate)} {interval}"
    value = estimate.get("value")
    return f"{'n/a' if value is None else f'{value:.3f}'} {interval}"


def _row(cells: list) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _score_cells(scores: dict) -> list[str]:
    """Precision, recall, F1 (percent) and ROC-AUC (fraction), each with its interval."""
    percent_cells = [format_estimate(scores[name]) for name in ("precision", "recall", "f1")]
    return [*percent_cells, format_estimate(scores["roc_auc"], percent=False)]


def collapse_warning(metrics: dict) -> str | None:
    """The warning for a model that predicts fewer classes than it has, or None."""
    predicted = [name for name, count in metrics.get("predicted_counts", {}).items() if count]
    present = len(metrics.get("classes", []))
    if len(predicted) >= present:
        return None
    return (
        f"WARNING: the model predicts only {len(predicted)} of {present} classes "
        f"({', '.join(predicted) or 'none'}) on these images: it has not learnt to tell them apart"
    )


def _describe_data(metrics: dict, run: dict) -> str:
    """Which images were scored: the run's own test split, or every slice of an external data set."""
    patients = run.get("test_patients", metrics["bootstrap"]["groups"])
    kind = "the synthetic phantom (`emphysema synth`)" if run.get("phantom") else "the data set given"
    if run.get("external"):
        return (
            f"- External validation on `{run['data']}`, {kind}: every slice, {metrics['count']} images from "
            f"{patients} patients; the model was trained on `{run['trained_on']}`, and none of these files "
            "is one of its training or validation scans."
        )
    part = run.get("evaluated_on", "test")
    lines = [
        f"- Data: `{run['data']}`, {kind}; {part} split: {metrics['count']} images from {patients} "
        f"patients ({_describe_split(run)})."
    ]
    if part == "validation":
        lines.append(
            "- **No test split** (trained with `--test-fraction 0`): these figures are on the validation "
            "patients, which also chose the best epoch, so they are optimistic."
        )
    return "\n".join(lines)


def _describe_split(run: dict) -> str:
    if run.get("split", "patient") == "patient":
        return f"patient-grouped: no patient is in both training and {run.get('evaluated_on', 'test')}"
    return (
        f"image-level, as in the paper: {run.get('test_patients_seen_in_training', 'some')} of these "
        "patients also have slices in training"
    )


def image_split_warning(split: str) -> list[str]:
    """Report lines warning that an image-level split's figure overstates accuracy (none otherwise)."""
    if split == "patient":
        return []
    return [
        "> **Warning: image-level split.** Slices of the same patient are in training and in test, as in "
        "the paper, so this accuracy overstates accuracy on new patients. Train with `--split patient` "
        "(the default) for that figure.",
        "",
    ]


def render_report(metrics: dict, run: dict) -> str:
    """Return the Markdown report for ``metrics`` (from ``compute_metrics``) and run facts ``run``.

    ``run`` holds ``name``, ``architecture``, ``image_size``, ``weights``, ``data``, and optionally
    ``phantom`` (the data set is the synthetic phantom), ``external`` with ``trained_on`` (an
    external validation) and ``served`` (the Triton model and address the images went through).
    """
    classes = metrics["classes"]
    accuracy, macro, bootstrap = metrics["accuracy"], metrics["macro"], metrics["bootstrap"]
    served = f"; scored through Triton: {run['served']}" if run.get("served") else ""
    warning = collapse_warning(metrics)
    lines = [
        f"# Evaluation: {run['architecture']} ({run['name']})",
        "",
        *([f"**{warning}.**", ""] if warning else []),
        *image_split_warning(run.get("split", "patient")),
        _describe_data(metrics, run),
        f"- Model: `{run['architecture']}`, input {run['image_size']} px, "
        f"weights `{run['weights']}`{served}.",
        f"- **Accuracy: {format_estimate(accuracy)}** (Wilson 95 % CI over images); "
        f"{bootstrap['unit']}-level bootstrap 95 % CI {format_interval(accuracy.get('bootstrap_ci95'))}.",
        "- Macro precision {}, recall {}, F1 {}, one-vs-rest ROC-AUC {}.".format(*_score_cells(macro)),
        "",
        f"Intervals other than Wilson's are percentile bootstrap intervals from {bootstrap['samples']} "
        f"resamples of {bootstrap['groups']} {bootstrap['unit']}s (seed {bootstrap['seed']}): resampling "
        "patients keeps correlated slices of one patient together, so the intervals are not falsely narrow.",
        "",
        "## Per class",
        "",
        "| class | support | precision | recall | F1 | ROC-AUC |",
        "|---|---:|---|---|---|---|",
    ]
    for name in classes:
        scores = metrics["per_class"][name]
        lines.append(_row([name, scores["support"], *_score_cells(scores)]))
    lines.append(_row(["**macro**", metrics["count"], *_score_cells(macro)]))
    lines += [
        "",
        "## Confusion matrix (rows true, columns predicted)",
        "",
        _row(["true \\ predicted", *classes]),
        "|---|" + "---:|" * len(classes),
    ]
    for name, counts in zip(classes, metrics["confusion_matrix"], strict=True):
        lines.append(_row([name, *counts]))
    predicted = ", ".join(f"{name} {count}" for name, count in metrics["predicted_counts"].items())
    lines += ["", f"Predicted class counts: {predicted}.", "", "![confusion matrix](confusion_matrix.png)"]
    if metrics.get("by_severity"):
        lines += ["", "## Accuracy by severity", "", "| severity | images | accuracy (Wilson 95 % CI) |"]
        lines.append("|---|---:|---|")
        for severity, entry in metrics["by_severity"].items():
            lines.append(_row([severity, entry["count"], format_estimate(entry["accuracy"])]))
    caveat = (
        " Scores on the synthetic phantom say nothing about accuracy on patients."
        if run.get("phantom")
        else ""
    )
    lines += ["", f"> Research use only, not for diagnosis.{caveat}", ""]
    return "\n".join(lines)


def console_summary(metrics: dict) -> list[str]:
    """The lines printed after training or evaluation, under the test accuracy line.

    Accuracy per severity (trace and mild cases are meant to be hard), and a warning that cannot be
    missed when the model predicts fewer classes than the test set holds.
    """
    lines = []
    by_severity = metrics.get("by_severity") or {}
    for severity in [name for name in SEVERITIES if name in by_severity]:
        entry = by_severity[severity]
        lines.append(f"  {severity:>8}: {format_estimate(entry['accuracy'])} on {entry['count']} images")
    warning = collapse_warning(metrics)
    return lines + ([warning] if warning else [])
