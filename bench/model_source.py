"""Which exported model the bench measures: its fp32 (and int8) version, model card and Keras source.

The exporter writes ``model_repository/<model>/<version>/{model.onnx, model_card.json}``; the card
records the precision and the source run, whose ``model.keras`` is the paper-style baseline.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.settings import BenchError
from export.model_repository import (
    CARD_FILENAME,
    CONFIG_FILENAME,
    ONNX_FILENAME,
    onnx_versions,
    read_model_card,
)
from training.runs import MODEL_FILE


@dataclasses.dataclass(frozen=True)
class ExportedVersion:
    """One exported version of a model (its folder's name): ``model.onnx`` and ``model_card.json``."""

    model: str
    version: int
    onnx_path: Path
    card: dict[str, Any] | None  # None when the export wrote none

    @property
    def precision(self) -> str:
        """fp32, fp16 or int8, from the card (a version without a card is taken as fp32)."""
        return str((self.card or {}).get("precision", "fp32"))

    @property
    def run_folder(self) -> Path | None:
        """The source run's folder, as the card records it."""
        folder = ((self.card or {}).get("source_run") or {}).get("folder")
        return Path(folder) if folder else None

    @property
    def keras_path(self) -> Path | None:
        """The source run's ``model.keras``."""
        return None if self.run_folder is None else self.run_folder / MODEL_FILE

    @property
    def accuracy_change(self) -> dict[str, Any] | None:
        """The card's evaluation of this graph against the fp32 graph, if the export measured one."""
        return ((self.card or {}).get("checks") or {}).get("evaluation")


def select_versions(
    repository: Path, model: str, version: int | None
) -> tuple[ExportedVersion, ExportedVersion | None]:
    """Pick the fp32 version to measure (``version`` or the newest fp32) and the newest int8 version.

    Raises:
        BenchError: when the model, its config or an fp32 export is missing, with what to run.
        RepositoryError: when a model card is not valid JSON (naming it).
    """
    model_directory = repository / model
    if not (model_directory / CONFIG_FILENAME).is_file():
        raise BenchError(
            f"{model_directory / CONFIG_FILENAME}: not found; export a run first with "
            f"`emphysema export --run runs/NAME --repository {repository} --model {model}`"
        )
    numbers = onnx_versions(model_directory)  # oldest first
    folders = [model_directory / str(number) for number in numbers]
    versions = [
        ExportedVersion(model, number, folder / ONNX_FILENAME, read_model_card(folder))
        for number, folder in zip(numbers, folders, strict=True)
    ]
    fp32 = [entry for entry in versions if entry.precision == "fp32" and version in (None, entry.version)]
    if version is not None and not fp32:
        exported = {entry.version: entry.precision for entry in versions}
        if version not in exported:
            raise BenchError(
                f"{model_directory / str(version) / ONNX_FILENAME}: version {version} is not exported "
                f"(exported: {sorted(exported) or 'none'})"
            )
        raise BenchError(
            f"{model_directory / str(version) / CARD_FILENAME}: version {version} is exported at "
            f"{exported[version]}; pass an fp32 version (the newest int8 export is measured next to it)"
        )
    if not fp32:
        raise BenchError(
            f"{model_directory}: no fp32 export to measure; run `emphysema export --run "
            f"runs/NAME --repository {repository} --model {model}`"
        )
    int8 = [entry for entry in versions if entry.precision == "int8"]
    return fp32[-1], (int8[-1] if int8 else None)
