"""Reading a training run folder: its settings, its inference model and the scans of its split."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from export.settings import ExportError
from imaging.classes import class_index
from imaging.hounsfield import LungWindow

SPLIT_PARTS: tuple[str, ...] = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """What the exporter needs from ``runs/NAME``.

    Attributes:
        folder: the run folder.
        settings: the run's resolved training settings (``settings.json``).
        architecture: the trained architecture, e.g. ``"inceptionv3"``.
        image_size: the model's input size S (input is ``(S, S, 1)``).
        window: the lung window the model was trained with.
        split: part name (train/validation/test) -> the scans in it, as (path, label) pairs.
    """

    folder: Path
    settings: dict[str, Any]
    architecture: str
    image_size: int
    window: LungWindow
    split: dict[str, list[tuple[Path, str]]]

    @property
    def evaluation_part(self) -> str:
        """The held-out part used for checks: the test split, else the validation split."""
        for part in ("test", "validation"):
            if self.split.get(part):
                return part
        raise ExportError(f"{self.folder / 'split.json'}: no test or validation scans to check the export on")


def read_run(folder: str | Path) -> TrainingRun:
    """Read and validate a run folder written by ``emphysema train``.

    Raises:
        ExportError: naming the missing or malformed file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: run folder not found (train one with `emphysema train --out {folder}`)")
    for name in ("model.keras", "settings.json", "split.json"):
        if not (folder / name).is_file():
            raise ExportError(f"{folder / name}: missing; is {folder} a finished training run?")
    settings = _read_json(folder / "settings.json")
    try:
        architecture = str(settings["architecture"])
        image_size = int(settings["image_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise ExportError(
            f"{folder / 'settings.json'}: needs 'architecture' and 'image_size' ({error})"
        ) from None
    data_root = Path(settings["data"]) if settings.get("data") else None
    split = _read_split(folder / "split.json", data_root)
    return TrainingRun(folder, settings, architecture, image_size, _read_window(settings), split)


def load_keras_model(run: TrainingRun):
    """Load the run's inference model (``model.keras``)."""
    import keras

    # The training builders register their custom layers on import; loading needs them known.
    try:
        importlib.import_module("training.models")
    except ModuleNotFoundError:
        pass
    path = run.folder / "model.keras"
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad archive; report them all the same way.
        raise ExportError(f"{path}: cannot be loaded as a Keras model ({error})") from error


def load_part(run: TrainingRun, part: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return uint8 model inputs ``(N, S, S, 1)`` and class indices ``(N,)`` of one split part.

    The scans go through the same pixel pipeline as training and serving (``read_scan`` then
    ``to_model_input``), so the checks run on exactly what the model will see.
    """
    from imaging.readers import read_scan
    from imaging.scan import to_model_input

    entries = run.split.get(part, [])[:limit]
    if not entries:
        raise ExportError(f"{run.folder / 'split.json'}: the {part!r} part lists no scans")
    missing = [str(path) for path, _ in entries if not path.is_file()]
    if missing:
        raise ExportError(
            f"{run.folder / 'split.json'}: {len(missing)} {part} scan(s) not found, "
            f"e.g. {missing[0]} (was the data folder moved?)"
        )
    images = np.stack(
        [
            to_model_input(read_scan(path), run.image_size, run.window)
            for path, _ in tqdm(entries, desc=f"reading {part} scans", unit="scan", leave=False)
        ]
    )
    labels = np.array([class_index(label) for _, label in entries], dtype=np.int64)
    return images, labels


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(f"{path}: not readable JSON ({error})") from None


def _read_window(settings: dict[str, Any]) -> LungWindow:
    window = settings.get("window")
    if isinstance(window, dict):
        return LungWindow(width=float(window["width"]), level=float(window["level"]))
    if "window_width" in settings and "window_level" in settings:
        return LungWindow(width=float(settings["window_width"]), level=float(settings["window_level"]))
    return LungWindow()


def _read_split(path: Path, data_root: Path | None) -> dict[str, list[tuple[Path, str]]]:
    """Read the split that ``emphysema train`` wrote.

    Accepted: ``{"data": ROOT, "parts": {"test": {"paths": [...]}, ...}}`` (what training writes),
    or parts given directly as lists; an entry is a path (relative to the data root, or
    absolute) or a ``{"path", "label"}`` record. Entries without a label take it from the data
    folder (manifest.csv or class folders).
    """
    document = _read_json(path)
    if not isinstance(document, dict):
        raise ExportError(f"{path}: expected a JSON object with train/validation/test parts")
    if document.get("data"):
        data_root = Path(document["data"])
    parts = document.get("parts", document)
    if not isinstance(parts, dict) or not any(part in parts for part in SPLIT_PARTS):
        raise ExportError(f"{path}: expected {', '.join(SPLIT_PARTS)} parts listing scans")
    known_labels: dict[Path, str] | None = None
    split: dict[str, list[tuple[Path, str]]] = {}
    for part in SPLIT_PARTS:
        listed = parts.get(part) or []
        if isinstance(listed, dict):
            listed = listed.get("paths") or []
        entries = []
        for entry in listed:
            record = entry if isinstance(entry, dict) else {"path": entry}
            scan_path = Path(record["path"])
            if not scan_path.is_absolute() and data_root is not None:
                scan_path = data_root / scan_path
            label = record.get("label")
            if label is None:
                if known_labels is None:
                    known_labels = _labels_in(data_root, path)
                label = known_labels.get(scan_path.resolve())
                if label is None:
                    raise ExportError(f"{path}: {scan_path} is not in the data set at {data_root}")
            entries.append((scan_path, str(label)))
        split[part] = entries
    return split


def _labels_in(data_root: Path | None, split_path: Path) -> dict[Path, str]:
    if data_root is None or not data_root.is_dir():
        raise ExportError(
            f"{split_path}: lists scans without labels and the run's data folder "
            f"{data_root} is not available to look them up"
        )
    from imaging.dataset import read_dataset

    samples = read_dataset(data_root, require_all_classes=False)
    return {Path(sample.path).resolve(): sample.label for sample in samples}
