"""Result and settings JSON of every bench mode: the one place that turns records into JSON and back.

Records become objects field by field, plus the properties a record names in ``JSON_PROPERTIES``
(written for a reader of the file, ignored on reading); tuples become lists, paths strings.
Reading is driven by the records' type annotations, so a new field needs no code here.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from bench.results import BenchResults
from bench.settings import BenchError

RESULTS_FILENAME = "results.json"
SETTINGS_FILENAME = "bench_settings.json"
Record = TypeVar("Record")


def to_json(value: Any) -> Any:
    """Return ``value`` (a record, or containers of records) as JSON-ready dictionaries and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [field.name for field in dataclasses.fields(value)]
        names += getattr(value, "JSON_PROPERTIES", ())
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def from_json(kind: type[Record], value: Any) -> Record:
    """Rebuild a value of type ``kind`` from its JSON form; keys that are not fields are ignored.

    Raises:
        KeyError, TypeError or ValueError: when ``value`` does not have the shape of ``kind``.
    """
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if value is None:
        return value
    if origin in (typing.Union, types.UnionType):  # an optional field: X | None
        (kind,) = [argument for argument in arguments if argument is not type(None)]
        return from_json(kind, value)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = [field.name for field in dataclasses.fields(kind) if field.init]
        return kind(**{name: from_json(hints[name], value[name]) for name in fields if name in value})
    if origin is tuple:
        return tuple(from_json(arguments[0], item) for item in value)  # type: ignore[return-value]
    if origin is dict:
        return {key: from_json(arguments[1], item) for key, item in value.items()}  # type: ignore[return-value]
    return Path(value) if kind is Path else value  # type: ignore[return-value]


def json_text(value: Any) -> str:
    """A record as indented JSON text (fields in declaration order), as every bench file holds it."""
    return json.dumps(to_json(value), indent=2) + "\n"


def write_json(value: Any, path: Path) -> Path:
    """Write a record as indented JSON (fields in declaration order)."""
    path.write_text(json_text(value), encoding="utf-8")
    return path


def read_json(kind: type[Record], path: Path, what: str) -> Record:
    """Read a record of type ``kind`` from the JSON file ``path``, ``what`` saying which file it should be.

    Raises:
        BenchError: naming the file, when it is missing, not JSON, or not ``what``.
    """
    try:
        return from_json(kind, json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise BenchError(f"{path}: cannot be read ({error.strerror})") from error
    except (KeyError, TypeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise BenchError(f"{path}: not {what} ({error!r})") from error


def read_results(path: Path) -> BenchResults:
    """Read a results.json written by `emphysema bench` (raises BenchError as `read_json` does)."""
    return read_json(BenchResults, path, "the results.json of `emphysema bench`")
