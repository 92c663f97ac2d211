"""`emphysema predict`'s output, written result by result so that output cut short stays usable.

Each prediction is written and flushed the moment its request is answered. A run that stops
early (Triton fails mid-way, Ctrl-C, SIGTERM, SIGHUP) closes the output properly:

- table: the line naming the model (name, version, field of view), the header, one aligned line
  per file (column widths come from the file list, known up front), then the lung footnote;
- CSV: the header, then one complete row per file;
- JSON: one document, ``{"model": {...}, "predictions": [...], "errors": [...], "unfinished": [...],
  "disclaimer": ...}``, with each prediction object on its own line. The closing part is written
  on every exit the process sees; only SIGKILL leaves it open (every line before it is complete).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from client.contract import ModelInfo
from client.report import (
    CSV_FIELDS,
    DECIMALS,
    DISCLAIMER,
    TABLE_HEADER,
    Result,
    json_record,
    model_document,
    not_lung_footnote,
    prediction_rows,
    table_cells,
)

FORMATS = ("table", "csv", "json")
# "PLE*" and "0.000" are the widest cells of the prediction and probability columns.
PREDICTION_WIDTH = len("prediction")
PROBABILITY_WIDTH = len(f"{0:.{DECIMALS}f}")


class ResultWriter:
    """Writes predictions in one format to a stream, each as soon as it is known.

    Call `write` for every result, then `close` exactly once (also after a failure). Set ``model``
    (the served model's `ModelInfo`) before the first `write`: the output names it at the top.
    """

    def __init__(self, output_format: str, files: Sequence[Path], stream: TextIO) -> None:
        if output_format not in FORMATS:
            raise ValueError(f"output format must be one of {', '.join(FORMATS)}, got {output_format!r}")
        self.output_format = output_format
        self.stream = stream
        self.written = 0
        self.model: ModelInfo | None = None
        self._flagged = 0
        self._started = False
        longest_file = max((len(str(path)) for path in files), default=0)
        self._widths = [
            max(len("file"), longest_file),
            PREDICTION_WIDTH,
            *(max(len(name), PROBABILITY_WIDTH) for name in TABLE_HEADER[2:]),
        ]
        self._csv = csv.DictWriter(stream, fieldnames=CSV_FIELDS, lineterminator="\n")

    def write(self, result: Result) -> None:
        """Write one file's prediction and flush it."""
        self._start()
        row = prediction_rows([result], self.model)[0]
        self._flagged += not row["looks_like_lung"]
        if self.output_format == "table":
            self.stream.write(self._table_line(table_cells(row)) + "\n")
        elif self.output_format == "csv":
            self._csv.writerow(row)
        else:
            separator = ",\n" if self.written else "\n"
            self.stream.write(separator + json.dumps(json_record(row)))
        self.written += 1
        self.stream.flush()

    def close(self, errors: Sequence[str], unfinished: Sequence[Path]) -> None:
        """Finish the output: the table's footnote or the rest of the JSON document.

        CSV needs nothing more: its rows are complete as written.
        """
        self._start()
        if self.output_format == "table" and self._flagged:
            self.stream.write(not_lung_footnote(self._flagged) + "\n")
        elif self.output_format == "json":
            closing = {
                "errors": list(errors),
                "unfinished": [str(path) for path in unfinished],
                "disclaimer": DISCLAIMER,
            }
            # The closing members, spliced after the predictions array of the open document.
            self.stream.write("\n]," + json.dumps(closing, indent=2)[1:] + "\n")
        self.stream.flush()

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.output_format == "table":
            if self.model is not None:
                self.stream.write(self.model.describe() + "\n")
            self.stream.write(self._table_line(list(TABLE_HEADER)) + "\n")
        elif self.output_format == "csv":
            self._csv.writeheader()
        else:
            self.stream.write('{"model": ' + json.dumps(model_document(self.model)) + ',\n "predictions": [')
        self.stream.flush()

    def _table_line(self, cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, self._widths, strict=True)).rstrip()
