"""The comparison table of `emphysema compare`: the paper's Table I as Markdown, JSON and a bar chart."""

from __future__ import annotations

import json
from pathlib import Path

from training.report import format_estimate
from training.runs import write_text_atomically

TABLE_FILES = ("comparison.md", "comparison.json", "comparison.png")


def render_table(document: dict) -> str:
    """The Markdown Table I with CIs, the command that made it, and how to read it."""
    lines = [
        "# Architecture comparison (Table I)",
        "",
        "Made by:",
        "",
        "```bash",
        *([document["data_made_by"]] if document.get("data_made_by") else []),
        document["command"],
        "```",
        "",
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
        f"{test['test_images']} test images from {test['test_patients']} patients, none of whom any model "
        "saw in training. Accuracy intervals are Wilson score intervals over images; precision and recall "
        "intervals are percentile bootstraps that resample patients. Macro averages weight the four classes "
        "equally.",
        "",
        "![comparison](comparison.png)",
        "",
        "> On synthetic phantom data these scores describe the pipelines on held-out synthetic patients, "
        "not accuracy on real patients. The paper reported 98.88 % for InceptionV3 (ImageNet weights) on "
        "an image-level split of 447 private images; image-level splits leak patients.",
        "",
    ]
    return "\n".join(lines)


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
    )
