"""Predictions as people and programs read them: a text table, CSV, JSON, and the disclaimer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from client.contract import Prediction
from imaging.contract import CLASS_NAMES
from imaging.lung_likeness import NOT_LUNG_WARNING, LungLikeness

# 21 CFR 809.10(c)(2)(i) wording for research-use-only products; shown with every result.
DISCLAIMER = "For research use only. Not for use in diagnostic procedures."
# A file (path or upload name), the model's prediction for it, and whether the image looks like lung.
Result = tuple[str | Path, Prediction, LungLikeness]
# The lung-likeness fields every row carries after the prediction (see LungLikeness.as_record).
LUNG_FIELDS = ("looks_like_lung", "lung_fraction", "warning")


def prediction_rows(results: Sequence[Result]) -> list[dict[str, object]]:
    """One flat row per file: file, prediction, each class's probability (4 decimals), the lung check."""
    return [
        {"file": str(path), "prediction": prediction.label,
         **{name: round(prediction.probabilities[name], 4) for name in CLASS_NAMES},
         **lung.as_record()}
        for path, prediction, lung in results
    ]


TABLE_HEADER = ("file", "prediction", *CLASS_NAMES)
CSV_FIELDS = ("file", "prediction", *CLASS_NAMES, *LUNG_FIELDS)


def table_cells(row: dict[str, object]) -> list[str]:
    """The table's cells for one row of `prediction_rows`; a prediction for a non-lung image ends in ``*``."""
    label = f"{row['prediction']}{'' if row['looks_like_lung'] else '*'}"
    return [str(row["file"]), label, *(f"{row[name]:.3f}" for name in CLASS_NAMES)]


def not_lung_footnote(flagged: int) -> str:
    """The line under a table explaining the ``*`` of `flagged` images."""
    return f"* {flagged} image(s): {NOT_LUNG_WARNING}"


def json_record(row: dict[str, object]) -> dict[str, object]:
    """One row of `prediction_rows` as the JSON output's prediction object."""
    return {"file": row["file"], "prediction": row["prediction"],
            "probabilities": {name: row[name] for name in CLASS_NAMES},
            **{field: row[field] for field in LUNG_FIELDS}}


def format_table(results: Sequence[Result]) -> str:
    """Format predictions as an aligned text table, one row per file.

    A file that does not look like lung has its prediction marked ``*`` and a footnote under the table.
    """
    header = list(TABLE_HEADER)
    rows = [table_cells(row) for row in prediction_rows(results)]
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
             for line in [header, *rows]]
    flagged = sum(not lung.looks_like_lung for _, _, lung in results)
    if flagged:
        lines.append(not_lung_footnote(flagged))
    return "\n".join(lines)


def format_csv(results: Sequence[Result]) -> str:
    """Format predictions as CSV: file, prediction, one probability column per class, the lung check."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(prediction_rows(results))
    return buffer.getvalue().rstrip("\n")


def format_json(results: Sequence[Result], errors: list[str]) -> str:
    """Format predictions (and the files that failed) as one JSON document."""
    predictions = [json_record(row) for row in prediction_rows(results)]
    return json.dumps({"predictions": predictions, "errors": errors, "disclaimer": DISCLAIMER}, indent=2)
