"""A tiny but real training run folder for the export tests.

The scans are 16-bit PNGs in HU + 1024 (read by the real imaging readers); each class has its own
lung attenuation, so a tiny contract model learns them in seconds and accuracy checks mean something.
The model follows the contract: uint8 ``image`` (32, 32, 1) -> Rescaling -> conv -> softmax(4).
"""

from __future__ import annotations

import csv
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
SCAN_SIDE = 48
# Mean lung attenuation per class, far apart inside the lung window so the tiny model can learn it.
CLASS_HOUNSFIELD = {"NT": -1200.0, "CLE": -900.0, "PSE": -600.0, "PLE": -300.0}
PATIENTS = {"train": 4, "test": 2}
SLICES_PER_PATIENT = 2


def write_scans(data: Path, seed: int = 0) -> dict[str, list[dict[str, str]]]:
    """Write PNG scans and manifest.csv; return split part -> [{"path", "label"}] (paths relative)."""
    rng = np.random.default_rng(seed)
    split: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
    rows = []
    for part, patients in PATIENTS.items():
        for label in CLASS_NAMES:
            for patient in range(patients):
                patient_id = f"{part}{label}{patient}"
                for slice_index in range(SLICES_PER_PATIENT):
                    hounsfield = CLASS_HOUNSFIELD[label] + rng.normal(0, 60, (SCAN_SIDE, SCAN_SIDE))
                    stored = np.clip(hounsfield + UNSIGNED_HU_OFFSET, 0, 4000).astype(np.uint16)
                    relative = f"{label}/{patient_id}_s{slice_index:02d}.png"
                    (data / label).mkdir(parents=True, exist_ok=True)
                    Image.fromarray(stored).save(data / relative)
                    split[part].append({"path": relative, "label": label})
                    rows.append({"path": relative, "label": label, "patient_id": patient_id, "severity": ""})
    with (data / "manifest.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["path", "label", "patient_id", "severity"])
        writer.writeheader()
        writer.writerows(rows)
    return split


def build_contract_model(image_size: int = IMAGE_SIZE, seed: int = 0):
    """The smallest model that follows the contract (uint8 image in, 4 softmax probabilities out)."""
    import keras

    keras.utils.set_random_seed(seed)
    image = keras.Input((image_size, image_size, 1), dtype="uint8", name="image")
    features = keras.layers.Rescaling(1 / 255)(image)
    features = keras.layers.Conv2D(8, 3, activation="relu")(features)
    features = keras.layers.GlobalAveragePooling2D()(features)
    probabilities = keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name="probabilities")(features)
    return keras.Model(image, probabilities, name="tiny_contract")


def write_training_split(path: Path, data: Path, split: dict) -> None:
    """split.json exactly as training writes it (training.runs.save_split: paths, no labels)."""
    from imaging.dataset import read_dataset
    from training.runs import save_split

    samples = read_dataset(data)
    position = {
        sample.path.resolve().relative_to(data.resolve()).as_posix(): i for i, sample in enumerate(samples)
    }
    indices = {part: [position[entry["path"]] for entry in entries] for part, entries in split.items()}
    save_split(path, samples, indices, data)


def make_run(folder: Path, data: Path, split: dict, train: bool = True):
    """Write model.keras, settings.json and split.json like `emphysema train` does."""
    from export.run_folder import load_part, read_run

    folder.mkdir(parents=True)
    settings = {
        "architecture": "simple_cnn",
        "image_size": IMAGE_SIZE,
        "data": str(data),
        "seed": 0,
        "window_width": 1500.0,
        "window_level": -600.0,
    }
    (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    write_training_split(folder / "split.json", data, split)
    model = build_contract_model()
    model.save(folder / "model.keras")  # the untrained model first, so read_run accepts the folder
    if train:
        import keras

        images, labels = load_part(read_run(folder), "train")
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
        model.fit(images, labels, epochs=60, batch_size=32, verbose=0)
    model.save(folder / "model.keras")
    return model


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A trained tiny run folder (runs/NAME layout) with its data folder beside it."""
    root = tmp_path_factory.mktemp("export_run")
    split = write_scans(root / "data")
    make_run(root / "runs" / "tiny", root / "data", split)
    return root / "runs" / "tiny"


@pytest.fixture(scope="session")
def tiny_run_accuracy(tiny_run) -> float:
    """The tiny model's own Keras accuracy on its test split (the trained model must be useful)."""
    import keras

    from export.run_folder import load_part, read_run

    images, labels = load_part(read_run(tiny_run), "test")
    model = keras.saving.load_model(tiny_run / "model.keras")
    return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == labels))


@pytest.fixture(scope="session", name="build_contract_model")
def build_contract_model_fixture():
    """The contract model builder, for tests that need a model of their own size."""
    return build_contract_model
