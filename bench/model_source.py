"""Which exported model the bench measures: its fp32 (and int8) version, model card and Keras source.

The exporter writes ``model_repository/<model>/<version>/{model.onnx, model_card.json}``; the card
records the precision and the source run, whose ``model.keras`` is the paper-style baseline.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bench.settings import BenchError
from deploy.twin import CONFIG_FILENAME, ONNX_FILENAME, onnx_versions, read_model_config

CARD_FILENAME = "model_card.json"


@dataclasses.dataclass(frozen=True)
class ExportedVersion:
    """One exported version of a model.

    Attributes:
        model: the model's name (its folder).
        version: the integer version.
        onnx_path: its ``model.onnx``.
        card: its ``model_card.json``, or None when the export wrote none.
    """

    model: str
    version: int
    onnx_path: Path
    card: dict[str, Any] | None

    @property
    def precision(self) -> str:
        """fp32, fp16 or int8, from the card (a version without a card is taken as fp32)."""
        return str((self.card or {}).get("precision", "fp32"))

    @property
    def keras_path(self) -> Path | None:
        """The source run's ``model.keras``, as the card records it."""
        folder = ((self.card or {}).get("source_run") or {}).get("folder")
        return Path(folder) / "model.keras" if folder else None

    @property
    def accuracy_change(self) -> dict[str, Any] | None:
        """The card's evaluation of this graph against the fp32 graph, if the export measured one."""
        return ((self.card or {}).get("checks") or {}).get("evaluation")


def read_exported_versions(model_directory: Path) -> list[ExportedVersion]:
    """Return every version of a model that holds a ``model.onnx``, oldest first.

    Raises:
        BenchError: when a model card is not valid JSON (naming it).
    """
    versions = []
    for version in onnx_versions(model_directory):
        folder = model_directory / str(version)
        card_path = folder / CARD_FILENAME
        card = None
        if card_path.is_file():
            try:
                card = json.loads(card_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise BenchError(f"{card_path}: not a readable model card: {error}") from error
        versions.append(ExportedVersion(model_directory.name, version, folder / ONNX_FILENAME, card))
    return versions


def select_versions(
    repository: Path, model: str, version: int | None
) -> tuple[ExportedVersion, ExportedVersion | None]:
    """Pick the fp32 version to measure (``version`` or the newest fp32) and the newest int8 version.

    Raises:
        BenchError: when the model, its config or an fp32 export is missing, with what to run.
    """
    model_directory = repository / model
    if not (model_directory / CONFIG_FILENAME).is_file():
        raise BenchError(
            f"{model_directory / CONFIG_FILENAME}: not found; export a run first with "
            f"`emphysema export --run runs/NAME --repository {repository} --name {model}`"
        )
    versions = read_exported_versions(model_directory)
    if version is not None:
        chosen = [entry for entry in versions if entry.version == version]
        if not chosen:
            raise BenchError(
                f"{model_directory / str(version) / ONNX_FILENAME}: version {version} is not exported "
                f"(exported: {[entry.version for entry in versions] or 'none'})"
            )
        fp32 = chosen[0]
        if fp32.precision != "fp32":
            raise BenchError(
                f"{fp32.onnx_path.parent / CARD_FILENAME}: version {version} is exported at "
                f"{fp32.precision}; "
                "pass an fp32 version (the newest int8 export is measured next to it)"
            )
    else:
        candidates = [entry for entry in versions if entry.precision == "fp32"]
        if not candidates:
            raise BenchError(
                f"{model_directory}: no fp32 export to measure; run `emphysema export --run "
                f"runs/NAME --repository {repository} --name {model}`"
            )
        fp32 = candidates[-1]
    int8 = [entry for entry in versions if entry.precision == "int8"]
    return fp32, (int8[-1] if int8 else None)


def model_image_size(repository: Path, model: str) -> int:
    """The square input size S from the committed config (input dims ``[S, S, 1]``).

    Raises:
        BenchError: when the config's input is not a square single-channel image.
    """
    path = repository / model / CONFIG_FILENAME
    dims = list(read_model_config(path).input[0].dims)
    if len(dims) != 3 or dims[0] != dims[1] or dims[0] < 1:
        raise BenchError(f"{path}: expected the input dims [S, S, 1], got {dims}")
    return int(dims[0])
