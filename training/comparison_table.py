"""The comparison table of `emphysema compare`: the paper's Table I as Markdown, JSON and a bar chart."""

from __future__ import annotations

import json
from pathlib import Path

from imaging.contract import CLASS_NAMES
from training.report import format_estimate, image_split_warning
from training.runs import write_text_atomically

TABLE_FILES = ("comparison.md", "comparison.json", "comparison.png")
# A model that puts more than this share of its test predictions in one class has nearly collapsed,
# even if it predicts the other classes now and then.
DOMINANT_SHARE = 0.75


def provenance_lines(document: dict) -> list[str]:
    """The commands that made the data and the table, as a Markdown code block."""
    made_by = [document["data_made_by"]] if document.get("data_made_by") else []
    return ["Made by:", "", "```bash", *made_by, document["command"], "```", ""]


def render_table(document: dict) -> str:
    """The Markdown Table I with CIs, the command that made it, and how to read it."""
    lines = [
        "# Architecture comparison (Table I)",
        "",
        *image_split_warning(document.get("split", "patient")),
        *provenance_lines(document),
        f"Data: `{document['data']}`. Evaluation: {document['evaluation']}. "
        f"Image size {document['settings']['image_size']} px, up to {document['settings']['epochs']} epochs, "
        f"batch {document['settings']['batch_size']}, seed {document['settings']['seed']}.",
        "",
        "| model | weights | accuracy (95 % CI) | macro precision (95 % CI) | macro recall (95 % CI) "
        "| macro F1 | ROC-AUC | classes predicted | epochs | train time |",
        "|---|---|---|---|---|---|---|---:|---:|---:|",
    ]
    for row in document["models"]:
        cells = [
            row["model"],
            row["weights"],
            format_estimate(row["accuracy"]),
            format_estimate(row["precision"]),
            format_estimate(row["recall"]),
            f"{100 * row['f1']['value']:.1f} %",
            f"{row['roc_auc']['value']:.3f}",
            f"{row['classes_predicted']} of 4",
            str(row["epochs_trained"]),
            f"{row['training_seconds'] / 60:.1f} min",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    test = document["models"][0]
    lines += [
        "",
        f"{test['test_images']} test images from {test['test_patients']} patients, "
        f"{describe_test_patients(document)}. "
        "Accuracy intervals are Wilson score intervals over images; precision and recall "
        "intervals are percentile bootstraps that resample patients. Macro averages weight the four classes "
        "equally.",
        "",
        describe_learning(document["models"]),
        "",
        "![comparison](comparison.png)",
        "",
        # The committed comparisons predate the "phantom" key and were all made on the phantom.
        (
            "> On synthetic phantom data these scores describe the pipelines on held-out synthetic patients, "
            "not accuracy on real patients. "
            if document.get("phantom", True)
            else "> Research use only, not for diagnosis. "
        )
        + "The paper reported 98.88 % for InceptionV3 (ImageNet weights) on "
        "an image-level split of 447 private images; image-level splits leak patients.",
        "",
    ]
    return "\n".join(lines)


def describe_test_patients(document: dict) -> str:
    """Whether the test patients were seen in training: never with the patient split."""
    if document.get("split", "patient") == "patient":
        return "none of whom any model saw in training"
    seen = document.get("test_patients_seen_in_training", "some")
    return f"{seen} of whom also have slices in training (image-level split, as in the paper)"


def dominant_class(row: dict) -> tuple[str, float]:
    """The most often predicted class and its share of the test predictions (``("", 0.0)`` if unknown)."""
    counts = row.get("predicted_counts") or {}
    total = sum(counts.values())
    if not total:
        return "", 0.0
    label = max(counts, key=counts.get)
    return label, counts[label] / total


def chance_accuracy(row: dict) -> float:
    """Accuracy of always answering the test set's most common class (1/4 without a confusion matrix)."""
    matrix = row.get("confusion_matrix")
    if not matrix:
        return 1.0 / len(CLASS_NAMES)
    class_totals = [sum(true_row) for true_row in matrix]
    return max(class_totals) / max(sum(class_totals), 1)


def learns(row: dict, interval: str = "ci95") -> bool:
    """Whether a model beats chance (its accuracy interval lies above it) and predicts several classes."""
    bounds = row["accuracy"].get(interval)
    return bool(bounds) and bounds[0] > chance_accuracy(row) and row["classes_predicted"] > 1


def describe_learning(rows: list[dict]) -> str:
    """One sentence, computed from the rows, saying which models learn and which do not (and why)."""
    chance = max(chance_accuracy(row) for row in rows)
    learning = [row["model"] for row in rows if learns(row)]
    failing = []
    for row in rows:
        if learns(row):
            continue
        reasons = []
        if row["classes_predicted"] <= 1:
            reasons.append("predicts a single class")
        bounds = row["accuracy"].get("ci95")
        if not bounds or bounds[0] <= chance_accuracy(row):
            reasons.append("accuracy interval reaches chance")
        failing.append(f"{row['model']} ({', '.join(reasons)})")
    sentence = (
        f"Chance is {100 * chance:.1f} % (always the most common test class). "
        f"Beat chance with the whole accuracy interval and predict more than one class: "
        + (
            f"{', '.join(learning) or 'none'}; do not: {', '.join(failing)}."
            if failing
            else f"every model ({', '.join(learning)})."
        )
    )
    dominated = [
        f"{row['model']} ({label} {100 * share:.0f} %)"
        for row in rows
        for label, share in [dominant_class(row)]
        if share > DOMINANT_SHARE
    ]
    if dominated:
        sentence += (
            f" Nearly collapsed (over {100 * DOMINANT_SHARE:.0f} % of test predictions in one class): "
            f"{', '.join(dominated)}."
        )
    strict = [row["model"] for row in rows if learns(row, "bootstrap_ci95")]
    if any(row["accuracy"].get("bootstrap_ci95") for row in rows):
        sentence += (
            " Treating each patient's slices as one unit (patient-bootstrap accuracy interval), "
            f"still above chance: {', '.join(strict) or 'none'}."
        )
    return sentence


def write_comparison(document: dict, folder: Path) -> None:
    """Write ``comparison.md``, ``comparison.json`` and ``comparison.png`` into ``folder``."""
    from training.plots import plot_comparison

    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomically(folder / "comparison.json", json.dumps(document, indent=2) + "\n")
    write_text_atomically(folder / "comparison.md", render_table(document))
    plot_comparison(
        document["models"],
        folder / "comparison.png",
        f"Test scores with 95 % CIs ({document['models'][0]['test_images']} test images)",
        chance=max(chance_accuracy(row) for row in document["models"]),
    )
