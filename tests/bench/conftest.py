"""A tiny but real exported run for the bench tests: trained Keras model, fp32 and int8 exports.

The bench needs what a user's repository has: `model.onnx` versions with model cards that point
at the source run's `model.keras`. The scans are 16-bit PNGs in HU + 1024 whose mean attenuation
depends on the class, so a 32 px model learns them in seconds and the int8 accuracy change is a
real measurement.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from imaging.classes import CLASS_NAMES  # noqa: E402
from imaging.hounsfield import UNSIGNED_HU_OFFSET  # noqa: E402

IMAGE_SIZE = 32
MODEL_NAME = "inceptionv3"
CLASS_HOUNSFIELD = {"NT": -1200.0, "CLE": -900.0, "PSE": -600.0, "PLE": -300.0}


def write_scans(data: Path, seed: int = 0) -> dict[str, list[dict[str, str]]]:
    """Write 48 px PNG scans (HU + 1024); return the split as {part: [{"path", "label"}]}."""
    rng = np.random.default_rng(seed)
    split: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
    for part, patients in (("train", 4), ("test", 2)):
        for label in CLASS_NAMES:
            for patient in range(patients):
                for slice_index in range(2):
                    hounsfield = CLASS_HOUNSFIELD[label] + rng.normal(0, 60, (48, 48))
                    relative = f"{label}/{part}{label}{patient}_s{slice_index:02d}.png"
                    (data / label).mkdir(parents=True, exist_ok=True)
                    stored = np.clip(hounsfield + UNSIGNED_HU_OFFSET, 0, 4000).astype(np.uint16)
                    Image.fromarray(stored).save(data / relative)
                    split[part].append({"path": relative, "label": label})
    return split


def make_trained_run(folder: Path, data: Path) -> Path:
    """Write runs/NAME (model.keras, settings.json, split.json) with a small trained contract model."""
    import keras

    from export.run_folder import load_part, read_run

    folder.mkdir(parents=True)
    split = write_scans(data)
    settings = {
        "architecture": "simple_cnn",
        "image_size": IMAGE_SIZE,
        "data": str(data),
        "seed": 0,
        "window_width": 1500.0,
        "window_level": -600.0,
    }
    (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    (folder / "split.json").write_text(json.dumps(split), encoding="utf-8")
    keras.utils.set_random_seed(0)
    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), dtype="uint8", name="image")
    features = keras.layers.Rescaling(1 / 255)(image)
    features = keras.layers.Conv2D(8, 3, activation="relu")(features)
    features = keras.layers.GlobalAveragePooling2D()(features)
    probabilities = keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name="probabilities")(features)
    model = keras.Model(image, probabilities)
    model.save(folder / "model.keras")  # read_run needs the file before the training scans can be loaded
    images, labels = load_part(read_run(folder), "train")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=60, batch_size=32, verbose=0)
    model.save(folder / "model.keras")
    return folder


def export_versions(run: Path, repository: Path) -> Path:
    """Export the run twice into ``repository``: version 1 fp32, version 2 int8."""
    from export.exporter import export_run
    from export.settings import ExportSettings

    for precision in ("fp32", "int8"):
        settings = ExportSettings(
            model_name=MODEL_NAME,
            precision=precision,
            max_batch_size=8,
            queue_delay_us=2000,
            force=True,
            parity_samples=4,
            calibration_samples=16,
        )
        export_run(run, repository, settings, command=f"test export {precision}")
    return repository


@pytest.fixture(scope="session")
def bench_repository(tmp_path_factory) -> Path:
    """A model repository with `inceptionv3` version 1 (fp32) and 2 (int8) of a tiny trained run."""
    root = tmp_path_factory.mktemp("bench_run")
    run = make_trained_run(root / "runs" / "tiny", root / "data")
    return export_versions(run, root / "model_repository")
