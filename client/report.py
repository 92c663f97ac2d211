"""Predictions as people and programs read them: a text table, CSV, JSON, and the disclaimer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from client.contract import ModelInfo, Prediction
from imaging.contract import CLASS_NAMES
from imaging.lung_likeness import NOT_LUNG_WARNING, LungLikeness

# 21 CFR 809.10(c)(2)(i) wording for research-use-only products; shown with every result.
DISCLAIMER = "For research use only. Not for use in diagnostic procedures."
# A file (path or upload name), the model's prediction for it, and whether the image looks like lung.
Result = tuple[str | Path, Prediction, LungLikeness]
# The lung-likeness fields every row carries after the prediction (see LungLikeness.as_record).
LUNG_FIELDS = ("looks_like_lung", "lung_fraction", "warning")
# Where a row's prediction came from (see ModelInfo.as_record), last so older readers keep their columns.
MODEL_FIELDS = ("model", "model_version", "field_of_view_mm")
# Every probability, in every format, has this many decimals.
DECIMALS = 4


def prediction_rows(results: Sequence[Result], model: ModelInfo | None = None) -> list[dict[str, object]]:
    """One flat row per file: file, prediction, each class's probability, the lung check, the model."""
    source = model.as_record() if model is not None else {}
    return [
        {
            "file": str(path),
            "prediction": prediction.label,
            **{name: round(prediction.probabilities[name], DECIMALS) for name in CLASS_NAMES},
            **lung.as_record(),
            **source,
        }
        for path, prediction, lung in results
    ]


def model_document(model: ModelInfo | None) -> dict[str, object] | None:
    """The JSON output's ``model`` member: name, version and field of view (None when unknown)."""
    if model is None:
        return None
    return {"name": model.name, "version": model.version, "field_of_view_mm": model.field_of_view_mm}


TABLE_HEADER = ("file", "prediction", *CLASS_NAMES)
CSV_FIELDS = ("file", "prediction", *CLASS_NAMES, *LUNG_FIELDS, *MODEL_FIELDS)


def table_cells(row: dict[str, object]) -> list[str]:
    """The table's cells for one row of `prediction_rows`; a prediction for a non-lung image ends in ``*``."""
    label = f"{row['prediction']}{'' if row['looks_like_lung'] else '*'}"
    return [str(row["file"]), label, *(f"{row[name]:.{DECIMALS}f}" for name in CLASS_NAMES)]


def not_lung_footnote(flagged: int) -> str:
    """The line under a table explaining the ``*`` of `flagged` images."""
    return f"* {flagged} image(s): {NOT_LUNG_WARNING}"


def json_record(row: dict[str, object]) -> dict[str, object]:
    """One row of `prediction_rows` as the JSON output's prediction object."""
    return {
        "file": row["file"],
        "prediction": row["prediction"],
        "probabilities": {name: row[name] for name in CLASS_NAMES},
        **{field: row[field] for field in LUNG_FIELDS},
    }


def format_table(results: Sequence[Result], model: ModelInfo | None = None) -> str:
    """Format predictions as an aligned text table, one row per file, under the line naming the model.

    A file that does not look like lung has its prediction marked ``*`` and a footnote under the table.
    """
    header = list(TABLE_HEADER)
    rows = [table_cells(row) for row in prediction_rows(results)]
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(len(header))]
    lines = [model.describe()] if model is not None else []
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    flagged = sum(not lung.looks_like_lung for _, _, lung in results)
    if flagged:
        lines.append(not_lung_footnote(flagged))
    return "\n".join(lines)


def format_csv(results: Sequence[Result], model: ModelInfo | None = None) -> str:
    """Format predictions as CSV: file, prediction, a probability per class, the lung check, the model."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(prediction_rows(results, model))
    return buffer.getvalue().rstrip("\n")


def format_json(results: Sequence[Result], errors: list[str], model: ModelInfo | None = None) -> str:
    """Format predictions (and the files that failed) as one JSON document naming the model."""
    predictions = [json_record(row) for row in prediction_rows(results)]
    document = {
        "model": model_document(model),
        "predictions": predictions,
        "errors": errors,
        "disclaimer": DISCLAIMER,
    }
    return json.dumps(document, indent=2)
