"""Predictions as people and programs read them: a text table, CSV, JSON, and the disclaimer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from client.contract import Prediction
from imaging.contract import CLASS_NAMES

# 21 CFR 809.10(c)(2)(i) wording for research-use-only products; shown with every result.
DISCLAIMER = "For research use only. Not for use in diagnostic procedures."
# A file (path or upload name) and the model's prediction for it.
Result = tuple[str | Path, Prediction]


def prediction_rows(results: Sequence[Result]) -> list[dict[str, object]]:
    """One flat row per file: file, prediction, then each class's probability (4 decimals)."""
    return [
        {
            "file": str(path),
            "prediction": prediction.label,
            **{name: round(prediction.probabilities[name], 4) for name in CLASS_NAMES},
        }
        for path, prediction in results
    ]


def format_table(results: Sequence[Result]) -> str:
    """Format predictions as an aligned text table, one row per file."""
    header = ["file", "prediction", *CLASS_NAMES]
    rows = [
        [str(row[key]) if key in ("file", "prediction") else f"{row[key]:.3f}" for key in header]
        for row in prediction_rows(results)
    ]
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    return "\n".join(lines)


def format_csv(results: Sequence[Result]) -> str:
    """Format predictions as CSV: file, prediction, then one probability column per class."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["file", "prediction", *CLASS_NAMES], lineterminator="\n")
    writer.writeheader()
    writer.writerows(prediction_rows(results))
    return buffer.getvalue().rstrip("\n")


def format_json(results: Sequence[Result], errors: list[str]) -> str:
    """Format predictions (and the files that failed) as one JSON document."""
    predictions = [
        {
            "file": row["file"],
            "prediction": row["prediction"],
            "probabilities": {name: row[name] for name in CLASS_NAMES},
        }
        for row in prediction_rows(results)
    ]
    return json.dumps({"predictions": predictions, "errors": errors, "disclaimer": DISCLAIMER}, indent=2)
