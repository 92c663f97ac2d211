"""The paper's protocol next to ours: one comparison under the image split and the patient split.

`emphysema compare --split patient,image` trains every model twice, on the same data and settings,
once on a patient-grouped split and once on the paper's random image-level split, and writes
``comparison.json`` (this module's document) and ``comparison.md`` (rendered from that JSON only).
The accuracy the image split adds is the part of a figure like the paper's 98.88 % that comes from
testing on patients the model has already seen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from emphysema.versions import cpu_facts
from training.comparison_table import learns, provenance_lines
from training.report import format_estimate
from training.runs import write_text_atomically

# Table I of the paper: InceptionV3 with ImageNet weights, random image-level split of 447 slices.
PAPER = {"model": "inceptionv3", "weights": "imagenet", "accuracy": 0.9888, "images": 447, "split": "image"}
SPLIT_FACTS = ("evaluation", "test_patients_seen_in_training")


def accuracy_gain(image_row: dict, patient_row: dict) -> dict:
    """Image-split minus patient-split accuracy, with Newcombe's 95 % interval from the Wilson intervals.

    The two test sets are different images, so the difference of two independent proportions fits.
    """
    image, patient = image_row["accuracy"], patient_row["accuracy"]
    (image_low, image_high), (patient_low, patient_high) = image["ci95"], patient["ci95"]
    gain = image["value"] - patient["value"]
    return {
        "value": gain,
        "ci95": [
            gain - math.hypot(image["value"] - image_low, patient_high - patient["value"]),
            gain + math.hypot(image_high - image["value"], patient["value"] - patient_low),
        ],
    }


def build_split_comparison(documents: dict[str, dict], command: str) -> dict:
    """Join the patient-split and image-split comparison documents of `compare_models` model by model.

    Raises:
        ValueError: a split is missing, or the two comparisons differ in models or settings.
    """
    if set(documents) != {"patient", "image"}:
        raise ValueError(
            f"a split comparison needs the patient and the image split, got {', '.join(documents)}"
        )
    patient, image = documents["patient"], documents["image"]
    settings = {key: value for key, value in patient["settings"].items() if key != "split"}
    if settings != {key: value for key, value in image["settings"].items() if key != "split"}:
        raise ValueError("the patient-split and image-split comparisons used different settings")
    if [row["model"] for row in patient["models"]] != [row["model"] for row in image["models"]]:
        raise ValueError("the patient-split and image-split comparisons trained different models")
    rows = []
    for patient_row, image_row in zip(patient["models"], image["models"], strict=True):
        gain = accuracy_gain(image_row, patient_row)
        distance_to_paper = PAPER["accuracy"] - patient_row["accuracy"]["value"]
        rows.append(
            {
                "model": patient_row["model"],
                "weights": patient_row["weights"],
                "patient": patient_row,
                "image": image_row,
                "accuracy_gain": gain,
                # The share of the way from this model's patient-split accuracy to 98.88 % that the
                # image split covers.
                "share_of_distance_to_paper": gain["value"] / distance_to_paper
                if distance_to_paper > 0
                else None,
            }
        )
    return {
        "command": command,
        "data_made_by": patient.get("data_made_by"),
        "data": patient["data"],
        "cpu": cpu_facts(),
        "settings": settings,
        "paper": PAPER,
        "splits": {
            kind: {
                **{key: documents[kind][key] for key in SPLIT_FACTS},
                "test_images": documents[kind]["models"][0]["test_images"],
                "test_patients": documents[kind]["models"][0]["test_patients"],
            }
            for kind in ("patient", "image")
        },
        "models": rows,
    }


def _points(estimate: dict) -> str:
    low, high = estimate["ci95"]
    return f"{100 * estimate['value']:+.1f} ({100 * low:+.1f} to {100 * high:+.1f})"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f} %"


def render_split_comparison(document: dict) -> str:
    """The Markdown side-by-side table and what it says, from the JSON document alone."""
    settings, splits, paper, cpu = (
        document["settings"],
        document["splits"],
        document["paper"],
        document["cpu"],
    )
    lines = [
        "# The paper's protocol: image-level split next to patient-grouped split",
        "",
        "> **Warning: the image-split column** has slices of the same patient in training and in test, as "
        "in the paper, so it overstates accuracy on new patients. The patient-split column is the figure "
        "for new patients.",
        "",
        *provenance_lines(document),
        f"Data: `{document['data']}`. Same data, settings and part sizes for both splits: image size "
        f"{settings['image_size']} px, up to {settings['epochs']} epochs, batch {settings['batch_size']}, "
        f"seed {settings['seed']}. CPU: {cpu['model']} ({cpu['cores']} cores; "
        f"{', '.join(cpu['flags']) or 'no AVX2'}).",
        "",
        f"- Patient split: {splits['patient']['evaluation']}; {splits['patient']['test_images']} test images "
        f"from {splits['patient']['test_patients']} patients, "
        f"{splits['patient']['test_patients_seen_in_training']} of them seen in training.",
        f"- Image split: {splits['image']['evaluation']}; {splits['image']['test_images']} test images "
        f"from {splits['image']['test_patients']} patients, "
        f"{splits['image']['test_patients_seen_in_training']} of them with other slices in training.",
        "",
        "| model | weights | patient split accuracy (95 % CI) | image split accuracy (95 % CI) "
        "| gain, points (95 % CI) | share of the way to 98.88 % | macro F1 patient / image | epochs | "
        "train time |",
        "|---|---|---|---|---|---:|---|---:|---:|",
    ]
    for row in document["models"]:
        patient, image = row["patient"], row["image"]
        cells = [
            row["model"],
            row["weights"],
            format_estimate(patient["accuracy"]),
            format_estimate(image["accuracy"]),
            _points(row["accuracy_gain"]),
            _share(row["share_of_distance_to_paper"]),
            f"{100 * patient['f1']['value']:.1f} % / {100 * image['f1']['value']:.1f} %",
            f"{patient['epochs_trained']} / {image['epochs_trained']}",
            f"{(patient['training_seconds'] + image['training_seconds']) / 60:.1f} min",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_explain(document["models"], paper), ""]
    return "\n".join(lines)


def _explain(rows: list[dict], paper: dict) -> list[str]:
    """Sentences computed from the rows: what the image split adds, and how much of 98.88 % it explains."""
    sentences = []
    for row in rows:
        patient, image = row["patient"]["accuracy"], row["image"]["accuracy"]
        learned = [kind for kind in ("patient", "image") if learns(row[kind])]
        sentences.append(
            f"- {row['model']}: {100 * patient['value']:.1f} % on new patients, {100 * image['value']:.1f} % "
            f"when test slices come from patients seen in training ({_points(row['accuracy_gain'])} points). "
            f"The image split covers {_share(row['share_of_distance_to_paper'])} of the way from its "
            f"patient-split accuracy to the paper's {100 * paper['accuracy']:.2f} %. Beats chance with the "
            f"whole interval: {' and '.join(f'{kind} split' for kind in learned) or 'neither split'}."
        )
    return [
        "Accuracy intervals are Wilson intervals over images; the gain's interval is Newcombe's for two "
        "independent proportions. Share of the way = gain / (98.88 % - patient-split accuracy).",
        "",
        *sentences,
        "",
        f"> The paper reported {100 * paper['accuracy']:.2f} % for {paper['model']} ({paper['weights']} "
        f"weights) on a random image-level split of {paper['images']} private slices. On synthetic "
        "phantom data, how alike one patient's slices are is a property of the phantom, so these gains show "
        "the mechanism and its size here, not the size of the leak in the paper's data.",
    ]


def write_split_comparison(document: dict, folder: Path) -> str:
    """Write ``comparison.json`` and ``comparison.md`` (rendered from that JSON); return the Markdown."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    table = render_split_comparison(json.loads(text))
    write_text_atomically(folder / "comparison.json", text)
    write_text_atomically(folder / "comparison.md", table)
    return table
