"""A finished run folder, read once: its settings, its split and its model.

Evaluate, export and bench all start from ``runs/NAME``; this is the one reader, so they agree
on which scans are held out, in which window they are shown and how ``model.keras`` is loaded.
Nothing heavy is imported until a model or images are asked for.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from imaging.dataset import labels_to_indices, load_images, read_dataset
from imaging.hounsfield import LungWindow
from imaging.samples import Sample
from training.errors import TrainingError
from training.runs import MODEL_FILE, SETTINGS_FILE, SPLIT_FILE, load_split_paths, relative_sample_path
from training.settings import TrainSettings, load_settings


class RunError(TrainingError):
    """A run folder, or a file in it, that cannot be used; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Run:
    """What ``emphysema train`` left in a run folder.

    Attributes:
        folder: the run folder.
        settings: the run's resolved training settings (``settings.json``).
        split: part (train/validation/test) -> sample paths relative to the data root.
        data_root: the data set the split refers to (the one trained on, unless moved).
        unreadable: files of the data set that cannot be read, once it has been read (one line each).
    """

    folder: Path
    settings: TrainSettings
    split: dict[str, list[str]]
    data_root: Path
    unreadable: list[str] = dataclasses.field(default_factory=list, compare=False)

    @property
    def architecture(self) -> str:
        """The trained architecture, e.g. ``"inceptionv3"``."""
        return self.settings.architecture

    @property
    def image_size(self) -> int:
        """The model's input side S (the input is ``(S, S, 1)``)."""
        return self.settings.image_size

    @property
    def window(self) -> LungWindow:
        """The lung window the model was trained with."""
        return self.settings.window

    @property
    def evaluation_part(self) -> str:
        """The held-out part used for checks: the test split, else the validation split."""
        for part in ("test", "validation"):
            if self.split.get(part):
                return part
        raise RunError(f"{self.folder / SPLIT_FILE}: no test or validation scans to check on")

    @functools.cached_property
    def _dataset(self) -> dict[str, Sample]:
        if not self.data_root.is_dir():
            raise RunError(
                f"{self.data_root}: data folder not found; pass --data with the data set the run used"
            )
        # Files the split does not name (a stray notes.txt, a scan left out with --skip-unreadable)
        # do not concern the run: they are set aside here; a split scan among them is reported below.
        samples = read_dataset(self.data_root, require_all_classes=False, skipped=self.unreadable)
        return {relative_sample_path(sample.path, self.data_root): sample for sample in samples}

    def samples(self, part: str, limit: int | None = None) -> list[Sample]:
        """The samples of one split part, in the split's order (the first ``limit`` of them).

        Raises:
            RunError: the part is empty, or lists scans the data set does not hold.
        """
        wanted = self.split.get(part, [])[:limit]
        if not wanted:
            raise RunError(f"{self.folder / SPLIT_FILE}: the {part!r} part lists no scans")
        missing = [path for path in wanted if path not in self._dataset]
        if missing:
            unreadable = (
                f" {len(self.unreadable)} file(s) there cannot be read (first: {self.unreadable[0]})."
                if self.unreadable
                else ""
            )
            raise RunError(
                f"{self.folder / SPLIT_FILE}: {len(missing)} of {len(wanted)} {part} scans are not in the "
                f"data set at {self.data_root} (first: {missing[0]}).{unreadable} Pass --data with the data "
                "set the run was trained on; to validate the model on another data set, add --external."
            )
        return [self._dataset[path] for path in wanted]

    def load_part(
        self, part: str, limit: int | None = None, progress: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Uint8 model inputs ``(N, S, S, 1)`` and class indices ``(N,)`` of one split part.

        The scans go through the pixel pipeline training and serving share (``read_scan`` then
        ``to_model_input``), so every check runs on exactly what the model sees. ``progress``
        shows the reading's progress bar.
        """
        samples = self.samples(part, limit)
        return load_images(samples, self.image_size, self.window, progress), labels_to_indices(samples)

    def load_model(self):
        """Load ``model.keras`` for inference (no optimizer state)."""
        return load_keras_model(self.folder / MODEL_FILE)


def read_run(folder: str | Path, data: str | Path | None = None) -> Run:
    """Read and check a run folder written by ``emphysema train``.

    Args:
        folder: ``runs/NAME``.
        data: the data set root, when it moved since training (default: the one in settings.json).

    Raises:
        RunError: naming the missing file.
        TrainingError: naming the settings or split file that cannot be read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: run folder not found (train one with `emphysema train --out {folder}`)")
    for name in (MODEL_FILE, SETTINGS_FILE, SPLIT_FILE):
        if not (folder / name).is_file():
            raise RunError(f"{folder / name}: missing; is {folder} a finished training run?")
    settings = load_settings(folder / SETTINGS_FILE)
    split = load_split_paths(folder / SPLIT_FILE)
    return Run(folder, settings, split, Path(data if data is not None else settings.data))


def load_keras_model(path: Path):
    """Load a saved inference model, naming the file when it is missing or cannot be loaded."""
    import keras

    # The saved model names the training stage's registered layers; importing them registers them.
    from training import preprocessing  # noqa: F401

    if not path.is_file():
        raise RunError(f"{path}: no trained model here")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # zip, h5 and deserialisation errors come in many types
        raise RunError(f"{path}: cannot load the model ({type(error).__name__}: {error})") from error
