"""The settings of an external validation: which run, which data set, which model, where to write."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from imaging.errors import UsageError

EXTERNAL_FOLDER = "external"
SETTINGS_FILE = "evaluation_settings.json"


@dataclasses.dataclass(frozen=True)
class ExternalSettings:
    """One external validation, resolved; saved as ``evaluation_settings.json`` beside its report.

    Attributes:
        run: the run folder whose frozen model is scored.
        data: the other labelled data set (manifest or class folders); every slice is scored.
        out: the report folder (default ``RUN/external/NAME-OF-DATA``).
        url: Triton's gRPC address to score through, or None for the run's ``model.keras``.
        model: the served model name (with ``url``; default the run's architecture, export's default).
        bootstrap_samples: patient-bootstrap resamples (None: the run's setting).
        skip_unreadable: leave out unreadable files and list them instead of stopping.
        overwrite: replace an existing report folder.
    """

    run: Path
    data: Path
    out: Path | None = None
    url: str | None = None
    model: str | None = None
    bootstrap_samples: int | None = None
    skip_unreadable: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.model is not None and self.url is None:
            raise UsageError("--model names a served model: give --url too, or leave --model out")
        if self.bootstrap_samples is not None and self.bootstrap_samples < 0:
            raise UsageError(f"--bootstrap must be 0 or more, got {self.bootstrap_samples}")

    @property
    def report_folder(self) -> Path:
        """``out``, or ``RUN/external/NAME`` after the data folder's name."""
        return self.out if self.out is not None else self.run / EXTERNAL_FOLDER / self.data.resolve().name

    def to_json(self, architecture: str, bootstrap_samples: int) -> str:
        """The resolved settings as JSON (paths absolute, the run's defaults filled in)."""
        values = dataclasses.asdict(self)
        values.update(
            bootstrap_samples=bootstrap_samples,
            run=str(self.run.resolve()),
            data=str(self.data.resolve()),
            out=str(self.report_folder.resolve()),
            model=self.model or (architecture if self.url else None),
            scored_with="triton" if self.url else "keras",
        )
        return json.dumps(values, indent=2) + "\n"
