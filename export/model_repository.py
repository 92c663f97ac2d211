"""The Triton model repository on disk, read and written here only.

The layout is ``<repository>/<model>/{config.pbtxt, labels.txt, <version>/{model.onnx,
model_card.json}}``. Export writes it; deploy, bench and every check read it back through these
functions, so a file name, the version rule or the config parser exists once. Only the protobuf
schema is imported (no TensorFlow, no onnx), so the serving side can use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from imaging.contract import CLASS_NAMES
from imaging.errors import EmphysemaError

CONFIG_FILENAME = "config.pbtxt"
LABELS_FILENAME = "labels.txt"
ONNX_FILENAME = "model.onnx"
CARD_FILENAME = "model_card.json"


class RepositoryError(EmphysemaError):
    """A model repository, model folder or file that cannot be used; the message names it."""


def labels_text() -> str:
    """labels.txt: one class name per line, in the model's output order."""
    return "".join(f"{name}\n" for name in CLASS_NAMES)


def config_text(config: model_config_pb2.ModelConfig, header: str = "") -> str:
    """The config.pbtxt text of a model configuration, after an optional comment header."""
    return header + text_format.MessageToString(config)


def read_model_config(path: Path) -> model_config_pb2.ModelConfig:
    """Parse a config.pbtxt with Triton's own schema (comments allowed).

    Raises:
        RepositoryError: naming the file, when it cannot be read or parsed.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RepositoryError(f"cannot read the model configuration {path}: {error}") from error
    try:
        return text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as error:
        raise RepositoryError(f"{path}: not a valid Triton model configuration: {error}") from error


def write_model_config(path: Path, config: model_config_pb2.ModelConfig) -> None:
    """Write a configuration as config.pbtxt (no header: a derived copy, not an export)."""
    Path(path).write_text(config_text(config), encoding="utf-8")


def input_image_size(path: Path) -> int:
    """The square input size S of a model, from its config's first input dims ``[S, S, 1]``.

    Raises:
        RepositoryError: when the input is not a square single-channel image.
    """
    dims = list(read_model_config(path).input[0].dims)
    if len(dims) != 3 or dims[0] != dims[1] or dims[0] < 1:
        raise RepositoryError(f"{path}: expected the input dims [S, S, 1], got {dims}")
    return int(dims[0])


def version_numbers(model_folder: Path) -> list[int]:
    """The integer version folders Triton would see, ascending (hidden or zero-padded names are not)."""
    if not model_folder.is_dir():
        return []
    return sorted(
        int(path.name)
        for path in model_folder.iterdir()
        if path.is_dir() and path.name.isdigit() and not path.name.startswith("0")
    )


def next_version(model_folder: Path) -> int:
    """The version number a new export gets: one above the highest existing one."""
    versions = version_numbers(model_folder)
    return versions[-1] + 1 if versions else 1


def onnx_versions(model_folder: Path) -> tuple[int, ...]:
    """The versions of a model that hold a ``model.onnx``, ascending."""
    return tuple(
        version
        for version in version_numbers(model_folder)
        if (model_folder / str(version) / ONNX_FILENAME).is_file()
    )


def model_folders(repository: Path) -> list[Path]:
    """The model folders (those with a config.pbtxt) of a repository, by name.

    Raises:
        RepositoryError: when the repository is missing, not a folder, or holds no model folder.
    """
    if not repository.exists():
        raise RepositoryError(f"model repository {repository} does not exist")
    if not repository.is_dir():
        raise RepositoryError(f"model repository {repository} is not a folder")
    models = sorted(entry for entry in repository.iterdir() if (entry / CONFIG_FILENAME).is_file())
    if not models:
        raise RepositoryError(f"model repository {repository} is empty: no <model>/{CONFIG_FILENAME} found")
    return models


def write_model_card(version_folder: Path, card: dict[str, Any]) -> None:
    """Write a version's model_card.json."""
    text = json.dumps(card, indent=2) + "\n"
    (version_folder / CARD_FILENAME).write_text(text, encoding="utf-8")


def read_model_card(version_folder: Path) -> dict[str, Any] | None:
    """Read a version's model_card.json; None when the export wrote none.

    Raises:
        RepositoryError: when the card exists but is not readable JSON (naming it).
    """
    path = version_folder / CARD_FILENAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RepositoryError(f"{path}: not a readable model card: {error}") from error
