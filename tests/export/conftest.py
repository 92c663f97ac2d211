"""The export tests' own fixture: the shared tiny run's accuracy (see ``tests/conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_run_accuracy(tiny_run) -> float:
    """The tiny model's own Keras accuracy on its test split (the trained model must be useful)."""
    import keras

    from training.run_folder import read_run

    images, labels = read_run(tiny_run).load_part("test")
    model = keras.saving.load_model(tiny_run / "model.keras")
    return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == labels))
